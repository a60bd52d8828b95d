"""Loket settings, read from the environment.

Every setting a deployment changes comes from an environment variable; a wrong value stops the
process with a one-line message (``ImproperlyConfigured``), never a traceback from deep inside.
"""

from __future__ import annotations

import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def _env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    return value


def _env_rate(name: str, default: tuple[int, float]) -> tuple[int, float]:
    """A rate limit written "COUNT/SECONDS" (e.g. "20/10"): at most COUNT events in SECONDS."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    count, sep, seconds = raw.partition("/")
    try:
        value = (int(count), float(seconds))
    except ValueError:
        value = (0, 0.0)
    if not sep or value[0] < 1 or not 0 < value[1] < 86400:
        raise ImproperlyConfigured(f"{name} must look like 20/10 (count/seconds), got {raw!r}")
    return value


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def _env_fake_now(name: str) -> datetime | None:
    raw = os.environ.get(name, "")
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise ImproperlyConfigured(
            f"{name} must be an ISO 8601 time with an offset (2026-03-06T18:00:00+07:00), "
            f"got {raw!r}"
        )
    return value


DEBUG = _env_bool("LOKET_DEBUG", False)

SECRET_KEY = os.environ.get("LOKET_SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or os.environ.get("LOKET_DEV_SECRET_FILE"):
        # Local development: a random key kept in a file outside version control, so sessions and
        # applicant tokens survive a restart of `make run`.
        key_file = Path(os.environ.get("LOKET_DEV_SECRET_FILE", str(BASE_DIR / "var" / "secret")))
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(50))
            key_file.chmod(0o600)
        SECRET_KEY = key_file.read_text().strip()
    else:
        raise ImproperlyConfigured(
            "LOKET_SECRET_KEY is not set. Set it to a long random string "
            "(or set LOKET_DEBUG=1 for local development)."
        )

ALLOWED_HOSTS = _env_list("LOKET_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = _env_list("LOKET_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "consult",
    "signaling",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "consult.locale.ChosenLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

_database_url = os.environ.get("DATABASE_URL", "")
if _database_url:
    try:
        _db: dict[str, Any] = dict(
            dj_database_url.parse(_database_url, conn_max_age=_env_int("LOKET_DB_CONN_MAX_AGE", 60))
        )
    except Exception as exc:  # dj_database_url raises several types for a bad URL
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
    if _db.get("ENGINE") not in {
        "django.db.backends.postgresql",
        "django.db.backends.sqlite3",
    }:
        raise ImproperlyConfigured("DATABASE_URL must be a postgres:// or sqlite:// URL")
else:
    _db = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("LOKET_SQLITE_PATH", str(BASE_DIR / "var" / "loket.sqlite3")),
    }
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE makes every transaction take the write lock up front, so two writers queue on the
    # busy timeout instead of failing with "database is locked" when one upgrades a read lock.
    _db["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    if not _database_url:
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
_db["ATOMIC_REQUESTS"] = False
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    _redis = urlparse(REDIS_URL)
    if _redis.scheme not in {"redis", "rediss", "unix"}:
        raise ImproperlyConfigured("REDIS_URL must be a redis:// URL")
    # channels_redis waits for its next message with a 5 s blocking pop (BZPOPMIN); the socket's
    # read timeout must be longer, or every idle process's receive times out and takes its
    # consumers down with it (redis-py 8's default read timeout is exactly 5 s). Connecting is
    # kept short instead: that is how an outage is noticed. See docs/ARCHITECTURE.md.
    _REDIS_BLOCKING_POP = 5
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "consult.channel_layer.LoketRedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": _REDIS_BLOCKING_POP
                        + _env_int("LOKET_REDIS_READ_MARGIN", 10, minimum=1),
                        "socket_connect_timeout": _env_int(
                            "LOKET_REDIS_CONNECT_TIMEOUT", 2, minimum=1
                        ),
                        # A pooled connection idle this long is PINGed before use, so one that a
                        # restarted Redis closed is replaced instead of failing the next command.
                        "health_check_interval": 15,
                        "socket_keepalive": True,
                        # Per process: commands beyond this wait (up to pool_timeout) for a free
                        # connection instead of failing, so a reconnect storm queues briefly.
                        "max_connections": _env_int("LOKET_REDIS_MAX_CONNECTIONS", 50, minimum=4),
                        "pool_timeout": 5,
                        "retries": 1,
                    }
                ],
                "prefix": os.environ.get("LOKET_REDIS_PREFIX", "loket"),
                # Messages waiting per channel before new ones are dropped (and recovered from
                # the database by the consumer's resync).
                "capacity": _env_int("LOKET_CHANNEL_CAPACITY", 1000, minimum=1),
                "expiry": 30,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/counselor/"

LANGUAGE_CODE = "id"
LANGUAGES = [("id", _("Indonesian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Jakarta"
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "static"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = _env_bool("LOKET_SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "filters": {
        # channels_redis logs every group send into a full channel; once a minute is enough.
        "once_a_minute": {"()": "consult.channel_layer.OncePerPeriod", "period": 60},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOKET_LOG_LEVEL", "INFO")},
    "loggers": {
        "channels_redis.core": {"filters": ["once_a_minute"]},
        # Daphne's access log would carry request paths; Loket keeps no personal data in paths,
        # but the access log is still noise at INFO.
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
    },
}

# --- Loket domain settings (seconds unless named otherwise) ---
LOKET: dict[str, Any] = {
    "OFFER_TIMEOUT": _env_int("LOKET_OFFER_TIMEOUT", 20, minimum=1),
    # An unanswered call request lapses after this long.
    "CALL_REQUEST_TIMEOUT": _env_int("LOKET_CALL_REQUEST_TIMEOUT", 60, minimum=5),
    "COUNSELOR_GRACE": _env_int("LOKET_COUNSELOR_GRACE", 30, minimum=0),
    "APPLICANT_GRACE": _env_int("LOKET_APPLICANT_GRACE", 60, minimum=0),
    "CONNECTION_LEASE": _env_int("LOKET_CONNECTION_LEASE", 15, minimum=2),
    # While the channel layer is down, each connection re-reads what its client is missing from
    # the database this often (give or take a quarter, so connections do not poll in step).
    "LAYER_POLL": float(_env_int("LOKET_LAYER_POLL_MS", 2000, minimum=100)) / 1000,
    "SWEEP_INTERVAL": float(_env_int("LOKET_SWEEP_INTERVAL_MS", 1000, minimum=50)) / 1000,
    "DECLINE_COOLDOWN": _env_int("LOKET_DECLINE_COOLDOWN", 30, minimum=0),
    "DEFAULT_CAPACITY": _env_int("LOKET_DEFAULT_CAPACITY", 3, minimum=1),
    "TOKEN_MAX_AGE": _env_int("LOKET_TOKEN_MAX_AGE", 12 * 3600, minimum=60),
    "AUTH_TIMEOUT": _env_int("LOKET_AUTH_TIMEOUT", 10, minimum=1),
    "MAX_TEXT": 4000,
    "MAX_FRAME_BYTES": 64 * 1024,
    # Per connection. Raised only by the relay benchmark (bench/relay.py), which sends thousands
    # of messages from one connection.
    "CHAT_RATE": _env_rate("LOKET_CHAT_RATE", (20, 10.0)),
    "FRAME_RATE": _env_rate("LOKET_FRAME_RATE", (200, 10.0)),
    "HANDLING_SAMPLE": 20,
    "DEFAULT_HANDLING_SECONDS": _env_int("LOKET_DEFAULT_HANDLING_SECONDS", 300, minimum=1),
    "RUN_SWEEPER": _env_bool("LOKET_SWEEPER", True),
    "RUN_RUNTIME": _env_bool("LOKET_RUNTIME", True),
    # Outside office hours (consult/hours.py) joining the queue is refused with office_closed.
    "ENFORCE_HOURS": _env_bool("LOKET_ENFORCE_HOURS", True),
    # A test and demo aid: the office-hours clock stands still at this instant (ISO 8601 with an
    # offset). Only office hours read it; every other deadline keeps the real clock.
    "FAKE_NOW": _env_fake_now("LOKET_FAKE_NOW"),
}
# Answers to offline questions go out by e-mail; the console backend prints them.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
if os.environ.get("EMAIL_FILE_PATH"):
    EMAIL_FILE_PATH = os.environ["EMAIL_FILE_PATH"]
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = _env_int("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Loket <loket@localhost>")

LOKET_STUN_URLS = _env_list("LOKET_STUN_URLS", [])
LOKET_TURN_URLS = _env_list("LOKET_TURN_URLS", [])
LOKET_TURN_SECRET = os.environ.get("LOKET_TURN_SECRET", "")
# Host candidates the server's own aiortc peers offer (empty: every non-loopback interface).
LOKET_ICE_HOST_ADDRESSES = _env_list("LOKET_ICE_HOST_ADDRESSES", [])
LOKET_TURN_TTL_SECONDS = _env_int("LOKET_TURN_TTL_SECONDS", 3600, minimum=60)
if LOKET_TURN_URLS and not LOKET_TURN_SECRET:
    raise ImproperlyConfigured("LOKET_TURN_URLS is set but LOKET_TURN_SECRET is empty")
