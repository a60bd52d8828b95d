"""Staff login throttling with django-axes: what Loket plugs into it.

Axes counts failed logins per username and client address (``AXES_LOCKOUT_PARAMETERS``) in its
``AccessAttempt`` table, shown in Django admin ("Axes"), where a supervisor with admin rights
can also delete an attempt to lift a lockout early. A locked pair gets the login page again with
status 429, ``Retry-After`` and the reason; the lockout ends by itself after the cool-off. The
address is the trusted-proxy-aware one (``consult.guard.address``), and axes' log lines name a
keyed hash of the client, never the username or the address.
"""

from __future__ import annotations

import logging
from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import ngettext

from .address import client_address, client_key

log = logging.getLogger(__name__)


class LoginLockoutBackend(AxesStandaloneBackend):
    """Axes' check before the password check, for logins that come with a request.

    ``authenticate()`` without a request is never a login form: management commands and tests
    calling it directly (``create_staff`` checks a password that way). Axes refuses those
    outright; here they pass to the next backend, as before axes was added.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Raise (axes' PermissionDenied) when the username and address are locked out."""
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def login_client_address(request: HttpRequest) -> str | None:
    """The client address axes records for an attempt (None if there is none)."""
    return client_address(request) or None


def client_label(
    username: str, ip_address: str, user_agent: str, path_info: str, request: HttpRequest
) -> str:
    """How axes' log lines name a client: a keyed hash, no username or address."""
    return f"client {client_key(f'{username}|{ip_address}')[:12]}"


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The login page saying the login is locked and for how long; 429 with Retry-After."""
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    minutes = max(1, -(-seconds // 60))
    message = ngettext(
        "Too many failed logins. Try again in %(minutes)d minute.",
        "Too many failed logins. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
    username = request.POST.get("username", "") if request.method == "POST" else ""
    # An unbound form with the message as its error: binding it would check the password again.
    form = AuthenticationForm(request, initial={"username": username[:150]})
    form.cleaned_data = {}
    form.add_error(None, message)
    log.warning("login locked out after repeated failures")
    response = render(
        request,
        "consult/login.html",
        {"form": form, "next": request.POST.get("next", "")},
        status=429,
    )
    response["Retry-After"] = str(max(1, seconds))
    return response
