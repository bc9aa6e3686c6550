"""Journal records: one line of the mt-aws-glacier journal, its values and the exact parser.

Versions 0 (space separated), A (``archive_id == name`` means "mtime unknown"), B and C
(B's syntax) are read; ``to_line`` always writes version B, byte for byte as mt-aws-glacier
1.120 does. The exact parser here is the definition of what a journal may hold: the fast
loaders in ``journal_load`` only take shortcuts whose every check is a *sufficient*
condition for what this parser accepts, and send anything else here.

**Numbers.** Every numeric field is checked for range at parse time (and when a record or an
entry is built), so a value the rest of the program cannot handle never gets past the load,
and the error names the file and line instead of a later command crashing half-way (a
20-digit mtime used to reach ``os.utime`` in restore-completed and raise OverflowError with a
partial file left behind). One rule, for every field:

* ``size``: 0 .. ``MAX_ARCHIVE_SIZE`` (40 TiB, Glacier's largest archive: 10,000 parts of
  4 GiB). 0 is kept readable: Glacier never stores one, but refusing a whole journal over it
  would cost a hand edit and protect nothing.
* ``mtime``: ``MIN_MTIME`` .. ``MAX_MTIME``, the years 1000..9999 (UTC), mt-aws-glacier's
  range and that of the ``mt2`` description: ``datetime`` takes every such value and
  ``os.utime`` does too (a 64-bit ``time_t``; file systems clamp what they cannot store).
* ``time`` (when the line was written): 0 .. ``MAX_MTIME``.

A field of digits beyond its range is "out of range"; anything else is "not a decimal number".
"""

from __future__ import annotations

import re
from collections.abc import Callable

import attrs

from glacierlib.exceptions import JournalError, UnsafeNameError
from glacierlib.metadata import MAX_MTIME, MIN_MTIME
from glacierlib.names import validate_relative_name
from glacierlib.treehash import TreeHash

__all__ = [
    "CREATED",
    "DELETED",
    "MAX_ARCHIVE_SIZE",
    "MAX_MTIME",
    "MAX_TIME",
    "MIN_MTIME",
    "RETRIEVE_JOB",
    "ArchiveEntry",
    "JournalRecord",
    "parse_text",
]

CREATED = "CREATED"
DELETED = "DELETED"
RETRIEVE_JOB = "RETRIEVE_JOB"
_KINDS = frozenset({CREATED, DELETED, RETRIEVE_JOB})
_TAB_VERSIONS = frozenset({"A", "B", "C"})
_FUTURE_VERSIONS = frozenset("DEFGHIJKLMNOPQRSTUVWXYZ")
#: Glacier's largest archive: 10,000 parts of 4 GiB.
MAX_ARCHIVE_SIZE = 40 << 40
#: The latest upload time a journal line may carry (the end of the year 9999, like mtimes).
MAX_TIME = MAX_MTIME
MAX_LINE_BYTES = 1 << 20  # far above any real record; bounds memory on garbage input

_V0_CREATED = re.compile(r"([0-9]{1,20}) CREATED (\S+) ([0-9]{1,20}) (\S+) (.*)")
_V0_DELETED = re.compile(r"([0-9]{1,20})\s+DELETED\s+(\S+)\s+(.*)")
_V0_RETRIEVE = re.compile(r"([0-9]{1,20})\s+RETRIEVE_JOB\s+(\S+)")
_JOB_ID_BAD = re.compile(r"[\x00-\x08\x0a-\x1f]")


# --------------------------------------------------------------------------------------------
# Values


def _range_problem(what: str, value: int, low: int, high: int) -> str | None:
    if low <= value <= high:
        return None
    shown = str(value)
    if len(shown) > 40:
        shown = shown[:40] + "..."
    return f"{what} out of range ({low}..{high}): {shown}"


def _in_range(low: int, high: int) -> Callable[[object, attrs.Attribute[int], int], None]:
    def check(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        problem = _range_problem(attribute.name, value, low, high)
        if problem is not None:
            raise ValueError(problem)
    return check


_check_time = _in_range(0, MAX_TIME)
_check_size = _in_range(0, MAX_ARCHIVE_SIZE)


def _check_archive_id(_instance: object, _attribute: object, value: str) -> None:
    if not value or value.split() != [value]:
        raise ValueError(f"an archive id is non-empty and has no whitespace: {value[:200]!r}")


@attrs.frozen
class ArchiveEntry:
    """One live archive as the journal knows it; ``mtime`` is None when unknown (NONE)."""

    archive_id: str = attrs.field(validator=_check_archive_id)
    size: int = attrs.field(validator=_check_size)
    mtime: int | None = attrs.field(validator=attrs.validators.optional(
        _in_range(MIN_MTIME, MAX_MTIME)))
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
        problem = _range_problem("size", record.size, 0, MAX_ARCHIVE_SIZE)
        if problem is None and record.mtime is not None:
            problem = _range_problem("mtime", record.mtime, MIN_MTIME, MAX_MTIME)
        if problem is not None:
            raise ValueError(problem)
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
        return parse_text(text, path, lineno)

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


def _number(text: str, what: str, low: int, high: int, *, line: str, path: object,
            lineno: int) -> int:
    """A decimal field (an optional sign only when ``low`` < 0), checked against its range."""
    digits = text[1:] if low < 0 and text[:1] in ("+", "-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise _broken(line, path, lineno, f"{what} is not a decimal number")
    if len(digits) > 20:  # never convert a million digits just to refuse them
        raise _broken(line, path, lineno, f"{what} out of range ({low}..{high}): {text[:40]}...")
    value = int(text)
    problem = _range_problem(what, value, low, high)
    if problem is not None:
        raise _broken(line, path, lineno, problem)
    return value


def _uint(text: str, what: str, line: str, path: object, lineno: int) -> int:
    high = MAX_ARCHIVE_SIZE if what == "size" else MAX_TIME
    return _number(text, what, 0, high, line=line, path=path, lineno=lineno)


def parse_text(text: str, path: object, lineno: int) -> JournalRecord:
    if not text:
        raise JournalError("blank line (not allowed in a journal)", path=path, line=lineno)
    if len(text) > MAX_LINE_BYTES:
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
        elif (mtime_text[1:] if mtime_text[:1] in ("+", "-") else mtime_text).isdigit():
            mtime = _number(mtime_text, "mtime", MIN_MTIME, MAX_MTIME, line=text, path=path,
                            lineno=lineno)
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

