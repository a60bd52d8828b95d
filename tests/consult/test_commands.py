"""Management commands an office runs: demo data and staff provisioning."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command

from consult.models import StaffProfile, Topic
from tests.support.staff import make_topic

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def _counts() -> tuple[int, int, int]:
    return (
        Topic.objects.count(),
        get_user_model().objects.count(),
        StaffProfile.objects.count(),
    )


def test_seed_demo_is_idempotent_and_prints_passwords_only_the_first_time() -> None:
    first = _run("seed_demo")
    accounts = re.findall(r"^\s+(counselor|supervisor)\s+(\S+)\s+(\S+)$", first, re.MULTILINE)
    assert {username for _, username, _ in accounts} == {"konselor1", "konselor2", "supervisor"}
    after_first = _counts()
    assert after_first == (5, 3, 3)
    for role, username, password in accounts:
        user = authenticate(username=username, password=password)
        assert user is not None and user.staff.role == role

    second = _run("seed_demo")
    assert _counts() == after_first
    assert "already exist" in second
    for _, _, password in accounts:
        assert password not in second
    # Passwords did not change on the second run.
    assert all(authenticate(username=u, password=p) for _, u, p in accounts)


def test_seed_demo_reset_passwords_gives_the_demo_accounts_new_working_ones() -> None:
    pattern = r"^\s+(?:counselor|supervisor)\s+(\S+)\s+(\S+)$"
    old = dict(re.findall(pattern, _run("seed_demo"), re.MULTILINE))
    new = dict(re.findall(pattern, _run("seed_demo", "--reset-passwords"), re.MULTILINE))
    assert set(new) == {"konselor1", "konselor2", "supervisor"}
    for username, password in new.items():
        assert password != old[username]
        assert authenticate(username=username, password=password) is not None
        assert authenticate(username=username, password=old[username]) is None
    assert _counts() == (5, 3, 3)


def test_seed_demo_tells_a_newcomer_after_hours_how_to_try_a_consultation(settings: Any) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    settings.LOKET = {
        **settings.LOKET,
        "ENFORCE_HOURS": True,
        "FAKE_NOW": datetime(2026, 12, 1, 18, 29, tzinfo=ZoneInfo("Asia/Jakarta")),
    }
    out = _run("seed_demo")
    assert "no new applicants now (it is 18:29 in Asia/Jakarta" in out
    assert "Next opening: Wednesday 02 December 2026 07:30" in out
    assert "make run LOKET_ENFORCE_HOURS=0" in out

    settings.LOKET = {
        **settings.LOKET,
        "FAKE_NOW": datetime(2026, 12, 2, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta")),
    }
    assert "LOKET_ENFORCE_HOURS" not in _run("seed_demo")


def test_seed_demo_gives_counselors_their_topics() -> None:
    _run("seed_demo")
    one = StaffProfile.objects.get(user__username="konselor1")
    two = StaffProfile.objects.get(user__username="konselor2")
    boss = StaffProfile.objects.get(user__username="supervisor")
    assert set(one.topics.values_list("code", flat=True)) == {"building-approval", "health-permit"}
    assert two.topics.count() == Topic.objects.count()
    assert boss.is_supervisor and boss.user.is_staff and not one.user.is_staff


def test_seed_demo_topics_only_creates_no_accounts() -> None:
    _run("seed_demo", "--topics-only")
    assert _counts() == (5, 0, 0)


def test_create_staff_creates_a_counselor_with_topics_and_capacity() -> None:
    make_topic("building-approval")
    make_topic("health-permit")
    out = _run(
        "create_staff",
        "--role=counselor",
        "--username=rina",
        "--password=rahasia-panjang-1",
        "--name=Rina",
        "--topics=building-approval, health-permit",
        "--capacity=5",
    )
    assert "Created counselor rina" in out
    staff = StaffProfile.objects.get(user__username="rina")
    assert (staff.role, staff.display_name, staff.capacity) == ("counselor", "Rina", 5)
    assert set(staff.topics.values_list("code", flat=True)) == {
        "building-approval",
        "health-permit",
    }
    assert authenticate(username="rina", password="rahasia-panjang-1") is not None


def test_create_staff_defaults_to_a_capacity_of_three() -> None:
    _run("create_staff", "--role=counselor", "--username=rina", "--password=rahasia-panjang-1")
    staff = StaffProfile.objects.get(user__username="rina")
    assert (staff.capacity, staff.display_name) == (3, "rina")


def test_create_staff_updates_an_existing_account() -> None:
    make_topic("building-approval")
    make_topic("health-permit")
    _run(
        "create_staff",
        "--role=counselor",
        "--username=rina",
        "--password=lama-sekali-1",
        "--topics=building-approval",
        "--capacity=2",
    )
    out = _run(
        "create_staff",
        "--role=counselor",
        "--username=rina",
        "--password=baru-sekali-2",
        "--topics=health-permit",
    )
    assert "Updated counselor rina" in out
    assert _counts()[1:] == (1, 1)
    staff = StaffProfile.objects.get(user__username="rina")
    assert list(staff.topics.values_list("code", flat=True)) == ["health-permit"]
    assert staff.capacity == 2  # not given: kept
    assert authenticate(username="rina", password="baru-sekali-2") is not None
    assert authenticate(username="rina", password="lama-sekali-1") is None


def test_create_staff_makes_a_supervisor_a_django_staff_user() -> None:
    _run("create_staff", "--role=supervisor", "--username=dewi", "--password=rahasia-panjang-1")
    staff = StaffProfile.objects.get(user__username="dewi")
    assert staff.is_supervisor and staff.user.is_staff


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--topics=building-approval,no-such-topic"], "no-such-topic"),
        (["--capacity=0"], "capacity"),
        (["--capacity=21"], "capacity"),
    ],
)
def test_create_staff_refuses_bad_options_and_creates_nothing(
    extra: list[str], message: str
) -> None:
    make_topic("building-approval")
    with pytest.raises(CommandError, match=message):
        call_command(
            "create_staff",
            "--role=counselor",
            "--username=rina",
            "--password=rahasia-panjang-1",
            *extra,
            stdout=io.StringIO(),
        )
    assert _counts()[1:] == (0, 0)


def test_create_staff_takes_the_configured_default_capacity(settings: Any) -> None:
    settings.LOKET = {**settings.LOKET, "DEFAULT_CAPACITY": 4}
    _run("create_staff", "--role=counselor", "--username=rina", "--password=rahasia-panjang-1")
    assert StaffProfile.objects.get(user__username="rina").capacity == 4
