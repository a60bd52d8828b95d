"""Abuse through the public entry points: joining the queue and offline questions are limited per
client address (the forwarded one only behind a trusted proxy) and per contact, one contact holds
one open consultation, and staff logins lock out a username from one address for a cool-off.

The counters live in the suite's Redis (REDIS_URL, the run's own key prefix); each test uses its
own addresses and contacts, so no test sees another's counts.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from consult.models import Consultation, ConsultationStatus, OfflineQuestion
from consult.services.consultations import applicant_abandon
from consult.services.sweeper import sweep_due
from tests.support.needs import postgres_url, redis_url
from tests.support.phones import new_phone
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db

_hosts = itertools.count(1)


def new_address() -> str:
    """An address (TEST-NET-2) no other test of this run sends from."""
    n = next(_hosts)
    return f"198.51.{100 + n // 250}.{n % 250 + 1}"


@pytest.fixture(autouse=True)
def _shared_cache(settings: Any) -> None:
    # The limits must hold across processes: the counters are in Redis, as deployed.
    redis_url()
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    make_topic()


@pytest.fixture
def limits(settings: Any) -> Callable[..., None]:
    def set_limits(**values: tuple[int, int]) -> None:
        settings.LOKET = {**settings.LOKET, "LIMITS": {**settings.LOKET["LIMITS"], **values}}

    return set_limits


def _post(url: str, body: Any, *, address: str, forwarded: str = "", language: str = "") -> Any:
    client = Client(REMOTE_ADDR=address)
    if language:
        client.cookies["django_language"] = language
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post(url, data=json.dumps(body), content_type="application/json", headers=headers)


def _join(*, address: str, phone: str = "", email: str = "", **kwargs: Any) -> Any:
    body = {"name": "Ani", "topic": "building-approval", "phone": phone, "email": email}
    if not phone and not email:
        body["phone"] = new_phone()
    return _post("/api/consultations", body, address=address, **kwargs)


def _ask(*, address: str, email: str, **kwargs: Any) -> Any:
    body = {
        "name": "Ani",
        "email": email,
        "topic": "building-approval",
        "question": "Apakah PBG perlu gambar arsitek?",
    }
    return _post("/api/offline-questions", body, address=address, **kwargs)


def _refused(response: Any, code: str = "rate_limited", status: int = 429) -> dict[str, Any]:
    assert response.status_code == status, response.content
    error = dict(response.json()["error"])
    assert error["code"] == code
    assert error["message"]
    return error


# ------------------------------------------------------------------ per client address


def test_joins_from_one_address_are_limited_with_429_and_retry_after(limits: Any) -> None:
    limits(JOIN_PER_ADDRESS=(3, 600))
    address = new_address()
    for _ in range(3):
        assert _join(address=address).status_code == 201
    refused = _join(address=address)
    error = _refused(refused)
    retry_after = int(refused["Retry-After"])
    assert 1 <= retry_after <= 600
    assert error["retry_after"] == retry_after
    assert Consultation.objects.count() == 3
    # Another address is not affected.
    assert _join(address=new_address()).status_code == 201


def test_the_refusal_is_in_the_applicants_language(limits: Any) -> None:
    limits(JOIN_PER_ADDRESS=(1, 600))
    address = new_address()
    assert _join(address=address).status_code == 201
    indonesian = _refused(_join(address=address))["message"]
    english = _refused(_join(address=address, language="en"))["message"]
    assert "Terlalu banyak" in indonesian
    assert "Too many requests" in english


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored(limits: Any, settings: Any) -> None:
    settings.LOKET = {**settings.LOKET, "TRUSTED_PROXIES": ()}
    limits(JOIN_PER_ADDRESS=(2, 600))
    address = new_address()
    for hop in ("203.0.113.1", "203.0.113.2"):
        assert _join(address=address, forwarded=hop).status_code == 201
    _refused(_join(address=address, forwarded="203.0.113.3"))


def test_behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_the_client(
    limits: Any, settings: Any
) -> None:
    proxy, client, other = "10.20.30.40", new_address(), new_address()
    settings.LOKET = {
        **settings.LOKET,
        "TRUSTED_PROXIES": (
            ipaddress.ip_network("10.20.0.0/16"),
            ipaddress.ip_network("192.0.2.10/32"),
        ),
    }
    limits(JOIN_PER_ADDRESS=(2, 600))
    # What the client writes itself (the left hops) changes nothing; an inner proxy
    # (192.0.2.10, trusted) in the chain is skipped.
    assert _join(address=proxy, forwarded=f"1.1.1.1, {client}").status_code == 201
    assert _join(address=proxy, forwarded=f"2.2.2.2, {client}, 192.0.2.10").status_code == 201
    _refused(_join(address=proxy, forwarded=f"3.3.3.3, {client}"))
    # Another client behind the same proxy has its own count.
    assert _join(address=proxy, forwarded=other).status_code == 201


def test_offline_questions_from_one_address_are_limited(limits: Any) -> None:
    limits(OFFLINE_PER_ADDRESS=(2, 3600))
    address = new_address()
    for n in range(2):
        assert _ask(address=address, email=f"warga{n}-{address}@example.id").status_code == 201
    _refused(_ask(address=address, email=f"warga9-{address}@example.id"))
    assert OfflineQuestion.objects.count() == 2


# ------------------------------------------------------------------------- per contact


def test_offline_questions_for_one_contact_are_limited_from_any_address(limits: Any) -> None:
    limits(OFFLINE_PER_CONTACT=(2, 3600))
    email = f"ani-{new_address()}@example.id"
    assert _ask(address=new_address(), email=email).status_code == 201
    assert _ask(address=new_address(), email=email.upper()).status_code == 201
    _refused(_ask(address=new_address(), email=f"  {email}  "))


def test_joins_for_one_contact_are_limited_from_any_address(limits: Any, settings: Any) -> None:
    limits(JOIN_PER_CONTACT=(2, 600))
    # No grace: a place nobody connected to may be abandoned at once.
    settings.LOKET = {**settings.LOKET, "APPLICANT_GRACE": 0}
    phone = new_phone()
    for _ in range(2):
        assert _join(address=new_address(), phone=phone).status_code == 201
        # The applicant leaves (the place is abandoned) and joins again.
        for pk in Consultation.objects.filter(status=ConsultationStatus.WAITING).values_list(
            "pk", flat=True
        ):
            assert applicant_abandon(consultation_id=pk)
    _refused(_join(address=new_address(), phone="+62" + phone[1:]))


# ----------------------------------------------------- one open consultation per contact


def test_a_second_join_with_an_open_consultations_contact_is_refused_with_already_queued() -> None:
    phone = new_phone()
    first = _join(address=new_address(), phone=phone)
    assert first.status_code == 201
    # The same phone written another way, from elsewhere, in English.
    again = _join(address=new_address(), phone="+62 " + phone[1:], language="en")
    error = _refused(again, "already_queued", 409)
    assert "already have an open consultation" in error["message"]
    # Nobody connected the first one's socket yet: its place is released after the grace.
    assert 1 <= error["retry_after"] <= 60 + 5
    indonesian = _refused(_join(address=new_address(), phone=phone), "already_queued", 409)
    assert "sudah" in indonesian["message"]
    email = f"ani-{new_address()}@example.id"
    assert _join(address=new_address(), email=email).status_code == 201
    _refused(_join(address=new_address(), email=email.upper()), "already_queued", 409)
    assert Consultation.objects.count() == 2


def test_an_applicant_who_lost_their_page_can_join_again_once_the_place_is_released(
    settings: Any,
) -> None:
    settings.LOKET = {**settings.LOKET, "APPLICANT_GRACE": 1, "SWEEP_INTERVAL": 0.05}
    phone = new_phone()
    assert _join(address=new_address(), phone=phone).status_code == 201
    _refused(_join(address=new_address(), phone=phone), "already_queued", 409)
    deadline = time.monotonic() + 15
    while True:
        sweep_due()
        response = _join(address=new_address(), phone=phone)
        if response.status_code == 201 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert response.status_code == 201, response.content
    statuses = sorted(Consultation.objects.values_list("status", flat=True))
    assert statuses == [ConsultationStatus.ABANDONED, ConsultationStatus.WAITING]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_joins_with_one_contact_give_one_consultation() -> None:
    postgres_url()
    assert connection.vendor == "postgresql"
    make_topic()
    phone = new_phone()
    barrier = threading.Barrier(6)
    statuses: list[int] = []

    def join_now() -> None:
        barrier.wait()
        statuses.append(_join(address=new_address(), phone=phone).status_code)
        connection.close()

    threads = [threading.Thread(target=join_now) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [201, 409, 409, 409, 409, 409]
    assert Consultation.objects.count() == 1


# ---------------------------------------------------------------- the cache is down


def test_with_the_cache_down_the_limits_fail_open_and_say_so_once(
    limits: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    limits(JOIN_PER_ADDRESS=(1, 600))
    address = new_address()
    with caplog.at_level(logging.WARNING, logger="consult.guard.throttle"):
        for _ in range(3):
            assert _join(address=address).status_code == 201
    outage = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(outage) == 1
    # One contact, one open consultation: the database still keeps that.
    phone = new_phone()
    assert _join(address=address, phone=phone).status_code == 201
    _refused(_join(address=address, phone=phone), "already_queued", 409)


# --------------------------------------------------------------------------- login


def _login(password: str, *, address: str, username: str = "sari") -> Any:
    return Client(REMOTE_ADDR=address).post("/login/", {"username": username, "password": password})


@pytest.fixture
def sari() -> Any:
    return make_staff("sari")


def test_wrong_passwords_lock_that_username_from_that_address(sari: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 5
    attacker, colleague = new_address(), new_address()
    for _ in range(4):
        assert _login("salah", address=attacker).status_code == 200  # the form, with its error
    locked = _login("salah", address=attacker)
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
    assert 'role="alert"' in locked.content.decode()
    # Locked means locked: the right password from that address is refused too.
    assert _login("pw-sari", address=attacker).status_code == 429
    # The real user, elsewhere, is not locked out.
    assert _login("pw-sari", address=colleague).status_code == 302


def test_a_lockout_ends_after_the_cool_off(sari: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(seconds=2)
    address = new_address()
    for _ in range(3):
        _login("salah", address=address)
    assert _login("pw-sari", address=address).status_code == 429
    deadline = time.monotonic() + 20
    while True:
        response = _login("pw-sari", address=address)
        if response.status_code != 429 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert response.status_code == 302
    # A successful login clears the count.
    assert not AccessAttempt.objects.filter(username="sari").exists()


def test_the_lockout_message_is_in_the_chosen_language(sari: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 1
    address = new_address()
    client = Client(REMOTE_ADDR=address)
    client.cookies["django_language"] = "en"
    response = client.post("/login/", {"username": "sari", "password": "salah"})
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    response = Client(REMOTE_ADDR=address).post("/login/", {"username": "sari", "password": "x"})
    assert "Terlalu banyak" in response.content.decode()


def test_failed_attempts_are_visible_in_the_admin(sari: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    address = new_address()
    for _ in range(2):
        _login("salah", address=address)
    admin = get_user_model().objects.create_superuser("admin", password="pw-admin-panjang")
    client = Client()
    client.force_login(admin)
    page = client.get("/admin/axes/accessattempt/")
    assert page.status_code == 200
    assert "sari" in page.content.decode()
    assert address in page.content.decode()
