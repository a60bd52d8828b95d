"""Applicant tokens: each admits one applicant to one consultation, for a limited time."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core import signing

from ..errors import TokenExpired, TokenInvalid
from ..models import Consultation

_SALT = "loket.applicant-token"


def new_token_nonce() -> str:
    """A fresh random nonce; rotating a consultation's nonce revokes its tokens."""
    return secrets.token_hex(16)


def applicant_token_issue(*, consultation: Consultation) -> str:
    """A signed token naming the consultation and its current nonce."""
    return signing.dumps({"c": consultation.pk, "n": consultation.token_nonce}, salt=_SALT)


def applicant_token_verify(*, token: str) -> Consultation:
    """The consultation the token admits to, or TokenInvalid / TokenExpired."""
    if not isinstance(token, str) or len(token) > 400:
        raise TokenInvalid()
    try:
        data = signing.loads(token, salt=_SALT, max_age=settings.LOKET["TOKEN_MAX_AGE"])
    except signing.SignatureExpired:
        raise TokenExpired() from None
    except signing.BadSignature:
        raise TokenInvalid() from None
    if not isinstance(data, dict) or not isinstance(data.get("c"), int):
        raise TokenInvalid()
    consultation = (
        Consultation.objects.select_related("topic", "counselor").filter(pk=data["c"]).first()
    )
    if consultation is None or not secrets.compare_digest(
        consultation.token_nonce, str(data.get("n", ""))
    ):
        raise TokenInvalid()
    return consultation
