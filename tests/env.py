"""Test-run environment, loaded as a plugin (-p tests.env) before Django reads its settings."""

import os
import tempfile
import uuid

os.environ.setdefault("LOKET_SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
# Tests drive deadlines explicitly (sweep_due); the per-process background loop would race them.
os.environ.setdefault("LOKET_RUNTIME", "0")
# Database connections opened by the async worker thread close after each use, so the test
# database can be dropped at the end of a PostgreSQL run without waiting for them.
os.environ.setdefault("LOKET_DB_CONN_MAX_AGE", "0")
# The server's aiortc peers and the tests' own peers keep media on loopback.
os.environ.setdefault("LOKET_ICE_HOST_ADDRESSES", "127.0.0.1")
# Each run gets its own Redis key prefix, so runs on one Redis never see each other's messages.
os.environ.setdefault("LOKET_REDIS_PREFIX", f"loket-test-{uuid.uuid4().hex[:8]}")
# Office hours are off unless a test turns them on (settings.LOKET["ENFORCE_HOURS"]), so the suite
# passes at any hour; child processes inherit this (tests/support/servers.py sets it for its own).
os.environ.setdefault("LOKET_ENFORCE_HOURS", "0")
# The run's own data directory (the office's signing key); child processes inherit it.
os.environ.setdefault("LOKET_DATA_DIR", tempfile.mkdtemp(prefix="loket-test-data-"))
# The suite joins the queue and leaves offline questions hundreds of times from 127.0.0.1;
# tests/security/test_rate_limits.py sets the limits it tests itself.
for _limit in ("JOIN", "OFFLINE"):
    for _per in ("ADDRESS", "CONTACT"):
        os.environ.setdefault(f"LOKET_{_limit}_LIMIT_{_per}", "100000/600")
