"""Canned replies: a counselor's personal ones (shared ones are edited in the admin)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from ..errors import Forbidden, InvalidInput, NotFound
from ..models import CannedReply, Language, StaffProfile
from .locking import row_lock

MAX_PERSONAL = 200


def canned_reply_create(
    *, staff: StaffProfile, title: str, text: str, language: str = ""
) -> CannedReply:
    """A new personal canned reply of ``staff``."""
    title = (title or "").strip()
    text = (text or "").strip()
    if not 1 <= len(title) <= 80:
        raise InvalidInput("title must be 1 to 80 characters.")
    if not 1 <= len(text) <= settings.LOKET["MAX_TEXT"]:
        raise InvalidInput("text must be 1 to 4000 characters.")
    if language and language not in Language.values:
        raise InvalidInput("language must be id, en or empty.")
    with transaction.atomic():
        if CannedReply.objects.filter(owner=staff).count() >= MAX_PERSONAL:
            raise InvalidInput(f"At most {MAX_PERSONAL} personal replies.")
        return CannedReply.objects.create(owner=staff, title=title, text=text, language=language)


def canned_reply_delete(*, staff: StaffProfile, reply_id: int) -> None:
    """Delete one of the staff member's own replies (shared ones: admin only)."""
    with transaction.atomic():
        reply = row_lock(CannedReply.objects.filter(pk=reply_id))
        if reply is None or (reply.owner_id is not None and reply.owner_id != staff.pk):
            # Someone else's reply is not revealed to exist.
            raise NotFound("No such canned reply.")
        if reply.owner_id is None:
            raise Forbidden("Shared replies are edited in the admin.")
        reply.delete()
