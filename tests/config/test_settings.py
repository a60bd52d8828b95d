"""Settings: every environment variable is read and validated once, in config/settings.py.

A wrong value stops start-up with a message naming the variable; code reads ``settings.LOKET``
with plain lookups; the README's settings table lists exactly what config/settings.py reads.
"""

from __future__ import annotations

import re
import runpy
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django import Settings

from consult.rtc.turn import ice_servers_for

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_FILE = ROOT / "config" / "settings.py"
# The parsers settings.py reads the environment with (and nothing else calls).
ENV_FILE = ROOT / "config" / "env.py"


def _start_up(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    """Run config/settings.py afresh with ``env`` on top of this process's environment (an empty
    value unsets the variable) and return its names, as Django would see them at start-up."""
    for name, value in env.items():
        if value:
            monkeypatch.setenv(name, value)
        else:
            monkeypatch.delenv(name, raising=False)
    return runpy.run_path(str(SETTINGS_FILE))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOKET_OFFER_TIMEOUT", "soon"),
        ("LOKET_OFFER_TIMEOUT", "0"),
        ("LOKET_DECLINE_COOLDOWN", "-1"),
        ("LOKET_AUTH_TIMEOUT", "0"),
        ("LOKET_CHAT_RATE", "20"),
        ("LOKET_FRAME_RATE", "0/10"),
        ("LOKET_SWEEP_INTERVAL_MS", "10"),
        ("LOKET_DEFAULT_HANDLING_SECONDS", "0"),
        ("LOKET_QUEUE_SNAPSHOT_ITEMS", "0"),
        ("LOKET_QUEUE_SNAPSHOT_ITEMS", "5000"),
        ("LOKET_VIDEO_RESERVE_AFTER", "two minutes"),
        ("LOKET_ENFORCE_HOURS", "maybe"),
        ("LOKET_FAKE_NOW", "2026-03-06T18:00:00"),
        ("LOKET_TURN_TTL_SECONDS", "10"),
        ("LOKET_PRECHECK_MAX_CONCURRENT", "0"),
        ("LOKET_PRECHECK_MAX_SECONDS", "half a minute"),
        ("LOKET_STUN_URLS", "turn:turn.example.test"),
        ("LOKET_TURN_URLS", "stun:stun.example.test"),
        ("LOKET_TRUSTED_PROXIES", "proxy.example.test"),
        ("LOKET_JOIN_LIMIT_ADDRESS", "20/0.5"),
        ("LOKET_ALLOWED_ORIGINS", "portal.example.go.id"),
        ("LOKET_DB_CONN_MAX_AGE", "-5"),
        ("LOKET_LOG_LEVEL", "loud"),
    ],
)
def test_an_invalid_value_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    with pytest.raises(ImproperlyConfigured, match=name):
        _start_up(monkeypatch, **{name: value})


def test_turn_urls_without_a_secret_stop_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured, match="LOKET_TURN_SECRET"):
        _start_up(monkeypatch, LOKET_TURN_URLS="turn:turn.example.test", LOKET_TURN_SECRET="")


def test_urls_of_the_wrong_scheme_stop_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ImproperlyConfigured, match="LOKET_STUN_URLS"):
        _start_up(monkeypatch, LOKET_STUN_URLS="turn:turn.example.test", LOKET_TURN_URLS="")


def test_with_nothing_configured_there_are_no_ice_servers(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    env = {"LOKET_STUN_URLS": "", "LOKET_TURN_URLS": "", "LOKET_TURN_SECRET": ""}
    loket = _start_up(monkeypatch, **env)["LOKET"]
    assert (loket["STUN_URLS"], loket["TURN_URLS"], loket["TURN_TTL_SECONDS"]) == ([], [], 300)
    settings.LOKET = loket
    assert ice_servers_for(participant_id="p") == []


def test_valid_values_land_in_the_loket_dict(monkeypatch: pytest.MonkeyPatch) -> None:
    loket = _start_up(
        monkeypatch,
        LOKET_PRECHECK_MAX_CONCURRENT="2",
        LOKET_PRECHECK_MAX_SECONDS="45",
        LOKET_STUN_URLS="stun:a.example.test, stuns:b.example.test",
        LOKET_TLS="1",
        LOKET_READY_MESSAGE="ready",
    )["LOKET"]
    assert loket["PRECHECK_MAX_CONCURRENT"] == 2
    assert loket["PRECHECK_MAX_SECONDS"] == 45
    assert loket["STUN_URLS"] == ["stun:a.example.test", "stuns:b.example.test"]
    assert loket["TLS"] is True
    assert loket["READY_MESSAGE"] == "ready"


def test_the_chat_text_on_message_length_takes_its_limit_from_settings(settings: Settings) -> None:
    from django.template.loader import render_to_string
    from django.utils import translation

    from consult.errors import TextTooLong

    settings.LOKET = {**settings.LOKET, "MAX_TEXT": 500}
    for language, text in (("id", "paling banyak 500 karakter"), ("en", "at most 500 characters")):
        with translation.override(language):
            assert text in render_to_string("consult/_i18n_chat.html")
    assert "500" in TextTooLong().message


def test_the_rate_limited_text_takes_its_limits_from_settings(settings: Settings) -> None:
    from signaling.consumers.ratelimit import FrameLimits

    # With the defaults, the text the protocol has always sent.
    settings.LOKET = {**settings.LOKET, "CHAT_RATE": (20, 10.0), "FRAME_RATE": (200, 10.0)}
    assert FrameLimits.from_settings().refusal_text() == (
        "Too many requests: over the chat (20 in 10 s) or frame (200 in 10 s) limit."
    )
    settings.LOKET = {**settings.LOKET, "CHAT_RATE": (5, 2.5), "FRAME_RATE": (50, 60.0)}
    assert FrameLimits.from_settings().refusal_text() == (
        "Too many requests: over the chat (5 in 2.5 s) or frame (50 in 60 s) limit."
    )


def _variables_settings_reads() -> set[str]:
    source = SETTINGS_FILE.read_text()
    return set(re.findall(r'(?:env_\w+|os\.environ\.get)\(\s*"([A-Z][A-Z0-9_]*)"', source))


def _variables_readme_documents() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_column = line.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_column))
    return names


def test_the_readme_table_lists_every_variable_settings_reads_and_no_other() -> None:
    read, documented = _variables_settings_reads(), _variables_readme_documents()
    assert "LOKET_OFFER_TIMEOUT" in read and "LOKET_OFFER_TIMEOUT" in documented
    assert read - documented == set(), "read by config/settings.py, missing in the README table"
    assert documented - read == set(), "in the README table, not read by config/settings.py"


def test_no_module_but_the_settings_reads_the_environment_or_a_setting_with_a_default() -> None:
    offenders = []
    for folder in ("consult", "signaling", "config"):
        for path in (ROOT / folder).rglob("*.py"):
            if path in (SETTINGS_FILE, ENV_FILE):
                continue
            text = path.read_text()
            text = text.replace('os.environ.setdefault("DJANGO_SETTINGS_MODULE"', "")
            for pattern in (r"os\.environ", r"os\.getenv", r"getattr\(settings", r"LOKET\.get\("):
                if re.search(pattern, text):
                    offenders.append(f"{path.relative_to(ROOT)}: {pattern}")
            if re.search(r"settings\.LOKET_", text):
                offenders.append(f"{path.relative_to(ROOT)}: settings.LOKET_")
    assert offenders == []
