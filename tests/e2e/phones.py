"""Phone numbers for applicants the browser tests sign up.

One contact may hold only one open consultation, so every applicant a walk signs up needs a
number of its own; they are written as people type them (with spaces).
"""

from __future__ import annotations

import itertools

_numbers = itertools.count(1)


def form_phone() -> str:
    """A phone number no other applicant of this test run used, as typed into the join form."""
    n = next(_numbers)
    return f"0812 {3456 + n // 10000:04d} {n % 10000:04d}"
