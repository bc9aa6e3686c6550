"""Archives the service stored but the journal could not record: never silent, never lost.

When an append to the journal fails (disk full, I/O error) after the service accepted an
archive, that archive exists in the vault and nothing local names it: the next run would
upload the file again and leave a hidden copy. So each such archive is

* written, as the journal line it should have been, to a side file: ``<journal>.unrecorded``
  next to the journal when that can be written, else ``$XDG_STATE_HOME/mtglacier/``
  (``~/.local/state/mtglacier/``) under a name derived from the journal's absolute path;
* carried by the :class:`JournalWriteError` the run ends with (exit 1, not a usage error), so
  the CLI prints every id, name, size and tree hash whatever happened to the side file;
* appended to the journal by the next run that opens it (:func:`recover_unrecorded`), before
  it plans anything, so that run does not upload those files again. A line whose archive id
  already appears anywhere in the journal is dropped, never recorded twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import mmap
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import attrs

from glacierlib.exceptions import JournalError
from glacierlib.journal import CREATED, JournalRecord, JournalWriter
from glacierlib.treehash import TreeHash

__all__ = [
    "JournalWriteError",
    "UnrecordedArchive",
    "UnrecordedLog",
    "default_state_dir",
    "recover_unrecorded",
    "side_files",
]

logger = logging.getLogger(__name__)


@attrs.frozen
class UnrecordedArchive:
    """An archive in the vault that the journal could not record."""

    archive_id: str
    name: str
    size: int
    tree_hash: TreeHash
    mtime: int | None
    time: int

    def describe(self) -> str:
        return (f"{self.name}: archive_id {self.archive_id}, {self.size} bytes, "
                f"treehash {self.tree_hash.hex}")

    def record(self) -> JournalRecord:
        return JournalRecord.created(self.time, self.archive_id, self.size, self.mtime,
                                     self.tree_hash, self.name)


class JournalWriteError(JournalError):
    """The journal could not record archives the service had stored (exit 1, not usage).

    ``unrecorded`` lists each such archive; ``saved_to`` is the side file they were written
    to, or ``None`` when no place could take them (then the output is the only record).
    """

    def __init__(self, message: str, *, path: object = None,
                 unrecorded: Sequence[UnrecordedArchive] = (), saved_to: Path | None = None,
                 hint: str | None = None) -> None:
        self.unrecorded = tuple(unrecorded)
        self.saved_to = saved_to
        super().__init__(message, path=path, hint=hint)


def default_state_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$XDG_STATE_HOME/mtglacier``, else ``~/.local/state/mtglacier`` (``None``: no home)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME")
    if base and os.path.isabs(base):
        return Path(base) / "mtglacier"
    home = env.get("HOME")
    return Path(home) / ".local" / "state" / "mtglacier" if home else None


def side_files(journal: Path, state_dir: Path | None) -> list[Path]:
    """Where the unrecorded archives of ``journal`` go, in order of preference."""
    paths = [Path(os.fspath(journal) + ".unrecorded")]
    if state_dir is not None:
        key = hashlib.sha256(os.fsencode(os.path.abspath(journal))).hexdigest()[:16]
        paths.append(state_dir / f"unrecorded-{Path(journal).name}-{key}.log")
    return paths


def _append_durably(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)  # no torn line for the next run to trip on
                if start == 0:
                    path.unlink()
            raise
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


class UnrecordedLog:
    """Saves unrecorded archives for one journal, to the first side file that takes them."""

    def __init__(self, journal: Path, state_dir: Path | None) -> None:
        self.journal = journal
        self._paths = side_files(journal, state_dir)
        self._lock = threading.Lock()
        self.saved_to: Path | None = None

    def save(self, archive: UnrecordedArchive) -> Path | None:
        """Append one archive durably; return where, or ``None`` if no place took it."""
        line = archive.record().to_line()
        with self._lock:
            for path in self._paths:
                try:
                    _append_durably(path, line)
                except OSError as exc:
                    logger.info("%s: cannot save the unrecorded archive %s there: %s",
                                path, archive.archive_id, exc.strerror or exc)
                    continue
                self.saved_to = self.saved_to or path
                return path
        return None


def _mentioned(journal: Path, ids: Iterable[str]) -> set[str]:
    """The ids that appear anywhere in the journal's bytes (CREATED or DELETED alike)."""
    ids = list(ids)
    try:
        with open(journal, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                return set()
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return {i for i in ids if data.find(b"\t" + i.encode() + b"\t") >= 0}
    except FileNotFoundError:
        return set()


def _archive(record: JournalRecord) -> UnrecordedArchive:
    assert record.size is not None and record.tree_hash is not None
    assert record.name is not None
    return UnrecordedArchive(record.archive_id, record.name, record.size, record.tree_hash,
                             record.mtime, record.time)


def recover_unrecorded(writer: JournalWriter, state_dir: Path | None) -> list[Path]:
    """Append to the journal the archives earlier runs could not record; remove the files.

    Runs under the writer's lock, before planning. A side file whose lines cannot all be
    appended stays for the next run (:class:`JournalWriteError`, naming the archives not yet
    recorded; one appended twice is skipped next time). Returns the files used.
    """
    used = []
    for path in side_files(writer.path, state_dir):
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue
        except OSError as exc:
            logger.warning("%s: cannot read unrecorded archives: %s", path, exc.strerror)
            continue
        records = []
        for lineno, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = JournalRecord.parse_untrusted(line, path, lineno)
            except JournalError as exc:
                logger.warning("%s", exc.message)
                continue
            if record.kind == CREATED:
                records.append(record)
        known = _mentioned(writer.path, (r.archive_id for r in records))
        todo = [_archive(r) for r in records if r.archive_id not in known]
        for n, archive in enumerate(todo):
            try:
                writer.created(archive.archive_id, archive.size, archive.mtime,
                               archive.tree_hash, archive.name, time=archive.time)
            except JournalError as exc:
                raise JournalWriteError(
                    f"cannot record the archives saved in {path} ({exc})",
                    unrecorded=todo[n:], saved_to=path,
                    hint="free space for the journal, then run the same command again",
                ) from None
        path.unlink()
        used.append(path)
    return used
