"""``Ui``: the only way mtglacier talks to the terminal.

Results and reports go to standard output (``out``), so they can be piped; progress, warnings
and errors go to standard error. The last line of a successful run is ``OK DONE`` on standard
output, which scripts written for mt-aws-glacier look for. Everything goes through one lock so
lines from worker-thread callbacks and the live progress bar never interleave.
"""

from __future__ import annotations

import re
import sys
import threading
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from glacierlib.progress import ProgressCallback
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

    @property
    def stdout(self) -> TextIO:
        return self._stdout if self._stdout is not None else sys.stdout

    @property
    def stderr(self) -> TextIO:
        return self._stderr if self._stderr is not None else sys.stderr

    def configure(self, *, quiet: bool, verbose: bool) -> None:
        """Set the verbosity once the options are known (before any progress is shown)."""
        self.quiet = quiet
        self.verbose = verbose

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

    def _emit(self, stream: TextIO, line: str) -> None:
        with self._lock:
            if self._repeated(line):
                return
            if self._display is not None:
                self._display.clear()
            stream.write(terminal_safe(line) + "\n")
            stream.flush()

    def out(self, line: str) -> None:
        """A result line on standard output (never suppressed by ``--quiet``)."""
        self._emit(self.stdout, line)

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
                )
                self._display.start()
            return self._display

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
