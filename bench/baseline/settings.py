"""Django settings for the BASELINE relay: Channels + core Redis layer (layer.py), no more."""

from __future__ import annotations

import os

SECRET_KEY = "bench-baseline-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "bench.baseline.layer.BlockingPoolLayer",
        "CONFIG": {
            "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")],
            # Distinct prefix so the benchmark never collides with Loket's own keys.
            "prefix": os.environ.get("BENCH_REDIS_PREFIX", "loket-bench-baseline"),
        },
    }
}
