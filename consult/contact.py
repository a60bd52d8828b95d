"""An applicant's contact details, checked the same way wherever they are given: joining the queue
and leaving an offline question."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .errors import InvalidInput

MAX_NAME = 80
_PHONE = re.compile(r"^\+?[0-9]{8,15}$")
_PHONE_PUNCTUATION = re.compile(r"[\s().-]")


def contact_clean(
    *, name: str, phone: str, email: str, email_required: bool
) -> tuple[str, str, str]:
    """(name, phone, email) trimmed, the phone without spaces or punctuation; InvalidInput if a
    value is wrong, or if neither a phone nor an e-mail address is given.

    ``email_required``: the e-mail address must be given (an offline question is answered by
    e-mail).
    """
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"name must be 1 to {MAX_NAME} characters.")
    phone = _PHONE_PUNCTUATION.sub("", phone or "")
    if phone and not _PHONE.match(phone):
        raise InvalidInput("phone must be 8 to 15 digits, optionally starting with +.")
    email = (email or "").strip()
    if not email and email_required:
        raise InvalidInput("email is needed: the answer is sent by e-mail.")
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput("email is not a valid e-mail address.") from None
    if not phone and not email:
        raise InvalidInput("Give a phone number or an e-mail address.")
    return name, phone, email
