"""``Ui``: the only way mtglacier talks to the terminal.

Results and reports go to standard output (``out``), so they can be piped; progress, warnings
and errors go to standard error. The last line of a successful run is ``OK DONE`` on standard
output, which scripts written for mt-aws-glacier look for. Everything goes through one lock so
lines from worker-thread callbacks and the live progress bar never interleave.

With ``--format json`` standard output carries one JSON document and nothing else
(``json_report``): the human result lines of ``out`` are dropped (shown on standard error with
``--verbose``), and the warnings and finished files are kept for the document.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from glacierlib.progress import FileDone, ProgressCallback
    from glacierlib_cli.progress import ProgressDisplay

__all__ = ["Ui", "terminal_safe"]

OK_DONE = "OK DONE"

# Characters a name from disk, a journal or an inventory may carry that a terminal would act
# on instead of showing: C0 controls but TAB and LF (CR rewrites the line, ESC starts commands),
# DEL, C1 controls, bidirectional overrides (U+202E shows "gpj.exe" as "exe.jpg"), and the lone
# surrogates that stand for undecodable bytes (writing them would raise, not print).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                     "\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the undecodable byte itself
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def terminal_safe(line: str) -> str:
    """``line`` with every character a terminal would act on shown as an escape."""
    return _UNSAFE.sub(_escape, line) if _UNSAFE.search(line) else line


class Ui:
    """Output for one run.

    ``stdout``/``stderr`` default to the current ``sys.stdout``/``sys.stderr`` at each write
    (so tests capturing them see everything). ``tty`` forces or disables the live bar; by
    default it is drawn only when standard error is a terminal.
    """

    def __init__(
        self,
        *,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        quiet: bool = False,
        verbose: bool = False,
        tty: bool | None = None,
        interval: float = 0.2,
    ) -> None:
        self._stdout = stdout
        self._stderr = stderr
        self.quiet = quiet
        self.verbose = verbose
        self._tty = tty
        self._interval = interval
        self._warnings_shown: set[str] = set()
        self._lock = threading.RLock()
        self._display: ProgressDisplay | None = None
        self.done_printed = False
        self.json = False
        self.command = ""
        self.json_printed = False
        #: Every warning shown (``warn``), in order, for the JSON report.
        self.warnings: list[str] = []
        self.started = time.monotonic()

    @property
    def stdout(self) -> TextIO:
        return self._stdout if self._stdout is not None else sys.stdout

    @property
    def stderr(self) -> TextIO:
        return self._stderr if self._stderr is not None else sys.stderr

    def configure(self, *, quiet: bool, verbose: bool, json: bool = False,
                  command: str = "") -> None:
        """Set the verbosity and format once the options are known (before any progress)."""
        self.quiet = quiet
        self.verbose = verbose
        self.json = json
        self.command = command

    @property
    def elapsed(self) -> float:
        """Seconds since this run started."""
        return time.monotonic() - self.started

    def _repeated(self, line: str) -> bool:
        """A WARNING line already shown in this run: say it once. (A repaired torn journal
        line reaches the user through the journal's log record, an event and the command's
        report; the world-readable config warning through a log record and a return value.)"""
        if not line.startswith("WARNING: "):
            return False
        if line in self._warnings_shown:
            return True
        self._warnings_shown.add(line)
        return False

    def _emit(self, stream: TextIO | None, line: str) -> None:
        if stream is None:  # started with the descriptor closed (``>&-``): dropped, as print does
            return
        with self._lock:
            if self._repeated(line):
                return
            if self._display is not None:
                self._display.clear()
            try:
                stream.write(terminal_safe(line) + "\n")
                stream.flush()
            except BrokenPipeError:
                raise
            except OSError as exc:  # ``>/dev/full``: the stream named, never "unexpected"
                if stream is not self.stdout:
                    raise
                raise OSError(exc.errno, exc.strerror, "standard output") from None

    def out(self, line: str) -> None:
        """A result line on standard output (never suppressed by ``--quiet``).

        With ``--format json`` the JSON document stands for these lines: they are dropped, or
        shown on standard error with ``--verbose``.
        """
        if self.json:
            self.debug(line)
            return
        self._emit(self.stdout, line)

    def json_report(self, document: dict[str, Any]) -> None:
        """Print the run's one JSON document on standard output (once)."""
        self.close()
        with self._lock:
            if self.json_printed:
                return
            self.json_printed = True
            self.stdout.write(json.dumps(document, indent=2, ensure_ascii=True) + "\n")
            self.stdout.flush()

    def err(self, line: str) -> None:
        """A line on standard error, as is (never suppressed)."""
        self._emit(self.stderr, line)

    def info(self, line: str) -> None:
        """A message for the user on standard error, hidden by ``--quiet``."""
        if not self.quiet:
            self._emit(self.stderr, line)

    def debug(self, line: str) -> None:
        """A detail on standard error, shown only with ``--verbose``."""
        if self.verbose:
            self._emit(self.stderr, line)

    def warn(self, message: str) -> None:
        with self._lock:
            self.warnings.append(message)
        self._emit(self.stderr, f"WARNING: {message}")

    def error(self, message: str) -> None:
        self._emit(self.stderr, f"ERROR: {message}")

    @property
    def progress(self) -> ProgressCallback:
        """The callback to hand to a ``glacierlib.operations`` call; thread-safe."""
        return self.progress_display

    @property
    def progress_display(self) -> ProgressDisplay:
        with self._lock:
            if self._display is None:
                from glacierlib_cli.progress import ProgressDisplay

                tty = self._tty
                if tty is None:
                    isatty = getattr(self.stderr, "isatty", None)
                    tty = bool(isatty and isatty())
                self._display = ProgressDisplay(
                    write=self._write_progress_line,
                    draw=self._draw_status if tty else None,
                    lock=self._lock,
                    quiet=self.quiet,
                    verbose=self.verbose,
                    interval=self._interval,
                    record=self.json,
                )
                self._display.start()
            return self._display

    @property
    def finished_files(self) -> list[FileDone]:
        """The files the run finished (recorded with ``--format json`` only), in order."""
        with self._lock:
            return [] if self._display is None else list(self._display.finished)

    @property
    def all_warnings(self) -> list[str]:
        """Warnings shown so far: ``warn`` calls, then warning and error notices."""
        with self._lock:
            notices = [] if self._display is None else self._display.warnings
            return [*self.warnings, *notices]

    def _write_progress_line(self, line: str) -> None:
        if self._repeated(line):
            return
        self.stderr.write(terminal_safe(line) + "\n")
        self.stderr.flush()

    def _draw_status(self, text: str) -> None:
        # "\r" + erase-to-end-of-line, then the new status; "\n" finishes the bar for good.
        if text == "\n":
            self.stderr.write("\n")
        else:
            self.stderr.write("\r\x1b[K" + terminal_safe(text))
        self.stderr.flush()

    def close(self) -> None:
        """Stop the progress timer; safe to call more than once."""
        with self._lock:
            display = self._display
        if display is not None:
            display.stop()

    def done(self) -> None:
        """End a successful run: finish the progress line, print ``OK DONE`` (once)."""
        self.close()
        with self._lock:
            if not self.done_printed:
                self.done_printed = True
                self._emit(self.stdout, OK_DONE)
