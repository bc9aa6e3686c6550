"""Progress on standard error: a live bar on a terminal, plain lines otherwise.

The library reports progress as events on worker threads (``glacierlib.progress``). This module
turns them into something a person can read without slowing the transfer: events only update
counters under a lock; on a terminal a timer thread redraws one status line a few times a
second (files, bytes, rate, ETA); elsewhere (a log file, a pipe, CI) each finished, skipped or
failed file is one plain line, so logs stay greppable and free of carriage returns.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections import deque
from collections.abc import Callable

from glacierlib.progress import (
    BytesMoved,
    FileDone,
    FileSkipped,
    FileStarted,
    Notice,
    PlanReady,
    ProgressEvent,
    Retrying,
)

__all__ = ["ProgressDisplay", "format_bytes", "format_duration"]

_RATE_WINDOW = 10.0  # seconds of history behind the transfer rate
_BAR_WIDTH = 20


def format_bytes(n: float) -> str:
    """Binary units, as every size mtglacier prints: ``1.5 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class ProgressDisplay:
    """Aggregates progress events and draws them; ``__call__`` is the ``ProgressCallback``.

    ``write`` prints one line to standard error; ``draw`` (terminal only) replaces the status
    line. Both are called with ``lock`` held, the lock ``Ui`` also takes before writing
    anything, so a result line never lands in the middle of the bar.
    """

    def __init__(
        self,
        *,
        write: Callable[[str], None],
        draw: Callable[[str], None] | None,
        lock: threading.RLock,
        quiet: bool = False,
        verbose: bool = False,
        interval: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._write = write
        self._draw = draw
        self._lock = lock
        self._quiet = quiet
        self._verbose = verbose
        self._interval = interval
        self._clock = clock
        self.files_total = 0
        self.bytes_total = 0
        self.files_done = 0
        self.files_skipped = 0
        self.errors = 0
        self.bytes_done = 0
        self._started = clock()
        self._samples: deque[tuple[float, int]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False

    @property
    def live(self) -> bool:
        """True when a status line is drawn (a terminal, not quiet)."""
        return self._draw is not None and not self._quiet

    def start(self) -> None:
        """Start the redraw timer (terminal only); events are accepted before and after."""
        if self.live and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mtglacier-progress",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the timer and leave the last status line in place (terminal only)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if self._drawn and self._draw is not None:
                self._draw(self.status_line())
                self._draw("\n")
                self._drawn = False

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                if self._draw is not None:
                    self._draw(self.status_line())
                    self._drawn = True

    def clear(self) -> None:
        """Erase the status line before another line is written (lock held by the caller)."""
        if self._drawn and self._draw is not None:
            self._draw("")
            self._drawn = False

    # -- events --------------------------------------------------------------------------

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            line = self._apply(event)
            if line is not None:
                self.clear()
                self._write(line)

    def _apply(self, event: ProgressEvent) -> str | None:
        """Update the counters; return the line to print for this event, if any."""
        if isinstance(event, PlanReady):
            self.files_total = max(self.files_total, event.files)
            self.bytes_total = max(self.bytes_total, event.bytes)
            return None
        if isinstance(event, BytesMoved):
            self.bytes_done += event.delta
            now = self._clock()
            self._samples.append((now, self.bytes_done))
            while self._samples and now - self._samples[0][0] > _RATE_WINDOW:
                self._samples.popleft()
            return None
        if isinstance(event, FileStarted):
            if self._verbose:
                return f"{event.action} {event.path} ({format_bytes(event.size)})"
            return None
        if isinstance(event, FileDone):
            self.files_done += 1
            if self._quiet or (self.live and not self._verbose):
                return None
            detail = f" {event.detail}" if event.detail else ""
            return f"{event.action} done {event.path} ({format_bytes(event.size)}){detail}"
        if isinstance(event, FileSkipped):
            self.files_skipped += 1
            if event.error:
                self.errors += 1
                return f"ERROR: {event.path}: {event.reason}"
            if self._verbose:
                return f"skip {event.path}: {event.reason}"
            return None
        if isinstance(event, Retrying):
            if self._verbose:
                return (f"retrying {event.operation} (attempt {event.attempt}) in "
                        f"{event.delay:.1f}s: {event.reason}")
            return None
        if isinstance(event, Notice):
            if event.level in ("warning", "error"):
                return f"{event.level.upper()}: {event.message}"
            if self._quiet:
                return None
            return event.message
        return None  # pragma: no cover - every event type is handled above

    # -- rendering -----------------------------------------------------------------------

    def rate(self) -> float:
        """Bytes per second over the last few seconds (0 until two samples exist)."""
        if len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    def status_line(self, width: int | None = None) -> str:
        """The one-line status: bar, percent, files, bytes, rate, ETA."""
        if width is None:
            width = shutil.get_terminal_size((80, 24)).columns
        rate = self.rate()
        parts = []
        if self.bytes_total > 0:
            fraction = min(1.0, max(0.0, self.bytes_done / self.bytes_total))
            filled = int(fraction * _BAR_WIDTH)
            parts.append("[" + "#" * filled + "-" * (_BAR_WIDTH - filled) + "]")
            parts.append(f"{fraction * 100:3.0f}%")
        if self.files_total:
            parts.append(f"{self.files_done}/{self.files_total} files")
        else:
            parts.append(f"{self.files_done} files done")
        total = f"/{format_bytes(self.bytes_total)}" if self.bytes_total else ""
        parts.append(f"{format_bytes(self.bytes_done)}{total}")
        parts.append(f"{format_bytes(rate)}/s")
        if rate > 0 and self.bytes_total > self.bytes_done:
            parts.append("ETA " + format_duration((self.bytes_total - self.bytes_done) / rate))
        if self.errors:
            parts.append(f"{self.errors} errors")
        line = " ".join(parts)
        return line[: max(10, width - 1)]
