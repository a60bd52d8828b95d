"""Loket settings, read from the environment.

Every setting a deployment changes comes from an environment variable; a wrong value stops the
process with a one-line message (``ImproperlyConfigured``), never a traceback from deep inside.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from config.env import (
    env_bool,
    env_fake_now,
    env_int,
    env_limit,
    env_list,
    env_networks,
    env_rate,
    env_urls,
)

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = env_bool("LOKET_DEBUG", False)

SECRET_KEY = os.environ.get("LOKET_SECRET_KEY", "")
_dev_secret_file = os.environ.get("LOKET_DEV_SECRET_FILE", "")
if not SECRET_KEY:
    if DEBUG or _dev_secret_file:
        # Local development: a random key kept in a file outside version control, so sessions and
        # applicant tokens survive a restart of `make run`.
        key_file = Path(_dev_secret_file or str(BASE_DIR / "var" / "secret"))
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

ALLOWED_HOSTS = env_list("LOKET_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("LOKET_CSRF_TRUSTED_ORIGINS", [])

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
# -1: not set (60 s without the pool; with the pool only 0 is allowed, see the end).
_conn_max_age = env_int("LOKET_DB_CONN_MAX_AGE", -1)
if _database_url:
    try:
        _db: dict[str, Any] = dict(
            dj_database_url.parse(
                _database_url, conn_max_age=60 if _conn_max_age == -1 else _conn_max_age
            )
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
_redis_prefix = os.environ.get("LOKET_REDIS_PREFIX", "loket")
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
            "BACKEND": "consult.events.layer.LoketRedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": _REDIS_BLOCKING_POP
                        + env_int("LOKET_REDIS_READ_MARGIN", 10, minimum=1),
                        "socket_connect_timeout": env_int(
                            "LOKET_REDIS_CONNECT_TIMEOUT", 2, minimum=1
                        ),
                        # A pooled connection idle this long is PINGed before use, so one that a
                        # restarted Redis closed is replaced instead of failing the next command.
                        "health_check_interval": 15,
                        "socket_keepalive": True,
                        # Per process: commands beyond this wait (up to pool_timeout) for a free
                        # connection instead of failing, so a reconnect storm queues briefly.
                        "max_connections": env_int("LOKET_REDIS_MAX_CONNECTIONS", 50, minimum=4),
                        "pool_timeout": 5,
                        "retries": 1,
                    }
                ],
                "prefix": _redis_prefix,
                # Messages waiting per channel before new ones are dropped (and recovered from
                # the database by the consumer's resync).
                "capacity": env_int("LOKET_CHANNEL_CAPACITY", 1000, minimum=1),
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
# Secure cookies, HSTS and TLS: see the guard block at the end.

_log_level = os.environ.get("LOKET_LOG_LEVEL", "") or "INFO"
if _log_level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOKET_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {_log_level!r}"
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "filters": {
        # channels_redis logs every group send into a full channel; once a minute is enough.
        "once_a_minute": {"()": "consult.events.layer.OncePerPeriod", "period": 60},
    },
    "root": {"handlers": ["console"], "level": _log_level},
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
    "OFFER_TIMEOUT": env_int("LOKET_OFFER_TIMEOUT", 20, minimum=1),
    # An unanswered call request lapses after this long.
    "CALL_REQUEST_TIMEOUT": env_int("LOKET_CALL_REQUEST_TIMEOUT", 60, minimum=5),
    "COUNSELOR_GRACE": env_int("LOKET_COUNSELOR_GRACE", 30, minimum=0),
    "APPLICANT_GRACE": env_int("LOKET_APPLICANT_GRACE", 60, minimum=0),
    "CONNECTION_LEASE": env_int("LOKET_CONNECTION_LEASE", 15, minimum=2),
    # While the channel layer is down, each connection re-reads what its client is missing from
    # the database this often (give or take a quarter, so connections do not poll in step).
    "LAYER_POLL": float(env_int("LOKET_LAYER_POLL_MS", 2000, minimum=100)) / 1000,
    # Each process reads the delivery marks of every consultation it follows this often
    # (signaling/marks.py), so a ping can be answered without the database.
    "MARKS_POLL": float(env_int("LOKET_MARKS_POLL_MS", 2000, minimum=50)) / 1000,
    "SWEEP_INTERVAL": float(env_int("LOKET_SWEEP_INTERVAL_MS", 1000, minimum=50)) / 1000,
    "DECLINE_COOLDOWN": env_int("LOKET_DECLINE_COOLDOWN", 30, minimum=0),
    # A video consultation waiting this long keeps the next counselor to free fully (no new chats
    # for them); until then chats may pass it while nobody could take it.
    "VIDEO_RESERVE_AFTER": env_int("LOKET_VIDEO_RESERVE_AFTER", 120, minimum=0),
    "DEFAULT_CAPACITY": env_int("LOKET_DEFAULT_CAPACITY", 3, minimum=1),
    "TOKEN_MAX_AGE": env_int("LOKET_TOKEN_MAX_AGE", 12 * 3600, minimum=60),
    "AUTH_TIMEOUT": env_int("LOKET_AUTH_TIMEOUT", 10, minimum=1),
    "MAX_TEXT": 4000,
    # A full garbage collection that holds a serving process this long or longer is logged
    # (consult/collector.py); 0: never.
    "GC_LOG_MS": env_int("LOKET_GC_LOG_MS", 250, minimum=0),
    # A serving process runs no automatic full garbage collection, but one of its own every
    # GC_FULL_S seconds (0: Python's own rules) (consult/collector.py).
    "GC_FULL_S": env_int("LOKET_GC_FULL_S", 3600, minimum=0),
    # PostgreSQL connections per process for the chat append on the event loop
    # (consult/loop_db.py); 0: every message goes through the database thread.
    "DB_LOOP_POOL_SIZE": env_int("LOKET_DB_LOOP_POOL_SIZE", 4, minimum=0),
    "MAX_FRAME_BYTES": 64 * 1024,
    # Per connection. Raised only by the relay benchmark (bench/relay.py), which sends thousands
    # of messages from one connection.
    "CHAT_RATE": env_rate("LOKET_CHAT_RATE", (20, 10.0)),
    "FRAME_RATE": env_rate("LOKET_FRAME_RATE", (200, 10.0)),
    "HANDLING_SAMPLE": 20,
    "DEFAULT_HANDLING_SECONDS": env_int("LOKET_DEFAULT_HANDLING_SECONDS", 300, minimum=1),
    # How many waiting consultations a queue.snapshot lists (the rest are counted): no frame
    # grows with the queue (each listed one is ~0.2 KB; the maximum stays far under 1 MiB).
    "QUEUE_SNAPSHOT_ITEMS": env_int("LOKET_QUEUE_SNAPSHOT_ITEMS", 50, minimum=1, maximum=1000),
    # A topic's queue is read and published at most once per this many seconds per process
    # (its first change after a quiet spell at once): consult/events/queue_fanout.py.
    "QUEUE_COALESCE": float(env_int("LOKET_QUEUE_COALESCE_MS", 100, minimum=0, maximum=10_000))
    / 1000,
    "RUN_SWEEPER": env_bool("LOKET_SWEEPER", True),
    "RUN_RUNTIME": env_bool("LOKET_RUNTIME", True),
    # Outside office hours (consult/hours.py) joining the queue is refused with office_closed.
    "ENFORCE_HOURS": env_bool("LOKET_ENFORCE_HOURS", True),
    # A test and demo aid: the office-hours clock stands still at this instant (ISO 8601 with an
    # offset). Only office hours read it; every other deadline keeps the real clock.
    "FAKE_NOW": env_fake_now("LOKET_FAKE_NOW"),
}
# Answers to offline questions go out by e-mail. The default keeps each one as a file in var/mail
# (a directory only the server's user can read) and logs only that one was kept: the console
# backend would print the applicant's address, name and question into the server log.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "consult.mail.PrivateFileBackend")
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Loket <loket@localhost>")

# --- Video: ICE servers for browsers (consult/rtc/turn.py, docs/VIDEO.md) and the pre-call check
# (consult/rtc/precheck.py) ---
LOKET["STUN_URLS"] = env_urls("LOKET_STUN_URLS", ("stun:", "stuns:"))
LOKET["TURN_URLS"] = env_urls("LOKET_TURN_URLS", ("turn:", "turns:"))
# coturn's static-auth-secret; TURN credentials are minted from it, valid TURN_TTL_SECONDS.
LOKET["TURN_SECRET"] = os.environ.get("LOKET_TURN_SECRET", "")
LOKET["TURN_TTL_SECONDS"] = env_int("LOKET_TURN_TTL_SECONDS", 300, minimum=60)
if LOKET["TURN_URLS"] and not LOKET["TURN_SECRET"]:
    raise ImproperlyConfigured("LOKET_TURN_URLS is set but LOKET_TURN_SECRET is empty")
# Host candidates the server's own aiortc peers offer (empty: every non-loopback interface).
LOKET["ICE_HOST_ADDRESSES"] = env_list("LOKET_ICE_HOST_ADDRESSES", [])
# Pre-call checks running at once in this process (each decodes and re-encodes video), and how
# long one may run.
LOKET["PRECHECK_MAX_CONCURRENT"] = env_int("LOKET_PRECHECK_MAX_CONCURRENT", 4, minimum=1)
LOKET["PRECHECK_MAX_SECONDS"] = env_int("LOKET_PRECHECK_MAX_SECONDS", 30, minimum=1)
# Printed once Daphne listens (`make run` sets it; consult/runtime.py).
LOKET["READY_MESSAGE"] = os.environ.get("LOKET_READY_MESSAGE", "")

# Records (docs/RECORDS.md). The office's Ed25519 signing key, generated on first use into this
# file unless it exists (every process of an instance must read the same file); the log's origin
# names the office in every statement and checkpoint.
LOKET["SIGNING_KEY_FILE"] = os.environ.get(
    "LOKET_SIGNING_KEY_FILE",
    str(Path(os.environ.get("LOKET_DATA_DIR", str(BASE_DIR / "var"))) / "signing-key.pem"),
)
LOKET["LOG_ORIGIN"] = os.environ.get("LOKET_LOG_ORIGIN", "loket.invalid/records")
if not LOKET["LOG_ORIGIN"] or any(c.isspace() or c == "+" for c in LOKET["LOG_ORIGIN"]):
    raise ImproperlyConfigured("LOKET_LOG_ORIGIN must be a name without spaces or '+'.")
# The sweeper signs a new checkpoint when the log has grown and the last is this old (seconds).
LOKET["CHECKPOINT_INTERVAL"] = env_int("LOKET_CHECKPOINT_INTERVAL", 60, minimum=1)


# --- Abuse limits: client address, rate limits, login lockout (consult/guard/address.py,
# consult/guard/throttle.py, consult/guard/lockout.py; README "Abuse limits") ---


# Requests from these addresses (reverse proxies) have their X-Forwarded-For read; from anyone
# else the header is ignored.
LOKET["TRUSTED_PROXIES"] = env_networks("LOKET_TRUSTED_PROXIES")
LOKET["LIMITS"] = {
    "JOIN_PER_ADDRESS": env_limit("LOKET_JOIN_LIMIT_ADDRESS", (20, 600)),
    "JOIN_PER_CONTACT": env_limit("LOKET_JOIN_LIMIT_CONTACT", (6, 600)),
    "OFFLINE_PER_ADDRESS": env_limit("LOKET_OFFLINE_LIMIT_ADDRESS", (10, 3600)),
    "OFFLINE_PER_CONTACT": env_limit("LOKET_OFFLINE_LIMIT_CONTACT", (3, 3600)),
}
# The counters live in Django's cache. With REDIS_URL every process shares them in Redis; without
# it Loket runs as one process (the in-memory channel layer allows no other), so that process's
# memory is shared by everything that counts.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": _redis_prefix + ":cache",
            # A Redis that does not answer must not hold up a join for long: the limits fail
            # open (consult/guard/throttle.py).
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
RATELIMIT_USE_CACHE = "default"
RATELIMIT_CACHE_PREFIX = "loket-rl:"

# Staff login throttling (django-axes): after LOKET_LOGIN_FAILURE_LIMIT wrong passwords for one
# username from one client address, that pair is refused for LOKET_LOGIN_COOLOFF seconds. The
# same user from another address, and everyone after the cool-off, can still log in.
INSTALLED_APPS.append("axes")
MIDDLEWARE.append("axes.middleware.AxesMiddleware")
AUTHENTICATION_BACKENDS = [
    "consult.guard.lockout.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOKET_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("LOKET_LOGIN_COOLOFF", 900, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# More wrong passwords during the lockout do not extend it: it ends LOKET_LOGIN_COOLOFF after
# it began, whatever an attacker keeps sending.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "consult.guard.lockout.login_client_address"
AXES_CLIENT_STR_CALLABLE = "consult.guard.lockout.client_label"
AXES_LOCKOUT_CALLABLE = "consult.guard.lockout.lockout_response"
# Failed attempts (username, address, time) are kept only while they count, and shown in the
# admin; successful logins are not recorded.
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
# A cache that does not answer lets requests through (consult/guard/throttle.py says why).
RATELIMIT_FAIL_OPEN = True
# Axes says at INFO that it started and each failure it counts: noise. Its warnings (lockouts)
# name a client only by a keyed hash (consult/guard/lockout.py).
_loggers: dict[str, Any] = LOGGING["loggers"]  # type: ignore[assignment]
_loggers["axes"] = {"level": "WARNING"}

# --- guard: staff sessions, TLS and headers, WebSocket origins, database pool ---
# (one block, so that other parts of the settings can change without touching this one)

# A staff socket re-checks its session this often when idle, and before a frame when its last
# check is older than SESSION_FRAME_RECHECK (signaling/session_guard.py).
LOKET["SESSION_RECHECK"] = env_int("LOKET_SESSION_RECHECK", 30, minimum=1)
LOKET["SESSION_FRAME_RECHECK"] = env_int("LOKET_SESSION_FRAME_RECHECK", 5, minimum=0)

# LOKET_TLS: the public site is https:// (Daphne's own TLS endpoint or a proxy in front).
# LOKET_BEHIND_TLS_PROXY: TLS ends at a reverse proxy that sets X-Forwarded-Proto: https and
# strips any X-Forwarded-Proto the client sent; implies LOKET_TLS.
_behind_tls_proxy = env_bool("LOKET_BEHIND_TLS_PROXY", False)
LOKET["TLS"] = env_bool("LOKET_TLS", False) or _behind_tls_proxy
if _behind_tls_proxy:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("LOKET_SECURE_COOKIES", LOKET["TLS"])
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("LOKET_SSL_REDIRECT", LOKET["TLS"])
SECURE_HSTS_SECONDS = env_int("LOKET_HSTS_SECONDS", 31536000 if LOKET["TLS"] else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("LOKET_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("LOKET_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Preloading is the registrable domain owner's decision (hstspreload.org accepts only
    # registrable domains, and leaving the list takes months); Loket does not make it for them.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): the pages load only Loket's own scripts, styles and
# images; WebSockets go to this same host ('self' covers ws:/wss: to it in CSP Level 3 browsers).
# Camera and microphone streams are attached with srcObject, which CSP does not govern.
INSTALLED_APPS.append("csp")
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "csp.middleware.CSPMiddleware",
)
MIDDLEWARE.append("consult.guard.middleware.NoStoreMiddleware")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "media-src": ["'self'", "blob:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# WebSocket origins (signaling/origin.py): a browser's Origin must equal the site's own origin
# (scheme from LOKET_TLS, host and port from the request) or be listed here in full.
LOKET["ALLOWED_ORIGINS"] = env_list("LOKET_ALLOWED_ORIGINS", [])
for _origin in LOKET["ALLOWED_ORIGINS"]:
    _parsed = urlparse(_origin)
    if (
        _parsed.scheme not in {"http", "https"}
        or not _parsed.netloc
        or _parsed.path not in {"", "/"}
    ):
        raise ImproperlyConfigured(
            f"LOKET_ALLOWED_ORIGINS entries look like https://loket.example.go.id, got {_origin!r}"
        )

# PostgreSQL: one connection pool per process instead of one persistent connection per request
# thread, so a process never holds more than LOKET_DB_POOL_MAX_SIZE backends.
if _db["ENGINE"] == "django.db.backends.postgresql" and env_bool("LOKET_DB_POOL", True):
    if _conn_max_age not in {-1, 0}:
        raise ImproperlyConfigured("LOKET_DB_CONN_MAX_AGE must be 0 with LOKET_DB_POOL on")
    _pool_max = env_int("LOKET_DB_POOL_MAX_SIZE", 10, minimum=1)
    _pool_min = env_int("LOKET_DB_POOL_MIN_SIZE", 0)
    if _pool_min > _pool_max:
        raise ImproperlyConfigured("LOKET_DB_POOL_MIN_SIZE must not exceed LOKET_DB_POOL_MAX_SIZE")
    _db["CONN_MAX_AGE"] = 0
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": _pool_min,
        "max_size": _pool_max,
        # A request waits this long for a free connection, then fails (500, logged) instead of
        # queueing without end.
        "timeout": float(env_int("LOKET_DB_POOL_TIMEOUT", 10, minimum=1)),
    }
    # A pooled connection is checked (one empty round trip) before it is handed out (Django
    # passes psycopg-pool's check_connection for this): after PostgreSQL terminated the backends
    # (a restart, a failover, pg_terminate_backend) every idle pooled connection is dead, and
    # without the check each retry of a refused frame would draw the next dead one.
    _db["CONN_HEALTH_CHECKS"] = True
    # The lease renewal (consult/runtime.py) gets a connection of its own, outside that pool: a
    # burst of requests holding every pooled connection must not delay renewals past the lease,
    # or other processes' sweepers would reap this process's live sockets.
    DATABASES["lease"] = {
        **_db,
        "OPTIONS": {
            **_db["OPTIONS"],
            "pool": {**_db["OPTIONS"]["pool"], "min_size": 1, "max_size": 1},
        },
        "TEST": {"MIRROR": "default"},
    }
# The alias the runtime renews leases through ("default" where there is no pool to stay out of).
LOKET["LEASE_DB"] = "lease" if "lease" in DATABASES else "default"
