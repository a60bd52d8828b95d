"""The suite's shared fixtures, each defined once in tests/support/ and registered here.

- tests.support.staff: ``fast_passwords`` (autouse: the MD5 hasher, as staff are made per test)
- tests.support.processes: ``migrated_template``, ``e2e_database``, ``shared_redis``, ``log_dir``
  and the hook that attaches child-process logs to a failed test's report
- tests.support.browser: ``server`` (a browser walk's Daphne with sari and dewi) and ``browser``
  (Chromium)
- tests.support.background: ``background_reads_settled`` (autouse: no background read of the
  process still runs when a test's database is emptied)
- here: ``django_db_setup``, pytest-django's own, which also closes the long-lived threads'
  database connections (``close_background_connections``) before it drops the test databases

Fixtures only tests/consult uses (a topic and its counselor, aiortc client peers) are in
tests/consult/conftest.py; the fault suite's (its Redis, an ``Office``) in tests/faults/conftest.py.

The test-run environment is set earlier, by the ``-p tests.env`` plugin (pyproject.toml), before
Django reads its settings; which real services a test needs and what happens when one is missing
is tests.support.needs.
"""

from collections.abc import Iterator

import pytest

pytest_plugins = [
    "tests.support.staff",
    "tests.support.processes",
    "tests.support.browser",
    "tests.support.background",
]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None) -> Iterator[None]:
    # Overrides pytest-django's by name, so it runs only when a test uses the database.
    yield
    # Imported here: a plugin module imported before pytest registers it is not assertion-rewritten.
    from tests.support.background import close_background_connections

    close_background_connections()
