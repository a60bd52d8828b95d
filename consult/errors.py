"""Domain errors, each with a stable ``code`` that clients rely on (see docs/PROTOCOL.md)."""

from __future__ import annotations

from datetime import datetime


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


class TextTooLong(DomainError):
    code = "text_too_long"
    message = "The message is longer than 4000 characters."


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
