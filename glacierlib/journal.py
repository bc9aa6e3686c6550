"""The mt-aws-glacier journal: read versions 0/A/B/C, append version B, lock, repair torn lines.

The journal is the only record of which archive holds which file, so this module is strict
about the format and careful about crashes:

* **Format.** Version B lines are written byte for byte as mt-aws-glacier 1.120 writes them
  (TAB separated, decimal integers, ``NONE`` for an unknown mtime, raw UTF-8 name, ``\\n``), so
  either tool can keep using a journal the other wrote. Versions 0 (space separated), A
  (``archive_id == name`` means "mtime unknown") and C (B's syntax) are read. ``\\r\\n`` is
  accepted. Lines starting ``D\\t`` .. ``Z\\t`` come from a future version and are refused.
* **Latest version of a file.** Live archives are keyed by archive id. When several live
  archives share a name, the latest is the maximum of ``(mtime or time, time)``; an exact tie
  goes to the archive whose CREATED line came later in the file (mt-aws-glacier picked at
  random).
* **Tolerated versus fatal.** mt-aws-glacier refuses a whole journal for two states that lose
  nothing, which leaves the user hand-editing the file before any command works again. By
  default they are tolerated, each with a warning in ``JournalState.warnings`` and a log
  record:

  - a CREATED line repeating a live archive id with the same size, mtime, tree hash and name
    (journals concatenated with ``cat``, or an upload journal merged with one rebuilt from an
    inventory, where only the time differs): the first record is kept;
  - a DELETED line for an archive id that is not live (journals merged or filtered with
    ``grep``): the archive is gone either way.

  A CREATED line that contradicts a live record under the same id (different size, hash, mtime
  or name) stays fatal: there is no way to tell which record is true. ``strict=True`` restores
  mt-aws-glacier's behaviour exactly (both states fatal, a DELETED of an unknown id excused
  only when the filter excludes its name, a torn last line fatal).
* **Torn last line.** A crash can leave a last line without its newline. Readers ignore it
  with a warning (so check-local-hash still works); the next writer moves it to
  ``<journal>.torn-<UTC timestamp>`` next to the journal, truncates the journal to its last
  complete line and reports that: the bytes are never silently dropped.
* **Durability.** Each record is one ``os.write`` of one complete line on an ``O_APPEND``
  descriptor, and is on disk (``fdatasync``, unless ``fsync=False``) before the call that
  appended it returns; threads appending at once share one sync (group commit). A crash can
  lose only records whose calls had not returned; a failed write is truncated away so later
  records never follow a fragment.
* **Locking.** The journal is the lock. A writer holds ``flock(LOCK_EX)`` for its lifetime and
  a second writer is refused at once with ``JournalLockedError``. Readers take ``LOCK_SH``
  while they read; if a writer holds the journal they still read the complete lines written
  so far (append-only lines make every such prefix a consistent journal) and add a warning,
  because refusing check-local-hash for the hours a sync runs helps nobody. A writer that finds
  only readers holding the lock waits for them (they hold it for the seconds a load takes).
* **Speed.** Lines are split on TAB, not matched with a regular expression. The common
  record shapes take a fast path made only of cheap checks that are each a *sufficient*
  condition for what the exact parser accepts (anything unusual, e.g. ``.profile`` or a signed
  mtime, takes the exact path, so both always agree: a property test checks it). Live
  archives are tuples; ``ArchiveEntry`` values are built only when asked for. The cyclic GC
  is paused while loading. ``benchmarks/journal.py`` measures a million records.
* **Index.** Even so, parsing a million lines costs seconds of pure Python on a slow machine,
  while a journal only ever grows. So a writer closing a large journal (``INDEX_MIN_RECORDS``)
  saves the parsed state to ``<journal>.index`` (``marshal``, with a CRC), keyed by the
  journal's device, inode, size and fingerprints of its first MiB and of the 64 KiB before
  that size. The next unfiltered, non-strict load of the same journal restores that state and
  parses only the lines appended since. An index that does not match in every respect (the
  journal replaced, truncated, edited near its end, the index damaged) is ignored: the journal
  is parsed in full, as if the index did not exist. It is a cache; deleting it is always safe.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import gc
import hashlib
import itertools
import json
import logging
import marshal
import os
import re
import threading
import time as _time
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import IO, Any, Protocol

import attrs

from glacierlib.exceptions import JournalError, JournalLockedError, UnsafeNameError
from glacierlib.names import validate_relative_name
from glacierlib.treehash import TreeHash

__all__ = [
    "CREATED",
    "DELETED",
    "RETRIEVE_JOB",
    "ArchiveEntry",
    "JournalRecord",
    "JournalState",
    "JournalWriter",
    "NameFilter",
    "read_journal",
]

logger = logging.getLogger(__name__)

CREATED = "CREATED"
DELETED = "DELETED"
RETRIEVE_JOB = "RETRIEVE_JOB"
_KINDS = frozenset({CREATED, DELETED, RETRIEVE_JOB})
_TAB_VERSIONS = frozenset({"A", "B", "C"})
_BC = ("B", "C")  # A takes the exact path for its quirk
_FUTURE_VERSIONS = frozenset("DEFGHIJKLMNOPQRSTUVWXYZ")
_NUMBER_LIMIT = 10**20  # mt-aws-glacier reads at most 20 digits
_READ_BLOCK = 4 << 20
_MAX_LINE_BYTES = 1 << 20  # far above any real record; bounds memory on garbage input
_MAX_WARNINGS = 200  # a merged journal can hold a million tolerated states: keep a sample
_READER_WAIT_SECONDS = 30.0
INDEX_MIN_RECORDS = 50_000  # below this a full parse takes well under a second
_INDEX_MAGIC = b"glacierlib-journal-index 2\n"
_FINGERPRINT_HEAD = 1 << 20
_FINGERPRINT_TAIL = 64 << 10

_UINT = re.compile(r"[0-9]{1,20}")
_SINT = re.compile(r"[+-]?[0-9]{1,20}")
_V0_CREATED = re.compile(r"([0-9]{1,20}) CREATED (\S+) ([0-9]{1,20}) (\S+) (.*)")
_V0_DELETED = re.compile(r"([0-9]{1,20})\s+DELETED\s+(\S+)\s+(.*)")
_V0_RETRIEVE = re.compile(r"([0-9]{1,20})\s+RETRIEVE_JOB\s+(\S+)")
_JOB_ID_BAD = re.compile(r"[\x00-\x08\x0a-\x1f]")


class NameFilter(Protocol):
    """What the journal needs from ``glacierlib.filters.FilterSet``."""

    def includes(self, rel: str) -> bool: ...




@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of acyclic objects.

    Allocation-triggered collections would otherwise walk the growing live-archive table
    again and again (measured: about a third of the load time); nothing built here can form
    a cycle, so there is nothing for them to find.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------------------------
# Values


def _check_time(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value < _NUMBER_LIMIT:
        raise ValueError(f"{attribute.name} must be 0 <= {attribute.name} < 10**20: {value}")


def _check_archive_id(_instance: object, _attribute: object, value: str) -> None:
    if not value or value.split() != [value]:
        raise ValueError(f"an archive id is non-empty and has no whitespace: {value[:200]!r}")


@attrs.frozen
class ArchiveEntry:
    """One live archive as the journal knows it; ``mtime`` is None when unknown (NONE)."""

    archive_id: str = attrs.field(validator=_check_archive_id)
    size: int = attrs.field(validator=_check_time)
    mtime: int | None
    tree_hash: TreeHash
    name: str
    time: int = attrs.field(validator=_check_time)

    @property
    def sort_key(self) -> tuple[int, int]:
        """The "latest version" key: (mtime, or upload time when unknown; upload time)."""
        return (self.time if self.mtime is None else self.mtime, self.time)


def _check_record(record: JournalRecord) -> None:
    if record.kind not in _KINDS:
        raise ValueError(f"unknown record kind {record.kind!r}")
    if record.kind == CREATED:
        if record.size is None or record.tree_hash is None or record.name is None:
            raise ValueError("a CREATED record has a size, a tree hash and a name")
        if not 0 <= record.size < _NUMBER_LIMIT:
            raise ValueError(f"size out of range: {record.size}")
        if record.mtime is not None and not -_NUMBER_LIMIT < record.mtime < _NUMBER_LIMIT:
            raise ValueError(f"mtime out of range: {record.mtime}")
    elif record.kind == DELETED:
        if record.name is None:
            raise ValueError("a DELETED record has a name")
    elif record.job_id is None or _JOB_ID_BAD.search(record.job_id):
        raise ValueError("a RETRIEVE_JOB record has a job id without control characters")
    if record.name is not None:
        validate_relative_name(record.name)  # also refuses TAB, CR and LF


@attrs.frozen
class JournalRecord:
    """One journal line. Build with ``created``/``deleted``/``retrieve_job`` or parse one.

    Fields a kind does not use are None: CREATED uses size, mtime (None = ``NONE``),
    tree_hash and name; DELETED uses name; RETRIEVE_JOB uses job_id (``""`` for version 0,
    which wrote none). ``to_line`` always writes version B, the only version anyone writes.
    """

    kind: str
    time: int = attrs.field(validator=_check_time)
    archive_id: str = attrs.field(validator=_check_archive_id)
    size: int | None = None
    mtime: int | None = None
    tree_hash: TreeHash | None = None
    name: str | None = None
    job_id: str | None = None

    def __attrs_post_init__(self) -> None:
        _check_record(self)

    @classmethod
    def created(  # noqa: PLR0917 - the fields of a CREATED line, in line order
        cls, time: int, archive_id: str, size: int, mtime: int | None, tree_hash: TreeHash,
        name: str,
    ) -> JournalRecord:
        return cls(CREATED, time, archive_id, size=size, mtime=mtime, tree_hash=tree_hash,
                   name=name)

    @classmethod
    def deleted(cls, time: int, archive_id: str, name: str) -> JournalRecord:
        return cls(DELETED, time, archive_id, name=name)

    @classmethod
    def retrieve_job(cls, time: int, archive_id: str, job_id: str) -> JournalRecord:
        return cls(RETRIEVE_JOB, time, archive_id, job_id=job_id)

    @classmethod
    def parse_untrusted(cls, line: bytes, path: object, lineno: int) -> JournalRecord:
        """Parse one line (with or without its ``\\n`` / ``\\r\\n``) from a journal file.

        Raises JournalError naming ``path`` and ``lineno`` for anything mt-aws-glacier would
        not read: bad UTF-8, blank, future version, broken fields, unsafe file name.
        """
        if line.endswith(b"\n"):
            line = line[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
        if b"\n" in line:
            raise JournalError("a record holds a line break", path=path, line=lineno)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise JournalError(
                f"invalid UTF-8 at byte {exc.start} of the line", path=path, line=lineno
            ) from None
        return _parse_text(text, path, lineno)

    def to_line(self) -> bytes:
        """The version-B line mt-aws-glacier 1.120 writes for this event, ``\\n`` included."""
        if self.kind == CREATED:
            assert self.tree_hash is not None
            mtime = "NONE" if self.mtime is None else str(self.mtime)
            text = (f"B\t{self.time}\tCREATED\t{self.archive_id}\t{self.size}\t{mtime}\t"
                    f"{self.tree_hash.hex}\t{self.name}\n")
        elif self.kind == DELETED:
            text = f"B\t{self.time}\tDELETED\t{self.archive_id}\t{self.name}\n"
        else:
            text = f"B\t{self.time}\tRETRIEVE_JOB\t{self.archive_id}\t{self.job_id}\n"
        return text.encode("utf-8")


# --------------------------------------------------------------------------------------------
# The exact (slow) parser: every line the fast path does not handle goes through here.


def _broken(text: str, path: object, lineno: int, why: str) -> JournalError:
    return JournalError(f"broken record ({why}): {text[:200]!r}", path=path, line=lineno)


def _uint(text: str, what: str, line: str, path: object, lineno: int) -> int:
    if not _UINT.fullmatch(text):
        raise _broken(line, path, lineno, f"{what} is not a decimal number")
    return int(text)


def _parse_text(text: str, path: object, lineno: int) -> JournalRecord:
    if not text:
        raise JournalError("blank line (not allowed in a journal)", path=path, line=lineno)
    if len(text) > _MAX_LINE_BYTES:
        raise JournalError("line longer than 1 MiB", path=path, line=lineno)
    first = text[0]
    if text[1:2] == "\t":
        if first in _TAB_VERSIONS:
            return _parse_tab(text, path, lineno)
        if first in _FUTURE_VERSIONS:
            raise JournalError(
                f"record of a future journal version {first!r}; upgrade mtglacier",
                path=path, line=lineno,
            )
    if "0" <= first <= "9":
        return _parse_v0(text, path, lineno)
    raise JournalError(f"unknown record format: {text[:200]!r}", path=path, line=lineno)


def _make(text: str, path: object, lineno: int, build: Callable[[], JournalRecord]) -> (
    JournalRecord
):
    try:
        return build()
    except UnsafeNameError as exc:
        raise JournalError(f"invalid file name: {exc.message}", path=path, line=lineno) from None
    except ValueError as exc:
        raise _broken(text, path, lineno, str(exc)) from None


def _parse_tab(text: str, path: object, lineno: int) -> JournalRecord:
    fields = text.split("\t")
    version = fields[0]
    kind = fields[2] if len(fields) > 2 else ""
    if kind == CREATED:
        if len(fields) != 8:
            raise _broken(text, path, lineno, f"CREATED has 8 fields, found {len(fields)}")
        t, _, aid, size, mtime_text, hash_text, name = fields[1:]
        when = _uint(t, "time", text, path, lineno)
        nbytes = _uint(size, "size", text, path, lineno)
        mtime: int | None
        if mtime_text == "NONE":
            if version == "A":
                raise _broken(text, path, lineno, "version A has no NONE mtime")
            mtime = None
        elif _SINT.fullmatch(mtime_text):
            mtime = int(mtime_text)
        else:
            raise _broken(text, path, lineno, "mtime is neither a number nor NONE")
        if version == "A" and aid == name:
            mtime = None  # the A-era download-inventory wrote the id as name and a made-up mtime
        return _make(text, path, lineno, lambda: JournalRecord.created(
            when, aid, nbytes, mtime, TreeHash.from_hex(hash_text), name))
    if kind == DELETED:
        if len(fields) != 5:
            raise _broken(text, path, lineno, f"DELETED has 5 fields, found {len(fields)}")
        when = _uint(fields[1], "time", text, path, lineno)
        return _make(text, path, lineno,
                     lambda: JournalRecord.deleted(when, fields[3], fields[4]))
    if kind == RETRIEVE_JOB:
        if len(fields) < 5:
            raise _broken(text, path, lineno, "RETRIEVE_JOB has a job id")
        when = _uint(fields[1], "time", text, path, lineno)
        job = "\t".join(fields[4:])
        return _make(text, path, lineno,
                     lambda: JournalRecord.retrieve_job(when, fields[3], job))
    raise _broken(text, path, lineno, "unknown record type")


def _parse_v0(text: str, path: object, lineno: int) -> JournalRecord:
    m = _V0_CREATED.fullmatch(text)
    if m:
        t, aid, size, hash_text, name = m.groups()
        return _make(text, path, lineno, lambda: JournalRecord.created(
            int(t), aid, int(size), None, TreeHash.from_hex(hash_text), name))
    m = _V0_DELETED.fullmatch(text)
    if m:
        t, aid, name = m.groups()
        return _make(text, path, lineno, lambda: JournalRecord.deleted(int(t), aid, name))
    m = _V0_RETRIEVE.fullmatch(text)
    if m:
        t, aid = m.groups()
        return _make(text, path, lineno, lambda: JournalRecord.retrieve_job(int(t), aid, ""))
    raise _broken(text, path, lineno, "version 0 line that does not parse")


# --------------------------------------------------------------------------------------------
# State

# name, size, mtime, tree hash digest, time: a tuple per live archive keeps a million cheap.
_Live = tuple[str, int, "int | None", bytes, int]


class _ArchivesView(Mapping[str, ArchiveEntry]):
    """Read-only live archives by id; builds ``ArchiveEntry`` values only on access."""

    def __init__(self, live: dict[str, _Live]) -> None:
        self._live = live

    def __getitem__(self, archive_id: str) -> ArchiveEntry:
        return _entry(archive_id, self._live[archive_id])

    def __iter__(self) -> Iterator[str]:
        return iter(self._live)

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, archive_id: object) -> bool:
        return archive_id in self._live


_set = object.__setattr__


def _entry(archive_id: str, value: _Live) -> ArchiveEntry:
    """Build an entry from already validated state without re-running the validators.

    Callers of ``latest_by_name`` on a million archives would otherwise pay seconds for
    checks the loader already made.
    """
    name, size, mtime, digest, when = value
    tree_hash = object.__new__(TreeHash)
    _set(tree_hash, "digest", digest)
    entry = object.__new__(ArchiveEntry)
    _set(entry, "archive_id", archive_id)
    _set(entry, "size", size)
    _set(entry, "mtime", mtime)
    _set(entry, "tree_hash", tree_hash)
    _set(entry, "name", name)
    _set(entry, "time", when)
    return entry


class JournalState:
    """What a journal says: live archives, the latest archive per name, retrieval jobs.

    Changed only by ``JournalWriter`` appends, in place and under the writer's lock, so that
    planning always sees what is on disk; iterate it while no other thread appends (the
    executor appends from one thread). ``warnings`` lists tolerated problems (torn last line,
    repeated CREATED, DELETED of an unknown id, a busy journal), the first 200 and a count.
    ``records`` is the number of complete lines read or appended.
    """

    def __init__(self) -> None:
        self._live: dict[str, _Live] = {}
        self._jobs: dict[str, int] = {}
        self._latest: dict[str, tuple[tuple[int, int], str]] | None = None
        self.warnings: list[str] = []
        self._suppressed = 0
        self.records = 0
        self._indexed_size = 0  # journal bytes covered by the index this state came from
        self._content_warnings: list[str] = []

    @property
    def archives(self) -> Mapping[str, ArchiveEntry]:
        return _ArchivesView(self._live)

    @property
    def retrieve_jobs(self) -> Mapping[str, int]:
        """Archive id -> time of its newest RETRIEVE_JOB record (restore applies the 24 h)."""
        return MappingProxyType(self._jobs)

    def _index(self) -> dict[str, tuple[tuple[int, int], str]]:
        if self._latest is None:
            with _gc_paused():
                self._latest = self._build_index()
        return self._latest

    def _build_index(self) -> dict[str, tuple[tuple[int, int], str]]:
        best: dict[str, tuple[tuple[int, int], str]] = {}
        get = best.get
        for aid, (name, _size, mtime, _digest, when) in self._live.items():
            key = (when if mtime is None else mtime, when)
            cur = get(name)
            if cur is None or key >= cur[0]:  # >=: a later CREATED line wins a full tie
                best[name] = (key, aid)
        return best

    def latest(self, name: str) -> ArchiveEntry | None:
        """The latest live archive of ``name`` (max of (mtime or time, time), then line)."""
        hit = self._index().get(name)
        return None if hit is None else _entry(hit[1], self._live[hit[1]])

    def latest_by_name(self) -> dict[str, ArchiveEntry]:
        """Every name's latest archive (builds one ``ArchiveEntry`` per name)."""
        live = self._live
        with _gc_paused():
            return {name: _entry(aid, live[aid]) for name, (_k, aid) in self._index().items()}

    def names_sorted(self) -> list[str]:
        return sorted(self._index())

    def _warn(self, message: str) -> None:
        logger.warning("%s", message)
        if len(self.warnings) < _MAX_WARNINGS:
            self.warnings.append(message)
        else:
            self._suppressed += 1

    def _finish_warnings(self) -> None:
        if self._suppressed:
            self.warnings.append(f"{self._suppressed} more journal warnings not listed")
            self._suppressed = 0

    def _apply(self, rec: JournalRecord, path: object, lineno: int,
               filters: NameFilter | None, strict: bool) -> None:
        """Apply one record with mt-aws-glacier's rules (see the module docstring)."""
        aid = rec.archive_id
        if rec.kind == CREATED:
            assert rec.name is not None and rec.size is not None and rec.tree_hash is not None
            if filters is not None and not filters.includes(rec.name):
                return
            value = (rec.name, rec.size, rec.mtime, rec.tree_hash.digest, rec.time)
            old = self._live.get(aid)
            if old is not None:
                if strict:
                    raise JournalError(f"duplicate CREATED of archive {aid}", path=path,
                                       line=lineno)
                if old[:4] != value[:4]:
                    raise JournalError(
                        f"CREATED of archive {aid} contradicts the live record of it "
                        f"({old[0]!r}, {old[1]} bytes)", path=path, line=lineno)
                self._warn(f"{path}, line {lineno}: repeated CREATED of archive {aid} "
                           "ignored (same file, size and hash)")
                return
            self._live[aid] = value
            index = self._latest
            if index is not None:  # keep a built index current: appends must stay O(1)
                key = (rec.time if rec.mtime is None else rec.mtime, rec.time)
                cur = index.get(rec.name)
                if cur is None or key >= cur[0]:
                    index[rec.name] = (key, aid)
        elif rec.kind == DELETED:
            assert rec.name is not None
            gone = self._live.pop(aid, None)
            if gone is not None:
                index = self._latest
                if index is not None and index.get(gone[0], ((0, 0), ""))[1] == aid:
                    self._latest = None  # its name's latest is gone: rebuild when asked
            elif filters is not None and not filters.includes(rec.name):
                pass  # mt-aws-glacier 1.114+: unknown but filtered out is fine
            elif strict:
                raise JournalError(f"DELETED of archive {aid}, which is not in the journal",
                                   path=path, line=lineno)
            else:
                self._warn(f"{path}, line {lineno}: DELETED of archive {aid} that is not "
                           "in the journal ignored")
        elif self._jobs.get(aid, -1) < rec.time:
            self._jobs[aid] = rec.time


# --------------------------------------------------------------------------------------------
# Loading


def _load(f: IO[bytes], path: object, filters: NameFilter | None, strict: bool,
          state: JournalState | None = None) -> JournalState:
    """Read complete lines from ``f`` into a state; the caller holds whatever lock it needs."""
    if state is None:
        state = JournalState()
    first_warning = len(state.warnings)
    with _gc_paused():
        if not strict and not (filters is not None and filters):
            start = _load_index(f, Path(path), state) if isinstance(path, (str, Path)) else 0
            if start:
                f.seek(start)
        _load_lines(f, path, filters, strict, state)
    # What the journal's content says (tolerated states), as opposed to notes about this
    # session (a repaired torn line, a busy journal): only the former belongs in an index.
    state._content_warnings = state.warnings[first_warning:]
    return state


def _index_path(path: Path) -> Path:
    return path.with_name(path.name + ".index")


def _fingerprint(fd: int, size: int) -> str:
    """SHA-256 of the journal's first MiB and of the 64 KiB before ``size``.

    Appends leave both untouched; replacing, truncating or rewriting the journal (``grep -v``,
    an editor, ``cat`` of another journal) changes the inode, the size or one of them.
    """
    digest = hashlib.sha256()
    digest.update(os.pread(fd, min(size, _FINGERPRINT_HEAD), 0))
    tail = max(0, size - _FINGERPRINT_TAIL)
    digest.update(os.pread(fd, size - tail, tail))
    return digest.hexdigest()


def _load_index(f: IO[bytes], path: Path, state: JournalState) -> int:
    """Restore ``state`` from a matching index; return the journal offset it covers, or 0.

    Layout: magic, then chunks (8-byte little-endian length + ``marshal`` of a tagged tuple:
    ``("live", {...})`` slices of the live archives, then one ``("meta", (jobs, warnings,
    records))``), then the JSON header and its 8-byte length, last so that it can carry the
    CRC and length of everything before it without a second pass.
    """
    try:
        data = _index_path(path).read_bytes()
    except OSError:
        return 0
    try:
        if not data.startswith(_INDEX_MAGIC) or len(data) < len(_INDEX_MAGIC) + 8:
            raise ValueError("not an index")
        header_len = int.from_bytes(data[-8:], "little")
        header_at = len(data) - 8 - header_len
        if header_at < len(_INDEX_MAGIC):
            raise ValueError("index header out of place")
        header = json.loads(data[header_at:-8])
        st = os.fstat(f.fileno())
        size = header["size"]
        if (header["dev"], header["ino"]) != (st.st_dev, st.st_ino) or not 0 < size <= st.st_size:
            raise ValueError("index of another journal or of a longer one")
        if header["fingerprint"] != _fingerprint(f.fileno(), size):
            raise ValueError("journal changed before the indexed size")
        payload = memoryview(data)[len(_INDEX_MAGIC) : header_at]
        if len(payload) != header["length"] or zlib.crc32(payload) != header["crc32"]:
            raise ValueError("index damaged")
        live: dict[str, _Live] = {}
        meta: object = None
        pos = 0
        while pos < len(payload):
            n = int.from_bytes(payload[pos : pos + 8], "little")
            # Only our own writer makes this file, next to a journal it could rewrite anyway;
            # the CRC above catches damage, and the shapes are checked below.
            tag, value = marshal.loads(payload[pos + 8 : pos + 8 + n])  # noqa: S302
            pos += 8 + n
            if tag == "live" and isinstance(value, dict):
                live.update(value)
            elif tag == "meta":
                meta = value
            else:
                raise ValueError("index has an unknown chunk")
        if not (isinstance(meta, tuple) and len(meta) == 3):
            raise ValueError("index has no meta chunk")
        jobs: object = meta[0]
        warnings: object = meta[1]
        records: object = meta[2]
        if not (isinstance(jobs, dict) and isinstance(warnings, list)
                and isinstance(records, int)):
            raise ValueError("index has an unexpected shape")
    except (ValueError, KeyError, TypeError, EOFError, OSError) as exc:
        logger.debug("journal index of %s not used: %s", path, exc)
        return 0
    state._live = live
    state._jobs = jobs
    for warning in warnings:
        state._warn(str(warning))
    state.records = records
    state._indexed_size = int(size)
    logger.debug("journal %s: %d records restored from its index", path, records)
    return int(size)


_INDEX_CHUNK = 65_536  # live archives per chunk: bounds the memory a write needs (~15 MB)


def _write_index(path: Path, fd: int, size: int, state: JournalState) -> None:
    """Save the parsed state for the next load (atomically; failures only cost speed)."""
    st = os.fstat(fd)
    target = _index_path(path)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    crc = 0
    length = 0
    try:
        with open(tmp, "wb") as out:
            out.write(_INDEX_MAGIC)
            items = iter(state._live.items())
            chunks: Iterator[tuple[str, Any]] = itertools.chain(
                iter(lambda: ("live", dict(itertools.islice(items, _INDEX_CHUNK))),
                     ("live", {})),
                [("meta", (state._jobs, state._content_warnings, state.records))],
            )
            for chunk in chunks:
                blob = marshal.dumps(chunk, 4)
                framed = len(blob).to_bytes(8, "little")
                for piece in (framed, blob):
                    out.write(piece)
                    crc = zlib.crc32(piece, crc)
                length += 8 + len(blob)
            header = json.dumps({
                "dev": st.st_dev, "ino": st.st_ino, "size": size,
                "fingerprint": _fingerprint(fd, size), "length": length, "crc32": crc,
            }).encode()
            out.write(header + len(header).to_bytes(8, "little"))
        os.replace(tmp, target)
    except OSError as exc:
        logger.debug("journal index of %s not written: %s", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink()


def _load_lines(f: IO[bytes], path: object, filters: NameFilter | None, strict: bool,
                state: JournalState) -> None:
    live = state._live
    fromhex = bytes.fromhex
    apply = state._apply
    slow = 0
    lineno = state.records  # non-zero when an index restored the first lines
    rest = b""
    while True:
        block = f.read(_READ_BLOCK)
        if not block:
            break
        data = rest + block if rest else block
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest = data
            if len(rest) > _MAX_LINE_BYTES:
                raise JournalError("line longer than 1 MiB", path=path, line=lineno + 1)
            continue
        rest = data[cut:]
        if len(rest) > _MAX_LINE_BYTES:
            raise JournalError("line longer than 1 MiB", path=path,
                               line=lineno + data.count(b"\n", 0, cut) + 1)
        try:
            text = data[:cut].decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = lineno + data.count(b"\n", 0, exc.start) + 1
            raise JournalError("invalid UTF-8 (the journal must be UTF-8)", path=path,
                               line=bad) from None
        del data
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        lines.pop()  # the empty string after the final newline
        del text
        if max(map(len, lines)) > _MAX_LINE_BYTES:
            too_long = next(i for i, x in enumerate(lines) if len(x) > _MAX_LINE_BYTES)
            raise JournalError("line longer than 1 MiB", path=path, line=lineno + too_long + 1)
        for line in lines:
            lineno += 1
            f_ = line.split("\t")
            n = len(f_)
            # Fast path for the shapes real journals are made of. Every check is a sufficient
            # condition for what the exact parser accepts; anything else (signed mtime, a name
            # starting with "." or holding "/.", a duplicate...) goes to the exact parser.
            if n == 8 and f_[2] == "CREATED":
                # The bulk of every journal (str.isascii is O(1): digits must be ASCII).
                v, t, _, aid, size, mt, th, name = f_
                ts = t + size
                if (
                    v in _BC and ts.isdigit() and ts.isascii() and len(t) <= 20
                    and len(size) <= 20 and aid not in live and len(th) == 64
                    and aid and " " not in aid and aid.isprintable() and name.isprintable()
                    and name and name[0] not in "/." and name[-1] != "/"
                    and "//" not in name and "/." not in name
                ):
                    mtime: int | None = None
                    if mt != "NONE" and not (mt.isdigit() and mt.isascii() and len(mt) <= 20):
                        mtime = -1  # signed or broken: the exact parser decides
                    elif mt != "NONE":
                        mtime = int(mt)
                    if mtime != -1:
                        try:
                            digest = fromhex(th)
                        except ValueError:
                            digest = b""
                        if len(digest) == 32:
                            if filters is None or filters.includes(name):
                                live[aid] = (name, int(size), mtime, digest, int(t))
                            continue
            elif n == 5 and f_[2] == "DELETED":
                v, t, _, aid, name = f_
                if (
                    v in _BC and t.isdigit() and t.isascii() and len(t) <= 20 and aid in live
                    and name and name.isprintable() and name[0] not in "/."
                    and name[-1] != "/" and "//" not in name and "/." not in name
                ):
                    del live[aid]
                    continue
            slow += 1
            apply(_parse_text(line, path, lineno), path, lineno, filters, strict)
    if rest:
        if strict:
            raise JournalError("last line not fully written (no newline at its end)",
                               path=path, line=lineno + 1)
        state._warn(f"{path}, line {lineno + 1}: last line not fully written (a crash or a "
                    f"writer still running?); its {len(rest)} bytes are ignored")
    state._latest = None
    state.records = lineno
    state._finish_warnings()
    logger.debug("journal %s: %d records, %d live, %d on the exact path", path, lineno,
                 len(live), slow)


def read_journal(path: str | os.PathLike[str], *, filters: NameFilter | None = None,
                 strict: bool = False) -> JournalState:
    """Read a journal for a read-only command; a missing file is an empty state.

    Takes a shared lock while reading. If a writer holds the journal, the complete lines it
    has written so far are read anyway (with a warning): they are a consistent journal.
    Nothing is created or modified.
    """
    path = Path(path)
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, after the lock
    except FileNotFoundError:
        return JournalState()
    except OSError as exc:
        raise JournalError(f"cannot open the journal: {exc.strerror}", path=path) from None
    with f:
        busy = False
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            busy = True
        state = JournalState()
        if busy:
            state._warn(f"{path}: another process is writing this journal; read the records "
                        "written so far")
        try:
            return _load(f, path, filters, strict, state)
        except OSError as exc:
            raise JournalError(f"cannot read the journal: {exc.strerror}", path=path) from None


# --------------------------------------------------------------------------------------------
# Writing


_sync: Callable[[int], None] = getattr(os, "fdatasync", os.fsync)


def _fsync_dir(path: Path) -> None:
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


def _lock_exclusive(fd: int, path: Path) -> None:
    """Take LOCK_EX; refuse at once if a writer has it, wait a little if only readers do."""
    deadline = _time.monotonic() + _READER_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        try:
            # Succeeds only when no writer holds it: then readers do, and they finish soon.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JournalLockedError(
                "the journal is in use by another mtglacier process writing to it",
                path=path, hint="wait for that sync or upload to finish, or use another "
                "journal") from None
        fcntl.flock(fd, fcntl.LOCK_UN)
        if _time.monotonic() > deadline:
            raise JournalLockedError(
                f"the journal stayed locked by readers for {_READER_WAIT_SECONDS:.0f} s",
                path=path, hint="wait for check-local-hash or other readers to finish")
        _time.sleep(0.05)


def _repair_torn_tail(fd: int, path: Path, fsync: bool) -> str | None:
    """Move an unterminated last line aside and truncate; return the report, or None."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return None
    cut, pos = 0, size
    while pos > 0:
        start = max(0, pos - 65536)
        i = os.pread(fd, pos - start, start).rfind(b"\n")
        if i >= 0:
            cut = start + i + 1
            break
        pos = start
    stamp = _time.strftime("%Y%m%dT%H%M%SZ", _time.gmtime())
    for n in range(1000):
        aside = path.with_name(f"{path.name}.torn-{stamp}" + (f".{n}" if n else ""))
        try:
            out = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            break
        except FileExistsError:
            continue
    else:  # pragma: no cover - a thousand repairs in one second
        raise JournalError("cannot find a free name to move the torn line to", path=path)
    try:
        off = cut
        while off < size:
            chunk = os.pread(fd, min(1 << 20, size - off), off)
            os.write(out, chunk)
            off += len(chunk)
        os.fsync(out)
    finally:
        os.close(out)
    _fsync_dir(path)
    os.ftruncate(fd, cut)
    if fsync:
        os.fsync(fd)
    return (f"{path}: the last line was not fully written (a crash during a write?); its "
            f"{size - cut} bytes were moved to {aside} and the journal was truncated to its "
            "last complete line")


def _append_error(exc: OSError, path: Path) -> JournalError:
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, "error")
    return JournalError(f"cannot append to the journal: {reason}", path=path)


@attrs.define(init=False)
class JournalWriter:
    """The one process allowed to append to a journal, for as long as it is open.

    Open with ``JournalWriter.open(path)``; ``.state`` is the journal as read under the lock
    and stays current as records are appended. Methods may be called from any thread.
    """

    path: Path
    state: JournalState
    _fd: int
    _fsync: bool
    _size: int
    _lock: threading.Lock
    _closed: bool
    _broken: bool
    _indexable: bool
    _sync_lock: threading.Lock
    _written: int
    _synced: int

    def __init__(self, path: Path, fd: int, state: JournalState, fsync: bool,
                 indexable: bool = False) -> None:
        self.path = path
        self._fd = fd
        self.state = state
        self._fsync = fsync
        self._size = os.fstat(fd).st_size
        self._lock = threading.Lock()
        self._closed = False
        self._broken = False
        self._indexable = indexable
        self._sync_lock = threading.Lock()
        self._written = 0  # records appended by this writer
        self._synced = 0  # of which known to be on disk

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, fsync: bool = True,
             filters: NameFilter | None = None, strict: bool = False) -> JournalWriter:
        """Create the journal if missing, lock it, repair a torn last line, read it."""
        path = Path(path)
        existed = path.exists()
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise JournalError(f"cannot open the journal for writing: {exc.strerror}",
                               path=path) from None
        try:
            _lock_exclusive(fd, path)
            if not existed and fsync:
                _fsync_dir(path)
            report = _repair_torn_tail(fd, path, fsync)
            state = JournalState()
            if report is not None:
                state._warn(report)
            os.lseek(fd, 0, os.SEEK_SET)
            with os.fdopen(os.dup(fd), "rb", closefd=True) as f:
                _load(f, path, filters, strict, state)
        except OSError as exc:
            os.close(fd)
            raise JournalError(f"cannot prepare the journal: {exc.strerror}",
                               path=path) from None
        except BaseException:
            os.close(fd)
            raise
        indexable = not strict and not (filters is not None and filters)
        return cls(path, fd, state, fsync, indexable)

    @property
    def warnings(self) -> list[str]:
        return self.state.warnings

    def _append(self, record: JournalRecord) -> None:
        data = record.to_line()
        with self._lock:
            if self._closed:
                raise JournalError("the journal writer is closed", path=self.path)
            if self._broken:
                raise JournalError("an earlier write failed and could not be undone",
                                   path=self.path)
            live = self.state._live
            if record.kind == CREATED and record.archive_id in live:
                raise JournalError(f"archive {record.archive_id} is already in the journal",
                                   path=self.path)
            if record.kind == DELETED and record.archive_id not in live:
                raise JournalError(f"archive {record.archive_id} is not in the journal",
                                   path=self.path)
            start = self._size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(self._fd, view):]
            except OSError as exc:
                try:
                    os.ftruncate(self._fd, start)  # never leave a fragment before a record
                except OSError:
                    self._broken = True
                raise _append_error(exc, self.path) from None
            self._size = start + len(data)
            self.state.records += 1
            self.state._apply(record, self.path, self.state.records, None, False)
            self._written += 1
            ticket = self._written
        if self._fsync:
            self._sync_through(ticket)

    def _sync_through(self, ticket: int) -> None:
        """Return once record number ``ticket`` is on disk: group commit.

        Threads appending at once share one fdatasync instead of queueing one each behind the
        append lock (small-file syncs are bound by it). Every record is still durable before
        its ``created``/``deleted`` call returns. A failed sync cannot be undone for records
        others appended since, so it marks the writer broken: nothing more is appended.
        """
        with self._sync_lock:
            if self._synced >= ticket:
                return  # a sync that began after our write covered it
            with self._lock:
                target = self._written
            try:
                _sync(self._fd)
            except OSError as exc:
                self._broken = True
                raise _append_error(exc, self.path) from None
            self._synced = target

    def created(  # noqa: PLR0917 - the contract in docs/architecture.md
        self, archive_id: str, size: int, mtime: int | None, tree_hash: TreeHash, name: str,
        time: int | None = None,
    ) -> JournalRecord:
        """Record an uploaded archive; ``time`` defaults to now (epoch seconds)."""
        record = JournalRecord.created(int(_time.time()) if time is None else time,
                                       archive_id, size, mtime, tree_hash, name)
        self._append(record)
        return record

    def deleted(self, archive_id: str, name: str, time: int | None = None) -> JournalRecord:
        record = JournalRecord.deleted(int(_time.time()) if time is None else time,
                                       archive_id, name)
        self._append(record)
        return record

    def retrieve_job(self, archive_id: str, job_id: str,
                     time: int | None = None) -> JournalRecord:
        if not job_id:
            raise ValueError("a retrieval job id is not empty")
        record = JournalRecord.retrieve_job(int(_time.time()) if time is None else time,
                                            archive_id, job_id)
        self._append(record)
        return record

    def close(self) -> None:
        """Save the index of a large journal, release the lock; safe to call twice."""
        with self._lock:
            if not self._closed:
                self._closed = True
                try:
                    if self._needs_index():
                        with _gc_paused():
                            _write_index(self.path, self._fd, self._size, self.state)
                finally:
                    os.close(self._fd)

    def _needs_index(self) -> bool:
        if not self._indexable or self._broken or self.state.records < INDEX_MIN_RECORDS:
            return False
        # Nothing appended since an index covering the whole journal was read: it is current.
        return self.state._indexed_size != self._size

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
