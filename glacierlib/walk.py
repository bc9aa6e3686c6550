"""Streaming walk of a local tree: yields one entry at a time, never a list of the tree.

A sync of a million files must start uploading before the walk ends and must not hold a
million full objects, so :func:`walk_tree` is a generator over ``os.scandir`` with an explicit
stack of directories (no recursion limit, no ``os.walk`` lists of names per level).

What it yields:

* :class:`LocalFile` for each regular file (size 0 included: the planner reports those, since
  Glacier cannot store an empty archive and mt-aws-glacier treats them as "missing");
* :class:`WalkProblem` for each name that can never be a journal name (not valid UTF-8, a
  control character such as TAB/CR/LF) and for each directory that cannot be read, so the
  sync reports it by name and goes on instead of aborting like mt-aws-glacier did.

Symlinks: like mt-aws-glacier (File::Find's ``-f`` test follows links), a symlink to a regular
file is a file. Symlinked directories are entered only with ``follow=True``; every directory
entered is remembered by ``(st_dev, st_ino)`` so a link cycle, or two links to one directory,
is walked once.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterator
from typing import Protocol

import attrs

__all__ = [
    "LocalFile",
    "PathFilter",
    "WalkEntry",
    "WalkProblem",
    "display_name",
    "name_problem",
    "walk_tree",
]

logger = logging.getLogger(__name__)

_NS = 1_000_000_000


class PathFilter(Protocol):
    """What the walk needs of a filter set (:class:`glacierlib.filters.FilterSet` fits)."""

    def includes(self, rel: str) -> bool: ...

    def prunes_dir(self, rel_dir: str) -> bool: ...


@attrs.frozen(slots=True)
class LocalFile:
    """A regular file found by the walk, with the stat taken when it was found.

    ``rel`` is the journal name (``/``-separated, relative to the root); ``path`` the name to
    open. ``mtime_ns``, ``size`` and ``inode`` identify the file: a change while it uploads,
    or between an interrupted upload and its resumption, is noticed.
    """

    rel: str
    path: str
    size: int
    mtime_ns: int
    inode: int = 0

    @property
    def mtime(self) -> int:
        """Whole seconds, floored, as mt-aws-glacier records them."""
        return self.mtime_ns // _NS


@attrs.frozen(slots=True)
class WalkProblem:
    """A name the walk had to skip, with a printable name and the reason."""

    display: str
    reason: str


WalkEntry = LocalFile | WalkProblem


def display_name(name: str) -> str:
    """A printable form of a name that may hold undecodable bytes (surrogateescape).

    Bytes that are not UTF-8 appear as ``\\xNN``; control characters as escapes, so one
    report line stays one line.
    """
    raw = name.encode("utf-8", "surrogateescape")
    text = raw.decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in text)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LINE_BREAKING = re.compile(r"[\t\r\n]")


# Partial downloads live in the target directory until they are verified and renamed
# (``glacierlib.download.PARTIAL_PREFIX``; mt-aws-glacier used ``__mtglacier_temp``). Syncing
# such a directory must not back up half-written copies of archives.
_WORK_FILE_PREFIXES = ("__mtglacier_partial_", "__mtglacier_temp")


def name_problem(component: str) -> str | None:
    """Why a single path component cannot be part of a journal name, or ``None``.

    The journal is UTF-8 and TAB-separated, one record per line: undecodable bytes and control
    characters would corrupt it, so such names are refused before any upload. (Called once per
    file of a million-file walk: regular expressions, no per-character Python loop.)
    """
    if not component.isascii():
        try:
            component.encode("utf-8")
        except UnicodeEncodeError:
            return "name is not valid UTF-8"
    if _CONTROL.search(component) is None:
        return None
    if _LINE_BREAKING.search(component) is not None:
        return "name contains TAB, CR or LF"
    return "name contains a control character"


def _join(prefix: str, name: str) -> str:
    return f"{prefix}/{name}" if prefix else name


def walk_tree(
    root: str | os.PathLike[str], *, filters: PathFilter | None = None, follow: bool = False
) -> Iterator[WalkEntry]:
    """Yield the files under ``root``, lazily, applying ``filters`` with directory pruning.

    Files of a directory come before its subdirectories; the order within a directory is the
    file system's (no sorting, so a directory of a million entries is never held as a list).
    """
    root_path = os.fspath(root)
    visited: set[tuple[int, int]] = set()
    if follow:
        st = os.stat(root_path)
        visited.add((st.st_dev, st.st_ino))
    # Stack of (directory path, relative prefix).
    stack: list[tuple[str, str]] = [(root_path, "")]
    while stack:
        dir_path, prefix = stack.pop()
        subdirs: list[tuple[str, str]] = []
        try:
            scanner = os.scandir(dir_path)
        except OSError as exc:
            yield WalkProblem(display_name(prefix or dir_path), f"cannot read directory: "
                              f"{exc.strerror or exc}")
            continue
        with scanner:
            for entry in scanner:
                name = entry.name
                rel = _join(prefix, name)
                try:
                    is_dir = entry.is_dir(follow_symlinks=follow)
                    # is_file() follows links: a link to a regular file is a file.
                    if not is_dir and not entry.is_file():
                        continue
                except OSError:
                    continue
                problem = name_problem(name)
                if is_dir:
                    if filters is not None and filters.prunes_dir(rel + "/"):
                        continue
                    if problem is not None:
                        yield WalkProblem(display_name(rel) + "/", problem)
                        continue
                    if follow:
                        try:
                            st = entry.stat()
                        except OSError as exc:
                            yield WalkProblem(display_name(rel) + "/",
                                              f"cannot stat: {exc.strerror or exc}")
                            continue
                        key = (st.st_dev, st.st_ino)
                        if key in visited:
                            logger.debug("already walked, not entering again: %s", rel)
                            continue
                        visited.add(key)
                    subdirs.append((entry.path, rel))
                    continue
                if name.startswith(_WORK_FILE_PREFIXES):
                    continue  # a download in progress (ours or mt-aws-glacier's), not data
                if filters is not None and not filters.includes(rel):
                    continue
                if problem is not None:
                    yield WalkProblem(display_name(rel), problem)
                    continue
                try:
                    st = entry.stat()
                except FileNotFoundError:
                    continue  # vanished between listing and stat
                except OSError as exc:
                    yield WalkProblem(display_name(rel), f"cannot stat: {exc.strerror or exc}")
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                yield LocalFile(rel, entry.path, st.st_size, st.st_mtime_ns, st.st_ino)
        # Reverse so the first subdirectory listed is walked first.
        subdirs.reverse()
        stack.extend(subdirs)
