"""Test-run environment, loaded as a plugin (-p tests.env) before Django reads its settings."""

import os
import uuid

os.environ.setdefault("LOKET_SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
# Tests drive deadlines explicitly (sweep_due); the per-process background loop would race them.
os.environ.setdefault("LOKET_RUNTIME", "0")
# Each run gets its own Redis key prefix, so runs on one Redis never see each other's messages.
os.environ.setdefault("LOKET_REDIS_PREFIX", f"loket-test-{uuid.uuid4().hex[:8]}")
