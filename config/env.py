"""Parsers for the environment variables config/settings.py reads: each returns the value or
raises ``ImproperlyConfigured`` naming the variable, so a wrong value stops start-up with one
line. Only config/settings.py calls them."""

from __future__ import annotations

import ipaddress
import os
from datetime import datetime

from django.core.exceptions import ImproperlyConfigured


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, got {value}")
    return value


def env_rate(name: str, default: tuple[int, float]) -> tuple[int, float]:
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


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_urls(name: str, schemes: tuple[str, ...]) -> list[str]:
    """A comma-separated list of URLs, each starting with one of ``schemes``."""
    urls = env_list(name, [])
    for url in urls:
        if not url.lower().startswith(schemes):
            raise ImproperlyConfigured(
                f"{name} entries must start with {' or '.join(schemes)}, got {url!r}"
            )
    return urls


def env_fake_now(name: str) -> datetime | None:
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


def env_limit(name: str, default: tuple[int, int]) -> tuple[int, int]:
    """A limit written "COUNT/SECONDS" (e.g. "20/600"): at most COUNT in a window of SECONDS."""
    count, seconds = env_rate(name, (default[0], float(default[1])))
    if seconds != int(seconds):
        raise ImproperlyConfigured(f"{name} must count whole seconds (e.g. 20/600), got {seconds}")
    return count, int(seconds)


def env_networks(name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Addresses and CIDR blocks, comma-separated (``10.0.0.0/8,::1``)."""
    try:
        return tuple(ipaddress.ip_network(v, strict=False) for v in env_list(name, []))
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must list addresses or CIDR blocks: {exc}") from None
