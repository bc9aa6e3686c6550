"""Progress on standard error: a live status line on a terminal, plain lines otherwise.

The library reports progress as events on worker threads (``glacierlib.progress``). This module
turns them into something a person can read without slowing the transfer: events only update
counters under a lock; on a terminal a timer thread redraws one status line a few times a
second; elsewhere (a log file, a pipe, CI) each finished, skipped or failed file is one plain
line, so logs stay greppable and free of carriage returns.

The status line only claims what is known. While the walk is still finding work
(``PlanReady.complete`` is false) it says ``scanning: 31+ files`` and shows neither a
percentage nor an ETA; once the totals are final it shows them, and it says ``100%`` only when
every planned file is finished. It names a file in flight, fits the terminal's width (dropping
the least useful parts first, never cutting one in half) and, when the run ends, is replaced by
a summary: files, bytes, elapsed time and the average rate.
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
    Waiting,
)

__all__ = ["ProgressDisplay", "format_bytes", "format_duration", "format_rate"]

_RATE_WINDOW = 10.0  # seconds of history behind the transfer rate
_BAR_WIDTH = 20
_FLIGHT_ROOM = 24  # columns kept for the name of a file in flight before the bar is drawn


def format_bytes(n: float) -> str:
    """Binary units, as every size mtglacier prints: ``1.5 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def format_rate(bytes_per_second: float) -> str:
    return f"{format_bytes(bytes_per_second)}/s"


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _fit(parts: list[tuple[int, str]], width: int) -> str:
    """Join ``parts`` (priority, text) in order, keeping the most important that fit ``width``.

    Lower priority numbers are kept first; a part is either shown whole or left out, so a
    narrow terminal loses the rate or the byte counts, never half of the ETA.
    """
    kept: set[int] = set()
    used = 0
    for index in sorted(range(len(parts)), key=lambda i: parts[i][0]):
        cost = len(parts[index][1]) + (1 if kept else 0)
        if used + cost <= width:
            kept.add(index)
            used += cost
    return " ".join(text for i, (_p, text) in enumerate(parts) if i in kept)


def _shorten(name: str, room: int) -> str:
    """``name`` cut to ``room`` characters from the left (the file name is the useful end)."""
    if len(name) <= room:
        return name
    return "..." + name[len(name) - room + 3:] if room > 3 else ""


class ProgressDisplay:
    """Aggregates progress events and draws them; ``__call__`` is the ``ProgressCallback``.

    ``write`` prints one line to standard error; ``draw`` (terminal only) replaces the status
    line. Both are called with ``lock`` held, the lock ``Ui`` also takes before writing
    anything, so a result line never lands in the middle of the bar. ``width`` returns the
    terminal's columns (asked at every redraw: the window may be resized).
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
        width: Callable[[], int] | None = None,
        record: bool = False,
    ) -> None:
        self._write = write
        self._draw = draw
        self._lock = lock
        self._quiet = quiet
        self._verbose = verbose
        self._interval = interval
        self._clock = clock
        self._width = width or (lambda: shutil.get_terminal_size((80, 24)).columns)
        self.files_total = 0
        self.bytes_total = 0
        #: True once the totals are final (a ``PlanReady`` with ``complete=True`` came).
        self.totals_final = False
        self.files_done = 0
        self.files_skipped = 0
        self.errors = 0
        self.failed_in_flight = 0
        self.bytes_done = 0
        #: Warning and error notices, in order (``--format json`` reports them).
        self.warnings: list[str] = []
        #: With ``record``: every finished file, in order (``--format json`` lists them).
        self.finished: list[FileDone] = []
        self._record = record
        self._in_flight: dict[str, None] = {}  # insertion-ordered set of paths
        self._started = clock()
        self._samples: deque[tuple[float, int]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = False
        self._stopped = False

    @property
    def live(self) -> bool:
        """True when a status line is drawn (a terminal, not quiet)."""
        return self._draw is not None and not self._quiet

    @property
    def in_flight(self) -> list[str]:
        """Files started and not yet finished, oldest first."""
        with self._lock:
            return list(self._in_flight)

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started

    def start(self) -> None:
        """Start the redraw timer (terminal only); events are accepted before and after."""
        if self.live and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="mtglacier-progress",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the timer; replace the status line with the summary (once).

        On a terminal the summary takes the place of the bar; elsewhere it is one plain line,
        written only when something was transferred, so quiet commands stay quiet.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            summary = self.summary_line()
            if self._drawn and self._draw is not None:
                self._draw(summary)
                self._draw("\n")
                self._drawn = False
            elif not self._quiet and (self.files_done or self.bytes_done or self.errors):
                self._write(summary)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                if self._draw is not None and not self._stopped:
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
            # Final totals replace the file count (a count ahead may have guessed deletions
            # a walk problem then held back); growing ones are lower bounds. Bytes only grow:
            # a verification that finds a change adds its upload.
            if event.complete:
                self.files_total = event.files
                self.totals_final = True
            else:
                self.files_total = max(self.files_total, event.files)
            self.bytes_total = max(self.bytes_total, event.bytes)
            return None
        if isinstance(event, BytesMoved):
            self.bytes_done += event.delta
            now = self._clock()
            self._samples.append((now, self.bytes_done))
            # Keep one sample from before the window: the count where the window starts.
            while len(self._samples) > 1 and now - self._samples[1][0] >= _RATE_WINDOW:
                self._samples.popleft()
            return None
        if isinstance(event, FileStarted):
            self._in_flight[event.path] = None
            if self._verbose:
                return f"{event.action} {event.path} ({format_bytes(event.size)})"
            return None
        if isinstance(event, FileDone):
            self._in_flight.pop(event.path, None)
            self.files_done += 1
            if self._record:
                self.finished.append(event)
            if self._quiet or (self.live and not self._verbose):
                return None
            detail = f" {event.detail}" if event.detail else ""
            return f"{event.action} done {event.path} ({format_bytes(event.size)}){detail}"
        if isinstance(event, FileSkipped):
            started = event.path in self._in_flight
            self._in_flight.pop(event.path, None)
            self.files_skipped += 1
            if event.error:
                self.errors += 1
                # A planned file that failed is finished; a name the walk could not store was
                # never counted in the totals, so it must not bring 100% closer.
                self.failed_in_flight += started
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
                self.warnings.append(event.message)
                return f"{event.level.upper()}: {event.message}"
            if self._quiet:
                return None
            return event.message
        if isinstance(event, Waiting):
            if self._quiet:
                return None
            failed = f", {event.failed} failed" if event.failed else ""
            return (f"waiting: {event.pending} pending, {event.ready} ready, {event.done} done"
                    f"{failed}; next check in {format_duration(event.next_check)}")
        return None  # pragma: no cover - every event type is handled above

    # -- rendering -----------------------------------------------------------------------

    def rate(self) -> float:
        """Bytes per second over the last few seconds, up to now: a stall shows as a falling
        rate, and two files answered a millisecond apart at the start are not a spike."""
        now = self._clock()
        since = max(now - _RATE_WINDOW, self._started)
        base = 0
        for when, done in self._samples:
            if when > since:
                break
            base = done
        elapsed = now - since
        return (self.bytes_done - base) / elapsed if elapsed > 0 else 0.0

    def average_rate(self) -> float:
        """Bytes per second over the whole run so far (0 before any time has passed)."""
        elapsed = self.elapsed
        return self.bytes_done / elapsed if elapsed > 0 else 0.0

    def fraction(self) -> float | None:
        """How much of the work is done, or None while the totals are not final.

        By bytes when there are bytes to move, else by files; 1.0 exactly when every planned
        file has finished, so 100% means done.
        """
        if not self.totals_final:
            return None
        finished = self.files_done + self.failed_in_flight
        if finished >= self.files_total:
            return 1.0  # every planned file is finished, whatever a byte estimate said
        value = (self.bytes_done / self.bytes_total if self.bytes_total > 0
                 else finished / self.files_total)
        return min(0.99, max(0.0, value))

    def status_line(self, width: int | None = None) -> str:
        """The one-line status, at most ``width - 1`` characters (the terminal's by default)."""
        if width is None:
            width = self._width()
        room = max(10, width - 1)
        rate = self.rate()
        fraction = self.fraction()
        parts: list[tuple[int, str]] = []  # (priority: lower is kept first, text)
        bar = ""
        if fraction is None:
            seen = max(self.files_total, self.files_done)
            parts.append((0, f"{self.files_done}/{seen}+ files (scanning)"))
            if self.bytes_total:
                parts.append((2, f"{format_bytes(self.bytes_done)}/"
                                 f"{format_bytes(self.bytes_total)}+"))
            elif self.bytes_done:
                parts.append((2, format_bytes(self.bytes_done)))
        else:
            filled = int(fraction * _BAR_WIDTH)
            bar = "[" + "#" * filled + "-" * (_BAR_WIDTH - filled) + "]"
            parts.append((0, f"{int(fraction * 100):3d}%"))
            parts.append((1, f"{self.files_done}/{self.files_total} files"))
            parts.append((3, f"{format_bytes(self.bytes_done)}/"
                             f"{format_bytes(self.bytes_total)}"))
        parts.append((4, format_rate(rate)))
        if fraction is not None and rate > 0 and self.bytes_total > self.bytes_done:
            parts.append((1, "ETA " + format_duration((self.bytes_total - self.bytes_done)
                                                      / rate)))
        if self.errors:
            parts.append((0, f"{self.errors} errors"))
        line = _fit(parts, room)
        spare = room - len(line) - 1
        # The bar only where it leaves room to name a file in flight too.
        if bar and spare - len(bar) - 1 >= _FLIGHT_ROOM:
            line = f"{bar} {line}"
            spare -= len(bar) + 1
        flight = self._flight_text(spare)
        if flight:
            line = f"{line} {flight}"
        if len(line) > room:  # only the first part alone can be this long
            line = line[:room]
        return line

    def _flight_text(self, room: int) -> str:
        """``> name`` of the newest file in flight (``(+2)`` more), shortened to ``room``."""
        if not self._in_flight or room < 14:
            return ""
        names = list(self._in_flight)
        more = f" (+{len(names) - 1})" if len(names) > 1 else ""
        name_room = room - len("> ") - len(more)
        if name_room < 8:
            return ""
        return f"> {_shorten(names[-1], name_room)}{more}"

    def summary_line(self) -> str:
        """The last line of a run: what was done, how long it took, the average rate."""
        elapsed = self.elapsed
        average = (f", {format_rate(self.bytes_done / elapsed)} average"
                   if self.bytes_done and elapsed > 0 else "")
        errors = f", {_plural(self.errors, 'error')}" if self.errors else ""
        return (f"done: {_plural(self.files_done, 'file')}, {format_bytes(self.bytes_done)} in "
                f"{format_duration(elapsed)}{average}{errors}")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"
