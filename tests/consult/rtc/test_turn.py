"""TURN REST API credentials (coturn shared secret) and the ICE server list from settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pytest_django import Settings

from consult.rtc.turn import ice_servers_for, turn_credentials_mint

NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
NOW_TS = 1740830400  # NOW as a Unix timestamp, written out independently


def _expected_credential(secret: str, username: str) -> str:
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def test_mint_matches_independent_hmac_and_expiry() -> None:
    cred = turn_credentials_mint(
        participant_id="p-42",
        secret="s3cret",
        ttl_seconds=600,
        urls=["turn:turn.example.test:3478?transport=udp"],
        now=NOW,
    )
    assert cred["username"] == f"{NOW_TS + 600}:p-42"
    assert cred["credential"] == _expected_credential("s3cret", f"{NOW_TS + 600}:p-42")
    assert cred["urls"] == ["turn:turn.example.test:3478?transport=udp"]
    assert cred["ttl"] == 600


def test_mint_known_vector() -> None:
    # HMAC-SHA1(key="secret", msg="1740831000:alice"), computed once with openssl:
    #   printf '1740831000:alice' | openssl dgst -sha1 -hmac secret -binary | base64
    expected = "1q1hosNF3H//9MUujIoHH3M0N1E="
    cred = turn_credentials_mint(
        participant_id="alice", secret="secret", ttl_seconds=600, urls=["turn:x"], now=NOW
    )
    assert cred["username"] == "1740831000:alice"
    assert cred["credential"] == expected
    assert len(base64.b64decode(cred["credential"])) == 20  # SHA-1 digest size


def test_mint_other_timezone_same_instant() -> None:
    cet = timezone(timedelta(hours=1))
    a = turn_credentials_mint(
        participant_id="p", secret="k", ttl_seconds=60, urls=["turn:x"], now=NOW
    )
    b = turn_credentials_mint(
        participant_id="p", secret="k", ttl_seconds=60, urls=["turn:x"], now=NOW.astimezone(cet)
    )
    assert a == b


def test_mint_default_now_is_current_time() -> None:
    before = int(datetime.now(UTC).timestamp())
    cred = turn_credentials_mint(participant_id="p", secret="k", ttl_seconds=3600, urls=["turn:x"])
    after = int(datetime.now(UTC).timestamp())
    expiry = int(cred["username"].split(":", 1)[0])
    assert before + 3600 <= expiry <= after + 3600


@pytest.mark.parametrize(
    "kwargs",
    [
        {"now": datetime(2025, 3, 1, 12, 0, 0)},  # naive
        {"secret": ""},
        {"participant_id": ""},
        {"participant_id": "a:b"},
        {"ttl_seconds": 0},
        {"urls": []},
    ],
)
def test_mint_rejects_bad_input(kwargs: dict[str, object]) -> None:
    args: dict[str, object] = {
        "participant_id": "p",
        "secret": "k",
        "ttl_seconds": 60,
        "urls": ["turn:x"],
        "now": NOW,
    }
    args.update(kwargs)
    with pytest.raises(ValueError):
        turn_credentials_mint(**args)  # type: ignore[arg-type]


def test_ice_servers_empty_config(settings: Settings) -> None:
    settings.LOKET = {
        **settings.LOKET,
        "STUN_URLS": [],
        "TURN_URLS": [],
        "TURN_SECRET": "",
    }
    assert ice_servers_for(participant_id="p") == []


def test_ice_servers_stun_and_turn(settings: Settings) -> None:
    settings.LOKET = {
        **settings.LOKET,
        "STUN_URLS": ["stun:stun.example.test:3478"],
        "TURN_URLS": ["turn:turn.example.test:3478", "turns:turn.example.test:5349"],
        "TURN_SECRET": "shared",
        "TURN_TTL_SECONDS": 120,
    }
    before = int(datetime.now(UTC).timestamp())
    servers = ice_servers_for(participant_id="cid-7")
    assert servers[0] == {"urls": ["stun:stun.example.test:3478"]}
    turn = servers[1]
    assert turn["urls"] == ["turn:turn.example.test:3478", "turns:turn.example.test:5349"]
    expiry_s, pid = turn["username"].split(":", 1)
    assert pid == "cid-7"
    assert before + 120 <= int(expiry_s) <= before + 122
    assert turn["credential"] == _expected_credential("shared", turn["username"])
    assert turn["ttl"] == 120
    assert len(servers) == 2


def test_ice_servers_stun_only(settings: Settings) -> None:
    settings.LOKET = {
        **settings.LOKET,
        "STUN_URLS": ["stun:stun.example.test"],
        "TURN_URLS": [],
    }
    assert ice_servers_for(participant_id="p") == [{"urls": ["stun:stun.example.test"]}]


# A TURN URL without a secret and a URL of the wrong scheme stop the process at start-up, and
# with nothing configured there are no ICE servers: tests/config/test_settings.py.
