"""The service's error answers: a status, a code and a message, as real Glacier sends them."""

from __future__ import annotations

__all__ = ["GlacierError", "invalid", "missing", "not_found"]


class GlacierError(Exception):
    """Raised inside the server; the handler turns it into Glacier's JSON error body.

    ``kind`` is the body's ``type`` field: ``Client`` for 4xx, ``Server`` for 5xx.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    @property
    def kind(self) -> str:
        return "Server" if self.status >= 500 else "Client"


def invalid(message: str) -> GlacierError:
    return GlacierError(400, "InvalidParameterValueException", message)


def missing(message: str) -> GlacierError:
    return GlacierError(400, "MissingParameterValueException", message)


def not_found(message: str) -> GlacierError:
    return GlacierError(404, "ResourceNotFoundException", message)
