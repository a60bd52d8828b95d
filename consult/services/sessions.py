"""Staff sessions outside HTTP: is the session that opened a staff WebSocket still good, and
telling open connections when it may not be.

A staff WebSocket is admitted once, by the session cookie of its handshake. Logging out,
deactivating the account, changing its password or the session expiring must end it too, on
whichever process holds the socket. Two paths do that:

* a push: on logout and on any change to the account, :func:`consult.events.publish.session_changed`
  asks every connection of that user to re-check (logout names the ending session, whose
  connections close at once);
* a pull: the channel layer is at-most-once, so each connection also re-checks its session
  itself, periodically and before a frame when its last check is older than a few seconds
  (signaling/session_guard.py), with :func:`staff_session_valid`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save
from django.http import HttpRequest

from ..events import publish
from ..events.groups import session_digest
from ..models import StaffProfile


def staff_session_valid(*, session_key: str | None, user_id: int) -> bool:
    """Whether ``session_key`` still logs in ``user_id`` as active staff.

    The same test Django applies to every HTTP request (``auth.get_user``): the session exists
    and has not expired, its user exists and may log in (``is_active``), and the session's
    auth hash still matches the user's password (a password change ends other sessions).
    """
    if not session_key:
        return False
    engine = import_module(settings.SESSION_ENGINE)
    request = HttpRequest()
    request.session = engine.SessionStore(session_key=session_key)
    user = auth.get_user(request)
    if not user.is_authenticated or user.pk != user_id:
        return False
    return StaffProfile.objects.filter(user_id=user_id).exists()


def _on_logged_out(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if user is None or request is None:
        return
    # Sent before the session is flushed: the ending session is named, so its sockets close
    # without asking the database (which would still find it).
    publish.session_changed(
        user_id=user.pk, revoked_session=session_digest(request.session.session_key)
    )


def _on_user_saved(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    # Every login saves last_login; nothing about the account's other sessions changed then.
    if update_fields is not None and set(update_fields) == {"last_login"}:
        return
    publish.session_changed(user_id=instance.pk)


def _on_user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    publish.session_changed(user_id=instance.pk)


def connect_signals() -> None:
    """Hook logout and account changes (called once from the app's ``ready``)."""
    user_model = get_user_model()
    user_logged_out.connect(_on_logged_out, dispatch_uid="loket-session-logout")
    post_save.connect(_on_user_saved, sender=user_model, dispatch_uid="loket-session-user-saved")
    post_delete.connect(
        _on_user_deleted, sender=user_model, dispatch_uid="loket-session-user-deleted"
    )
