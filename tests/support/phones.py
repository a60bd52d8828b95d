"""Phone numbers for the applicants a test signs up.

One contact may hold only one open consultation, and most tests want several applicants, so every
applicant of a test run gets a number no other one has: ``new_phone`` as an API client sends it,
``form_phone`` as people type it into the join form (with spaces). Both count from one counter.
"""

from __future__ import annotations

import itertools

_numbers = itertools.count(1)


def new_phone() -> str:
    """A phone number no other applicant of this test run has, as digits."""
    return f"0812{next(_numbers):08d}"


def form_phone() -> str:
    """A phone number no other applicant of this test run used, as typed into the join form."""
    n = next(_numbers)
    return f"0812 {3456 + n // 10000:04d} {n % 10000:04d}"
