"""Typed exceptions: the library raises these, the CLI alone maps them to exit codes.

Every message is built from safe fields only (paths, line numbers, archive ids, operation
names). Nothing here may ever hold a secret key, session token, signature or request header,
because these messages end up on terminals and in bug reports.
"""

from __future__ import annotations

from typing import Any, ClassVar


def clipped(value: object, limit: int = 40) -> str:
    """``repr(value)``, cut to about ``limit`` characters with "…": a hostile value (a
    megabyte on the command line) must not flood the one error line that names it."""
    text = repr(value) if isinstance(value, str) else repr(str(value))
    return text if len(text) <= limit else text[:limit] + "…"


def _rebuild(cls: type[GlacierlibError], args: tuple[Any, ...], state: dict[str, Any]
             ) -> GlacierlibError:
    """Unpickle without calling ``__init__``: its keyword-only arguments are not in ``args``."""
    error = cls.__new__(cls, *args)
    error.__dict__.update(state)
    return error


class GlacierlibError(Exception):
    """Base of every error the library raises on purpose.

    ``retryable`` tells a caller (and the retry wrapper) whether trying again can help;
    ``hint`` is an optional next step for the user, shown after the message.
    """

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (uploads offloaded to child processes) and must
        # arrive as the same class with the same message and attributes.
        return (_rebuild, (type(self), self.args, dict(self.__dict__)))

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


def _where(path: object, line: int | None) -> str:
    if line is None:
        return f"{path}"
    return f"{path}, line {line}"


class _LocatedError(GlacierlibError):
    """An error about a place in a file: ``path`` and ``line`` kept, and named in the message."""

    def __init__(
        self, message: str, *, path: object = None, line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        if path is not None:
            message = f"{_where(path, line)}: {message}"
        super().__init__(message, hint=hint)


class ConfigError(_LocatedError):
    """A config file, option or environment value the user must fix."""


class InvalidSetting(ConfigError, ValueError):
    """A ``Settings`` value refused at construction; ``field`` names it.

    Also a ``ValueError``, as attrs validators were before it existed, so code that caught
    that keeps working.
    """

    def __init__(self, message: str, *, field: str | None = None,
                 hint: str | None = None) -> None:
        self.field = field
        super().__init__(message, hint=hint)


class JournalError(_LocatedError):
    """A journal that cannot be read or written as it is; names the file and line."""


class JournalLockedError(JournalError):
    """Another process holds the journal; two writers would corrupt or duplicate."""


class DataDirectoryInUse(GlacierlibError):
    """Another process serves this local server data directory; two would overwrite its state."""


class MetadataError(GlacierlibError):
    """An archive description that cannot be encoded (e.g. a name too long for 1024 chars).

    ``name`` (the file's) leads the message; ``reason`` is the message without it, for a
    report that already prints the name before each reason (else the line names it twice).
    """

    def __init__(self, reason: str, *, name: str | None = None,
                 hint: str | None = None) -> None:
        self.name = name
        self.reason = reason
        super().__init__(reason if name is None else f"{name!r}: {reason}", hint=hint)


class UnsafeNameError(GlacierlibError):
    """A file name that must never become a path: absolute, ``..``, control characters."""

    def __init__(self, message: str, *, name: str) -> None:
        self.name = name
        super().__init__(message)


class VerificationError(GlacierlibError):
    """Data whose size or tree hash does not match what it must be."""


class NothingReadyYet(GlacierlibError):
    """No finished job (inventory or retrieval) yet: try again later (exit 75)."""

    retryable = True


class InventoryError(GlacierlibError):
    """An inventory body that cannot be parsed."""


class InventoryJobFailed(GlacierlibError):
    """The vault's inventory jobs all failed and none is running: waiting cannot help."""


class ServiceError(GlacierlibError):
    """An error answered by the Glacier service (or an equivalent endpoint).

    ``code`` is the service's error code (``ResourceNotFoundException``...), ``operation`` the
    API operation name, ``status`` the HTTP status when known.
    """

    def __init__(
        self, message: str, *, code: str = "", operation: str = "", status: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.code = code
        self.operation = operation
        self.status = status
        super().__init__(message, hint=hint)


class NotFound(ServiceError):
    """The vault, archive, job or upload does not exist (404)."""


class Throttled(ServiceError):
    """The service asked us to slow down."""

    retryable = True


class AuthFailed(ServiceError):
    """Credentials missing, wrong, expired, or not allowed to do this."""


class InvalidRequest(ServiceError):
    """The service refused the request as malformed (bad hash, bad range, bad part size)."""


class ServiceUnavailable(ServiceError):
    """A transient server-side failure (500, 503, 408, reset connection)."""

    retryable = True


class NoLongerSupported(ServiceError):
    """The account can no longer use Glacier vaults (closed to new customers on 2025-12-15)."""


class LimitExceeded(ServiceError):
    """A quota was hit (vault count, tags)."""


class PolicyEnforced(ServiceError):
    """The data retrieval policy refused a retrieval job."""
