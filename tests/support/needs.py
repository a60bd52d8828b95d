"""Which real services a test needs, and what happens when one is missing.

Outside CI a missing PostgreSQL, Redis or Chromium skips the tests that need it, with the reason
(``make test`` runs pytest with ``-rs`` so the reasons are printed). Under CI (``CI=true``) the
same situation fails the test: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("LOKET_CHROMIUM", "/usr/bin/chromium")


def missing(reason: str) -> None:
    """Skip (locally) or fail (in CI) the current test because a service is missing."""
    if IN_CI:
        pytest.fail(f"CI needs this and it is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def reachable(url: str, default_port: int) -> bool:
    """Whether a TCP connection to the URL's host and port opens within 2 s."""
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 2
        ):
            return True
    except OSError:
        return False


def postgres_url() -> str:
    """The PostgreSQL URL the suite runs against, or skip/fail."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        missing("PostgreSQL: DATABASE_URL is not a postgres:// URL")
    if not reachable(url, 5432):
        missing(f"PostgreSQL: cannot reach {urlparse(url).hostname}:{urlparse(url).port or 5432}")
    return url


def redis_url() -> str:
    """The Redis URL the suite uses, or skip/fail."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        missing("Redis: REDIS_URL is not set")
    if not reachable(url, 6379):
        missing(f"Redis: cannot reach {urlparse(url).hostname}:{urlparse(url).port or 6379}")
    return url


def chromium_path() -> str:
    """Debian's Chromium for browser tests, or skip/fail."""
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        missing(f"Chromium: {CHROMIUM} is not installed (apt-get install -y chromium)")
    return CHROMIUM


def redis_server_path() -> str:
    """The ``redis-server`` binary, for tests that start (and stop) a Redis of their own."""
    path = shutil.which("redis-server")
    if path is None:
        missing("redis-server is not installed (apt-get install -y redis-server)")
    return str(path)
