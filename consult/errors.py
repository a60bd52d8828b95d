"""Domain errors, each with a stable ``code`` that clients rely on (see docs/PROTOCOL.md)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils.translation import gettext, ngettext


class DomainError(Exception):
    """A request that the domain refuses, with a stable machine-readable code."""

    code = "error"
    message = "The request could not be completed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class NotFound(DomainError):
    code = "not_found"
    message = "No such consultation, topic or counselor."


class Forbidden(DomainError):
    code = "forbidden"
    message = "You may not act on this consultation."


class Unauthenticated(DomainError):
    code = "unauthenticated"
    message = "Log in first."


class InvalidState(DomainError):
    code = "invalid_state"
    message = "The consultation is not in a state that allows this."


class InvalidInput(DomainError):
    code = "invalid_input"
    message = "The request is missing a field or has a wrong value."


class ClientMsgIdReused(DomainError):
    code = "client_msg_id_reused"
    message = "This client_msg_id was already used for a different message; make a new one."


class TextTooLong(DomainError):
    code = "text_too_long"
    message = "The message is too long."

    def __init__(self, message: str | None = None) -> None:
        limit = settings.LOKET["MAX_TEXT"]
        super().__init__(message or f"The message is longer than {limit} characters.")


class Sealed(DomainError):
    code = "sealed"
    message = "This consultation's transcript is sealed; nothing can be added to it."


class ChainBroken(DomainError):
    """The stored chain does not continue (an entry the next one would chain to is missing):
    the transcript was changed outside Loket, and nothing more is added to it."""

    code = "chain_broken"
    message = "This consultation's record is damaged; nothing can be added to it."


class TokenInvalid(DomainError):
    code = "token_invalid"
    message = "The token is not valid."


class TokenExpired(DomainError):
    code = "token_expired"
    message = "The token has expired; join the queue again."


class OverCapacity(DomainError):
    code = "over_capacity"
    message = "The counselor has no free capacity for this."


class OfficeClosed(DomainError):
    code = "office_closed"
    message = "The office is closed; join the queue when it opens, or leave an offline question."

    def __init__(self, message: str | None = None, *, next_opening: datetime | None = None) -> None:
        if message is None and next_opening is not None:
            opening = next_opening.isoformat()
            message = f"The office is closed; it next takes applicants at {opening}."
        super().__init__(message)
        self.next_opening = next_opening

    @property
    def details(self) -> dict[str, str | None]:
        """Extra fields for the error body."""
        return {"next_opening": self.next_opening.isoformat() if self.next_opening else None}


class MailFailed(DomainError):
    code = "mail_failed"
    message = "The e-mail could not be sent; nothing was changed. Try again later."


class InvalidText(DomainError):
    code = "invalid_text"
    message = (
        "The text contains a character that cannot be stored (NUL, a control character or an "
        "unpaired surrogate)."
    )

    def __init__(self, field: str) -> None:
        super().__init__(
            f"{field} contains a character that cannot be stored "
            "(NUL, a control character or an unpaired surrogate)."
        )
        self.field = field


class RateLimited(DomainError):
    """Too many joins or offline questions from one client address or for one contact."""

    code = "rate_limited"

    def __init__(self, *, retry_after: int) -> None:
        self.retry_after = max(1, retry_after)
        minutes = max(1, -(-self.retry_after // 60))
        super().__init__(
            ngettext(
                "Too many requests. Try again in %(minutes)d minute.",
                "Too many requests. Try again in %(minutes)d minutes.",
                minutes,
            )
            % {"minutes": minutes}
        )

    @property
    def details(self) -> dict[str, int]:
        """Extra fields for the error body (also sent as the Retry-After header)."""
        return {"retry_after": self.retry_after}


class AlreadyQueued(DomainError):
    """The contact (phone or e-mail) already has an open consultation."""

    code = "already_queued"

    def __init__(self, *, retry_after: int | None) -> None:
        self.retry_after = retry_after
        if retry_after is None:
            message = gettext(
                "You already have an open consultation with this phone number or e-mail "
                "address. Go back to the page where you joined (another tab or device)."
            )
        else:
            minutes = max(1, -(-retry_after // 60))
            message = ngettext(
                "You already have an open consultation with this phone number or e-mail "
                "address. If you closed its page, your place is released in about %(minutes)d "
                "minute; then you can join again.",
                "You already have an open consultation with this phone number or e-mail "
                "address. If you closed its page, your place is released in about %(minutes)d "
                "minutes; then you can join again.",
                minutes,
            ) % {"minutes": minutes}
        super().__init__(message)

    @property
    def details(self) -> dict[str, int | None]:
        """Extra fields for the error body: seconds until the open one is released, if known."""
        return {"retry_after": self.retry_after}
