"""Streaming walk of a local tree: yields one entry at a time, never a list of the tree.

A sync of a million files must start uploading before the walk ends and must not hold a
million full objects, so :func:`walk_tree` is a generator over ``os.scandir`` with an explicit
stack of directories (no recursion limit, no ``os.walk`` lists of names per level).

What it yields:

* :class:`LocalFile` for each regular file (size 0 included: the planner reports those, since
  Glacier cannot store an empty archive and mt-aws-glacier treats them as "missing");
* :class:`WalkProblem` for each name that can never be a journal name (not valid UTF-8, a
  control character such as TAB/CR/LF), for each directory that cannot be read and each name
  that cannot be stat'ed (a directory with ``r`` but no ``x``), for names that vanish while
  the walk looks at them, and for the journal's own files; the sync reports each by name and
  goes on instead of aborting like mt-aws-glacier did.

The walk is also the proof of absence that ``--delete-removed`` relies on: a name is removed
only if the walk listed its directory completely and did not find it. So no error is ever a
silent ``continue``; each problem carries ``unproven``, the name (and everything under it) that
it hid, and the planner never deletes an archive of such a name. A file that exists is always
yielded, whatever its size.

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
from collections.abc import Callable, Iterator
from typing import Literal, Protocol

import attrs

__all__ = [
    "PROBLEM_KINDS",
    "LocalFile",
    "PathFilter",
    "ProblemKind",
    "WalkEntry",
    "WalkProblem",
    "display_name",
    "journal_files",
    "name_problem",
    "not_absent",
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
    or between an interrupted upload and its resumption, is noticed. ``ctime_ns`` (0: unknown)
    catches a rewrite that kept size and mtime (``rsync --inplace -t``): no program can set a
    ctime back, so a file whose ctime moved while it uploaded is never recorded as uploaded.
    """

    rel: str
    path: str
    size: int
    mtime_ns: int
    inode: int = 0
    ctime_ns: int = 0

    @property
    def mtime(self) -> int:
        """Whole seconds, floored, as mt-aws-glacier records them."""
        return self.mtime_ns // _NS


#: What a :class:`WalkProblem` is: a name that can never be a journal name; something that
#: exists but could not be read (a directory, or a file's status); a name listed and gone by the
#: time it was looked at; the journal's own file or a side file of it (never backed up).
ProblemKind = Literal["name", "read", "vanished", "journal"]
PROBLEM_KINDS: tuple[str, ...] = ("name", "read", "vanished", "journal")


@attrs.frozen(slots=True)
class WalkProblem:
    """A name the walk had to skip, with a printable name and the reason.

    ``unproven`` is the journal name whose absence the walk could not prove: the name itself
    and every name under it (``""`` for the root: every name). ``--delete-removed`` must never
    delete an archive of such a name: a directory that cannot be read hides its files, it does
    not remove them. ``None`` when nothing was hidden (a name that cannot be stored anyway).
    """

    display: str
    reason: str
    kind: ProblemKind = attrs.field(default="name",
                                    validator=attrs.validators.in_(PROBLEM_KINDS))
    unproven: str | None = None


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




def journal_files(root: str | os.PathLike[str],
                  journal: str | os.PathLike[str] | None) -> tuple[str, re.Pattern[str]] | None:
    """Where the journal and its side files would appear in the walk of ``root``, or ``None``.

    A journal kept inside the tree it backs up must not be uploaded (it changes on every run,
    so ``--replace-modified`` would upload it again each time). Returns the relative directory
    (``""`` for the root) and a pattern of the names there that belong to the journal: the
    journal, ``<journal>.index`` and its temporary ``<journal>.index.<pid>.tmp``,
    ``<journal>.uploads`` and ``<journal>.uploads.tmp``, and ``<journal>.torn-<stamp>[.n]``.
    """
    if journal is None:
        return None
    rel_dir = _rel_under(root, os.path.dirname(os.path.abspath(os.fspath(journal))))
    if rel_dir is None:
        return None
    name = re.escape(os.path.basename(os.fspath(journal)))
    pattern = re.compile(
        name + r"(?:\.index(?:\.\d+\.tmp)?|\.uploads(?:\.tmp)?|\.torn-\d{8}T\d{6}Z(?:\.\d+)?)?"
    )
    return rel_dir, pattern


def _rel_under(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> str | None:
    """``path`` relative to ``root`` (``/``-separated, ``""`` for the root), or ``None``."""
    rel = os.path.relpath(os.path.realpath(os.fspath(path)),
                          os.path.realpath(os.fspath(root)))
    if rel == os.pardir or rel.startswith(os.pardir + os.sep) or os.path.isabs(rel):
        return None
    return "" if rel == os.curdir else rel.replace(os.sep, "/")


def _errno_text(exc: OSError) -> str:
    return str(exc.strerror or exc)


def walk_tree(
    root: str | os.PathLike[str], *, filters: PathFilter | None = None, follow: bool = False,
    journal: str | os.PathLike[str] | None = None,
    server_dir: str | os.PathLike[str] | None = None,
) -> Iterator[WalkEntry]:
    """Yield the files under ``root``, lazily, applying ``filters`` with directory pruning.

    Files of a directory come before its subdirectories; the order within a directory is the
    file system's (no sorting, so a directory of a million entries is never held as a list).

    Every error is a :class:`WalkProblem` whose ``unproven`` names what it hid, never a silent
    ``continue``: the planner deletes only what the walk proved absent. ``journal`` (the sync's
    journal path) keeps the journal and its side files out of the backup when they are inside
    ``root``; they are yielded as ``kind="journal"`` problems, so they are not taken for removed.
    ``server_dir`` (a ``--local`` data directory) is never entered either: backing up the
    server's own copies of the files made every run store the last one's again.
    """
    root_path = os.fspath(root)
    own = journal_files(root_path, journal)
    server_rel = None if server_dir is None else _rel_under(root_path, server_dir)
    visited: set[tuple[int, int]] = set()
    if follow:
        try:
            st = os.stat(root_path)
        except OSError as exc:
            yield WalkProblem(display_name(root_path), f"cannot read directory: "
                              f"{_errno_text(exc)}", "read", "")
            return
        visited.add((st.st_dev, st.st_ino))
    # Stack of (directory path, relative prefix).
    stack: list[tuple[str, str]] = [(root_path, "")]
    while stack:
        dir_path, prefix = stack.pop()
        mine = own[1] if own is not None and own[0] == prefix else None
        subdirs: list[tuple[str, str]] = []
        shown = display_name(prefix) + "/" if prefix else display_name(dir_path)
        try:
            scanner = os.scandir(dir_path)
        except FileNotFoundError as exc:
            if prefix:  # listed by its parent a moment ago: gone, or renamed, during the walk
                yield WalkProblem(shown, "vanished during the walk", "vanished", prefix)
            else:
                yield WalkProblem(shown, f"cannot read directory: {_errno_text(exc)}", "read",
                                  "")
            continue
        except OSError as exc:
            yield WalkProblem(shown, f"cannot read directory: {_errno_text(exc)}", "read",
                              prefix)
            continue
        with scanner:
            entries = iter(scanner)
            while True:
                try:
                    entry = next(entries)
                except StopIteration:
                    break
                except OSError as exc:  # the listing broke off: the rest of it is unknown
                    yield WalkProblem(shown, f"cannot read directory: {_errno_text(exc)}",
                                      "read", prefix)
                    break
                name = entry.name
                rel = _join(prefix, name)
                try:
                    is_dir = entry.is_dir(follow_symlinks=follow)
                    # is_file() follows links: a link to a regular file is a file.
                    if not is_dir and not entry.is_file():
                        continue
                except OSError as exc:
                    yield _stat_problem(rel, exc)
                    continue
                problem = name_problem(name)
                if is_dir:
                    if filters is not None and filters.prunes_dir(rel + "/"):
                        continue
                    if rel == server_rel:
                        yield WalkProblem(display_name(rel) + "/", "the --local server's data "
                                          "directory, not backed up", "journal", rel)
                        continue
                    if problem is not None:  # it exists: nothing under it is proven absent
                        yield WalkProblem(display_name(rel) + "/", problem, "name", rel)
                        continue
                    if follow:
                        try:
                            st = entry.stat()
                        except OSError as exc:
                            yield _stat_problem(rel, exc, "/")
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
                if mine is not None and mine.fullmatch(name):
                    logger.debug("the journal or its side file, not backed up: %s", rel)
                    yield WalkProblem(display_name(rel), "the journal or one of its side files",
                                      "journal", rel)
                    continue
                if filters is not None and not filters.includes(rel):
                    continue
                if problem is not None:
                    yield WalkProblem(display_name(rel), problem, "name", rel)
                    continue
                try:
                    st = entry.stat()
                except OSError as exc:
                    yield _stat_problem(rel, exc)
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                yield LocalFile(rel, entry.path, st.st_size, st.st_mtime_ns, st.st_ino,
                                st.st_ctime_ns)
        # Reverse so the first subdirectory listed is walked first.
        subdirs.reverse()
        stack.extend(subdirs)


def _stat_problem(rel: str, exc: OSError, suffix: str = "") -> WalkProblem:
    """A name listed but not looked at: gone meanwhile, or not searchable (no ``x`` bit)."""
    if isinstance(exc, FileNotFoundError):
        return WalkProblem(display_name(rel) + suffix, "vanished during the walk", "vanished",
                           rel)
    return WalkProblem(display_name(rel) + suffix, f"cannot stat: {_errno_text(exc)}", "read",
                       rel)


def not_absent(root: str | os.PathLike[str]) -> Callable[[str], str | None]:
    """A last check before ``--delete-removed`` deletes the archive of journal name ``rel``.

    The walk did not yield ``rel``; this looks at the path itself once more and returns why its
    absence is *not* proven (a regular file is there: created since, or reached in a way the
    walk does not go, such as a symlinked directory without ``--follow``; or it cannot be
    looked at), or ``None`` when it is gone or no longer a regular file. One ``stat`` per
    planned deletion, each of which costs a request anyway.
    """
    base = os.fspath(root)

    def check(rel: str) -> str | None:
        try:
            st = os.stat(os.path.join(base, *rel.split("/")))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except (OSError, ValueError) as exc:
            text = _errno_text(exc) if isinstance(exc, OSError) else str(exc)
            return f"cannot stat: {text}"
        if stat.S_ISREG(st.st_mode):
            return "the file exists (it was not seen by the walk)"
        return None

    return check
