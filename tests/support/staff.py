"""Staff and topics in the test database, and the fast password hasher every test uses."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from consult.models import (
    Connection,
    ConnectionRole,
    CounselorStatus,
    StaffProfile,
    StaffRole,
    Topic,
)
from consult.services import presence


@pytest.fixture(autouse=True)
def fast_passwords(settings: Any) -> None:
    """Staff accounts are created per test; the production hasher costs 0.3 s each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def make_topic(code: str = "building-approval") -> Topic:
    topic, _ = Topic.objects.get_or_create(
        code=code, defaults={"name_id": f"Topik {code}", "name_en": f"Topic {code}"}
    )
    return topic


def make_staff(
    username: str,
    *,
    role: str = StaffRole.COUNSELOR,
    topics: list[Topic] | None = None,
    capacity: int = 3,
) -> StaffProfile:
    user = get_user_model().objects.create_user(username=username, password="pw-" + username)
    staff = StaffProfile.objects.create(
        user=user, role=role, display_name=username.title(), capacity=capacity
    )
    if topics:
        staff.topics.set(topics)
    return staff


def session_cookie(staff: StaffProfile) -> bytes:
    client = Client()
    client.force_login(staff.user)
    value = client.cookies[settings.SESSION_COOKIE_NAME].value
    return f"{settings.SESSION_COOKIE_NAME}={value}".encode()


def counselor_online(
    staff: StaffProfile, *, available: bool = True, server_id: str = "test-server"
) -> Connection:
    """Record a live connection for ``staff`` as server process ``server_id`` would, and (by
    default) make them available, which runs routing."""
    connection = presence.connection_open(
        role=ConnectionRole.COUNSELOR,
        server_id=server_id,
        channel_name=f"test.staff.{staff.pk}.{Connection.objects.count()}",
        staff=staff,
    )
    if available:
        presence.counselor_status_set(staff=staff, status=CounselorStatus.AVAILABLE)
    return connection


def staff_client(
    staff: StaffProfile | None = None, *, user: Any = None, csrf: bool = False
) -> Client:
    """A test client logged in as ``staff`` (or as ``user``, any account); anonymous without
    either. ``csrf`` makes it check CSRF tokens as a browser's requests are checked."""
    client = Client(enforce_csrf_checks=csrf)
    account = user or (staff.user if staff is not None else None)
    if account is not None:
        client.force_login(account)
    return client
