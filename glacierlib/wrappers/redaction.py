"""Keep secrets out of log records, including botocore's and urllib3's own DEBUG output.

botocore logs the canonical request, the string to sign, the bare signature and every request
header (``Authorization``, ``X-Amz-Security-Token``) at DEBUG. A user who turns on ``--debug``
to report a bug must not paste their credentials into the report, so every record from those
loggers passes through :class:`SecretRedactingFilter` before any handler sees it.

A filter on a logger applies only to records created by that very logger (not to records
propagated from its children), so the filter is attached to every existing ``botocore.*``,
``urllib3.*`` and ``glacierlib.*`` logger, and optionally to handlers (the CLI passes its own,
which also covers loggers created later).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

__all__ = [
    "REDACTED",
    "SecretRedactingFilter",
    "install_secret_redaction",
    "redact",
]

REDACTED = "<redacted>"

_LOGGER_PREFIXES = ("botocore", "urllib3", "glacierlib", "s3transfer", "boto3")

# Structural patterns: whatever the secret values are, these never reach a log line.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # "Authorization": b'AWS4-HMAC-SHA256 Credential=..., Signature=...' (dict/bytes reprs)
    (
        re.compile(r"""(['"]?authorization['"]?\s*[:=]\s*b?)(['"])(.*?)\2""", re.IGNORECASE),
        rf"\1\2{REDACTED}\2",
    ),
    # Authorization: AWS4-HMAC-SHA256 ... (raw header lines)
    (re.compile(r"(authorization\s*:\s*)[^\r\n]+", re.IGNORECASE), rf"\1{REDACTED}"),
    # security token as header, query parameter or canonical header
    (
        re.compile(r"""(['"]?x-amz-security-token['"]?\s*[:=]\s*b?)(['"])(.*?)\2""", re.IGNORECASE),
        rf"\1\2{REDACTED}\2",
    ),
    (re.compile(r"(x-amz-security-token\s*[:=]\s*)[^\s,'\"&]+", re.IGNORECASE), rf"\1{REDACTED}"),
    # Signature=hex (header, presigned query) and botocore's "Signature:\n<hex>" debug line
    (re.compile(r"(signature\s*[=:]\s*)[0-9a-fA-F]{16,}", re.IGNORECASE), rf"\1{REDACTED}"),
    (re.compile(r"(x-amz-signature=)[^\s&'\"]+", re.IGNORECASE), rf"\1{REDACTED}"),
    (
        re.compile(r"""(['"]?aws_secret_access_key['"]?\s*[:=]\s*)\S+""", re.IGNORECASE),
        rf"\1{REDACTED}",
    ),
)


class _SecretRegistry:
    """The secret values seen so far in this process (keys, tokens), matched verbatim."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: frozenset[str] = frozenset()

    def add(self, secrets: Iterable[str | None]) -> None:
        # Very short strings would redact innocent text and cannot be real AWS secrets.
        fresh = {s for s in secrets if s and len(s) >= 8}
        if fresh - self._values:
            with self._lock:
                self._values = self._values | fresh

    @property
    def values(self) -> frozenset[str]:
        return self._values


_REGISTRY = _SecretRegistry()


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with registered and given secrets, signatures and auth headers masked."""
    for value in sorted({*_REGISTRY.values, *(s for s in secrets if s)}, key=len, reverse=True):
        if value in text:
            text = text.replace(value, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class SecretRedactingFilter(logging.Filter):
    """Rewrites each record's message (and traceback text) with :func:`redact`.

    The message is formatted here, once, so that secrets hidden in ``args`` cannot come back
    when a handler formats the record later.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = f"{record.msg!r} {record.args!r}"
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg = cleaned
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = SecretRedactingFilter()
_install_lock = threading.Lock()


def install_secret_redaction(
    secrets: Iterable[str | None] = (), *, handlers: Iterable[logging.Handler] = ()
) -> SecretRedactingFilter:
    """Register secret values and attach the redacting filter where records are made.

    Safe to call many times (each store calls it with its resolved credentials; the CLI calls
    it once with its handlers). Attaches only filters: no handler, level or format changes.
    """
    _REGISTRY.add(secrets)
    with _install_lock:
        manager = logging.Logger.manager
        names = [name for name in list(manager.loggerDict) if name.startswith(_LOGGER_PREFIXES)]
        for name in [*_LOGGER_PREFIXES, *names]:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
        for handler in handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
    return _FILTER
