"""Opening the journal and its side files: regular files only, never a hang.

A journal path that names a FIFO with no writer used to hang every command forever in
``open()``, and a device or a socket is no better. Every file the journal code opens (the
journal, ``<journal>.index``, the index's temporary file) goes through ``open_regular``:

* ``stat`` first and refuse anything that is not a regular file, so a device is never even
  opened (opening some has side effects, e.g. a tape rewinding);
* then open with ``O_NONBLOCK`` (a FIFO's ``open`` returns at once instead of waiting for a
  writer) and ``fstat`` the descriptor, which closes the race with a rename in between;
* then clear ``O_NONBLOCK`` again: it means nothing for a regular file, but the descriptor is
  handed to code that expects ordinary blocking reads and writes.

A refusal is a ``JournalError`` that names the path and what it is, in one line.

Every side file (``.index``, ``.uploads``, a torn line moved aside) holds what the journal
holds, so it is created with ``side_mode``: the journal's own permission bits, never wider. A
journal its owner made private (``chmod 600``) once leaked every name and archive id through a
world-readable ``.index``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from glacierlib.exceptions import JournalError

__all__ = ["fsync_dir", "open_regular", "side_mode"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def _refuse_unless_regular(mode: int, path: object, what: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((name for test, name in _KINDS if test(mode)), "not a file")
    raise JournalError(f"the {what} is {kind}, not a regular file", path=path,
                       hint=f"give a regular file as the {what}")


def open_regular(path: Path, flags: int, *, what: str = "journal", mode: int = 0o644) -> int:
    """``os.open`` for a regular file only (see the module docstring); returns the fd.

    ``FileNotFoundError`` and other ``OSError`` pass through for the caller to word; a path
    that exists but is not a regular file raises ``JournalError`` without blocking.
    """
    try:
        before = os.stat(path)
    except FileNotFoundError:
        if not flags & os.O_CREAT:
            raise
    else:
        _refuse_unless_regular(before.st_mode, path, what)
    try:
        fd = os.open(path, flags | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC, mode)
    except IsADirectoryError:  # replaced by a directory after the stat
        raise JournalError(f"the {what} is a directory, not a regular file", path=path,
                           hint=f"give a regular file as the {what}") from None
    try:
        _refuse_unless_regular(os.fstat(fd).st_mode, path, what)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def side_mode(journal: Path | int) -> int:
    """Permission bits for a file beside ``journal`` (a path or an open descriptor).

    The journal's own read/write bits, so a side file is never more readable than the journal;
    owner-only when the journal cannot be stat'ed.
    """
    try:
        st = os.fstat(journal) if isinstance(journal, int) else os.stat(journal)
    except OSError:
        return 0o600
    return stat.S_IMODE(st.st_mode) & 0o666


def fsync_dir(path: Path) -> None:
    """Make a new name in ``path``'s directory durable (best effort)."""
    try:
        fd = os.open(path.parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
