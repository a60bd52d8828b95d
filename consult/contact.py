"""An applicant's contact details, checked the same way wherever they are given: joining the queue
and leaving an offline question."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .errors import InvalidInput
from .text_input import line_check, text_visible

MAX_NAME = 80
_PHONE = re.compile(r"^\+?[0-9]{8,15}$")
_PHONE_PUNCTUATION = re.compile(r"[\s().-]")
# Indonesia's country code: +62 812… and 0812… are the same phone.
_COUNTRY_PREFIX = "+62"


def contact_clean(
    *, name: str, phone: str, email: str, email_required: bool
) -> tuple[str, str, str]:
    """(name, phone, email) trimmed, the phone without spaces or punctuation; InvalidInput if a
    value is wrong, or if neither a phone nor an e-mail address is given.

    ``email_required``: the e-mail address must be given (an offline question is answered by
    e-mail).
    """
    name = line_check((name or "").strip(), field="name")
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"name must be 1 to {MAX_NAME} characters.")
    if not text_visible(name):
        raise InvalidInput("name must have a visible character.")
    phone = _PHONE_PUNCTUATION.sub("", line_check(phone or "", field="phone"))
    if phone and not _PHONE.match(phone):
        raise InvalidInput("phone must be 8 to 15 digits, optionally starting with +.")
    email = line_check((email or "").strip(), field="email")
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


def contact_keys(*, phone: str, email: str) -> list[str]:
    """The contacts in the one form that tells whether two applicants are the same person: the
    phone in national form (``+62812…`` and ``0812…`` are one), the e-mail address in lower
    case."""
    keys = []
    phone = _PHONE_PUNCTUATION.sub("", phone)
    email = email.strip()
    if phone:
        if phone.startswith(_COUNTRY_PREFIX):
            phone = "0" + phone[len(_COUNTRY_PREFIX) :]
        keys.append(f"phone:{phone}")
    if email:
        keys.append(f"email:{email.lower()}")
    return keys


def phone_spellings(phone: str) -> list[str]:
    """Every way a cleaned phone may be stored that names the same number."""
    if phone.startswith(_COUNTRY_PREFIX):
        return [phone, "0" + phone[len(_COUNTRY_PREFIX) :]]
    if phone.startswith("0"):
        return [phone, _COUNTRY_PREFIX + phone[1:]]
    return [phone]
