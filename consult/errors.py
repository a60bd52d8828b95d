"""Domain errors, each with a stable ``code`` that clients rely on (see docs/PROTOCOL.md)."""

from __future__ import annotations


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
