"""Progress reporting: frozen events handed to a callback, never printed by the library.

Callbacks run on worker threads, possibly several at once: a callback must be thread-safe
and quick (aggregate under a lock, draw on a timer). ``BytesMoved.delta`` may be negative when
a retry rewinds a body that was partly sent.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

__all__ = [
    "BytesMoved",
    "FileDone",
    "FileSkipped",
    "FileStarted",
    "Notice",
    "PlanReady",
    "ProgressCallback",
    "ProgressEvent",
    "Retrying",
    "Waiting",
    "ignore_progress",
]


@attrs.frozen
class PlanReady:
    """The work found so far: files to act on and bytes to move.

    While ``complete`` is false these are lower bounds (a streaming walk is still finding
    files), so a display must not turn them into a percentage or an ETA. ``complete=True`` says
    the walk is over and the totals are final; only the bytes may still grow a little when a
    verification finds a changed file that must be uploaded again.
    """

    files: int
    bytes: int
    complete: bool = False


@attrs.frozen
class FileStarted:
    path: str
    size: int
    action: str = "upload"


@attrs.frozen
class BytesMoved:
    delta: int
    path: str = ""


@attrs.frozen
class FileDone:
    path: str
    size: int
    action: str = "upload"
    detail: str = ""


@attrs.frozen
class FileSkipped:
    """A file left alone on purpose or because it cannot be handled; ``reason`` says which."""

    path: str
    reason: str
    error: bool = False


@attrs.frozen
class Retrying:
    operation: str
    attempt: int
    reason: str
    delay: float


@attrs.frozen
class Notice:
    """Something the user should read (part size raised, stale upload found, ...)."""

    message: str
    level: str = "info"


@attrs.frozen
class Waiting:
    """A wait for jobs (``--wait``): how many are pending, ready, done, and when the next
    status check is due (``next_check`` seconds from now)."""

    pending: int
    ready: int
    done: int
    next_check: float
    failed: int = 0


ProgressEvent = (PlanReady | FileStarted | BytesMoved | FileDone | FileSkipped | Retrying
                 | Notice | Waiting)
ProgressCallback = Callable[[ProgressEvent], None]


def ignore_progress(event: ProgressEvent) -> None:
    """The default callback: drop every event."""
