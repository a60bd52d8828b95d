"""Response headers: Content-Security-Policy, no caching of pages and API answers, TLS behind a
proxy (HSTS, secure cookies, redirect, wss://), JSON 401 from staff APIs, and ``check --deploy``
clean with production settings. (The CSP is also checked in Chromium: test_csp_browser.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from consult.models import StaffRole
from tests.support.phones import new_phone
from tests.support.staff import make_staff, make_topic

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_SECRET = "prod-like-secret-" + "x7Qp2LmZ9vRt4WbN8cYh3JkD6fGs1AeU5oIy0TnMq"
STAFF_API = [
    "/api/consultations/00000000-0000-0000-0000-000000000000/transcript",
    "/api/kb/search?q=pbg",
    "/api/canned-replies",
    "/api/staff/offline-questions",
    "/api/staff/offline-questions/LKT-0000",
]


def _directives(response: Any) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def _staff_client(role: str = StaffRole.COUNSELOR) -> Client:
    staff = make_staff(f"staff-{role}", role=role, topics=[make_topic()])
    client = Client()
    client.force_login(staff.user)
    return client


def test_every_page_carries_a_strict_content_security_policy() -> None:
    counselor = _staff_client()
    supervisor = _staff_client(StaffRole.SUPERVISOR)
    pages = [
        Client().get("/"),
        Client().get("/login/"),
        counselor.get("/counselor/"),
        counselor.get("/transcripts/"),
        supervisor.get("/supervisor/"),
        supervisor.get("/supervisor/figures/"),
    ]
    for response in pages:
        assert response.status_code == 200, response
        policy = _directives(response)
        assert policy["script-src"] == ["'self'"]
        assert policy["default-src"] == ["'self'"]
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["object-src"] == ["'none'"]
        assert "'unsafe-inline'" not in response["Content-Security-Policy"]
        assert "'unsafe-eval'" not in response["Content-Security-Policy"]
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"


def test_staff_pages_and_api_answers_are_not_stored_by_any_cache() -> None:
    counselor = _staff_client()
    answers = [
        counselor.get("/counselor/"),
        counselor.get("/transcripts/"),
        counselor.get("/api/canned-replies"),
        Client().get(STAFF_API[0]),
        Client().get("/"),
    ]
    for response in answers:
        cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
        assert {"no-store", "private"} <= cache_control, (response, cache_control)


@pytest.mark.parametrize("path", STAFF_API)
def test_staff_api_without_a_session_answers_json_401(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "unauthenticated"


def test_staff_api_for_a_logged_in_non_staff_user_stays_403() -> None:
    from django.contrib.auth import get_user_model

    client = Client()
    client.force_login(get_user_model().objects.create_user(username="warga", password="pw"))
    response = client.get(STAFF_API[0])
    assert (response.status_code, response.json()["error"]["code"]) == (403, "forbidden")


def _join(client: Client, **extra: Any) -> dict[str, Any]:
    make_topic()
    body = {"name": "Ani", "phone": new_phone(), "topic": "building-approval", "mode": "chat"}
    response = client.post(
        "/api/consultations", data=json.dumps(body), content_type="application/json", **extra
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


def test_ws_url_is_wss_behind_a_tls_proxy(settings: Any) -> None:
    assert _join(Client())["ws_url"].startswith("ws://")
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    answer = _join(Client(), HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="testserver")
    assert answer["ws_url"] == "wss://testserver/ws/applicant/"
    # A site declared TLS hands out wss:// even if the proxy's header went missing.
    settings.LOKET = {**settings.LOKET, "TLS": True}
    assert _join(Client())["ws_url"].startswith("wss://")


def _production_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOKET_")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        LOKET_SECRET_KEY=PRODUCTION_SECRET,
        LOKET_ALLOWED_HOSTS="loket.example.go.id",
        LOKET_BEHIND_TLS_PROXY="1",
    )
    env.pop("DATABASE_URL", None)
    env.update(extra)
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_check_deploy_is_clean_with_production_settings(tmp_path: Path) -> None:
    env = _production_env(
        DATABASE_URL=os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path / 'db.sqlite3'}"
    )
    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_on_a_plain_http_deployment(tmp_path: Path) -> None:
    """The check above can fail: without the TLS settings it reports HSTS, cookies, redirect."""
    env = _production_env(
        LOKET_BEHIND_TLS_PROXY="0", LOKET_SQLITE_PATH=str(tmp_path / "db.sqlite3")
    )
    result = _manage(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr + result.stdout


def test_tls_proxy_settings_follow_the_one_switch(tmp_path: Path) -> None:
    env = _production_env(LOKET_SQLITE_PATH=str(tmp_path / "db.sqlite3"))
    code = (
        "import json; from django.conf import settings as s; print(json.dumps(["
        "s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
        " s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS,"
        " s.LOKET['TLS']]))"
    )
    result = _manage(env, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        ["HTTP_X_FORWARDED_PROTO", "https"],
        True,
        True,
        True,
        31536000,
        True,
        True,
    ]


def test_behind_the_proxy_https_requests_get_hsts_and_http_is_redirected(settings: Any) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    secure = Client().get("/login/", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    plain = Client().get("/login/")
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/login/"
