"""Loading a journal fast without loosening the parse: whole chunks first, then line by line.

A million-line journal is parsed in pure Python, so the cost per line is what matters. The
text is read in 4 MiB blocks, decoded, and split into lines; then each chunk of lines goes
through the first of these that applies:

1. **Chunk at once** (``_apply_chunk``). The CREATED lines of the chunk are joined and split
   on TAB once, giving one list per column; each column is checked with a few C-level string
   operations over the whole column (``"".join(times).isdigit()``, ``"\\n."`` not in the
   joined names, ...), and converted with ``map(int, ...)``. Its DELETED and RETRIEVE_JOB
   lines are checked one by one. Every check is a *sufficient* condition for what the exact
   parser (``journal_record.parse_text``) accepts, and the chunk is applied only when the
   sequential rules could not have done anything else: every CREATED id new and distinct,
   every DELETED id live before its line, deleted once. Otherwise nothing is changed and:
2. **Line by line** (``_apply_lines``) with a per-line fast path for the common shapes and the
   exact parser for the rest, so errors, warnings and line numbers are exactly the exact
   parser's and ``JournalState._apply``'s.

Numeric fields take the fast paths only when short enough to be in range without a
comparison (a time of at most 11 digits, a size of at most 13); anything longer goes to the
exact parser, which checks the range and words the error.
"""

from __future__ import annotations

import itertools
import logging
import operator
from itertools import compress, repeat
from typing import IO, TYPE_CHECKING

from glacierlib.exceptions import JournalError
from glacierlib.journal_record import MAX_LINE_BYTES, parse_text

if TYPE_CHECKING:
    from hashlib import _Hash

    from glacierlib.journal_state import JournalState, NameFilter

__all__ = ["load_lines"]

logger = logging.getLogger("glacierlib.journal")

_READ_BLOCK = 4 << 20
_BC = ("B", "C")  # A takes the exact path for its archive-id-as-name quirk
# Digits that are always in range: time and mtime < 10**11 <= MAX_TIME, size < 10**13.
_TIME_DIGITS = 11
_SIZE_DIGITS = 13


def _digits(column: list[str], most: int) -> bool:
    """Every value is 1..``most`` ASCII digits (checked over the whole column at once)."""
    joined = "".join(column)
    return (joined.isdigit() and joined.isascii() and "" not in column
            and max(map(len, column)) <= most)


def _names_ok(names: list[str]) -> bool:
    """Sufficient for ``validate_relative_name`` on every name (same rules as the per-line
    fast path: printable, not empty, no leading ``/`` or ``.``, no ``//``, ``/.``, final
    ``/``); anything unusual (``.profile``) is left to the exact parser."""
    if not "".join(names).isprintable():  # also: no LF, so LF can separate them below
        return False
    joined = "\n" + "\n".join(names) + "\n"
    return not ("\n\n" in joined or "\n/" in joined or "\n." in joined or "/\n" in joined
                or "//" in joined or "/." in joined)


def _created_columns(lines: list[str]) -> tuple[list[str], list[object]] | None:
    """Archive ids and live values of CREATED lines, or None if any needs the exact parser."""
    n = len(lines)
    if set(map(str.count, lines, repeat("\t"))) != {7}:
        return None
    flat = "\t".join(lines).split("\t")
    versions, times, kinds, aids = flat[0::8], flat[1::8], flat[2::8], flat[3::8]
    sizes, mtimes, hashes, names = flat[4::8], flat[5::8], flat[6::8], flat[7::8]
    del flat
    if kinds.count("CREATED") != n or versions.count("B") + versions.count("C") != n:
        return None
    if not (_digits(times, _TIME_DIGITS) and _digits(sizes, _SIZE_DIGITS)):
        return None
    joined_ids = "".join(aids)
    if not joined_ids.isprintable() or " " in joined_ids or "" in aids:
        return None  # printable and no space: no whitespace at all
    if set(map(len, hashes)) != {64} or not _names_ok(names):
        return None
    try:
        digest = bytes.fromhex("".join(hashes))
    except ValueError:
        return None
    if len(digest) != 32 * n:  # fromhex skips spaces
        return None
    unknown = mtimes.count("NONE")
    if unknown:
        known = [m for m in mtimes if m != "NONE"]
        if known and not _digits(known, _TIME_DIGITS):
            return None
        mtime_values: list[int | None] = [None if m == "NONE" else int(m) for m in mtimes]
    else:
        if not _digits(mtimes, _TIME_DIGITS):
            return None
        mtime_values = list(map(int, mtimes))
    digests = list(map(digest.__getitem__, map(slice, range(0, 32 * n, 32),
                                               range(32, 32 * n + 32, 32))))
    values = list(zip(names, map(int, sizes), mtime_values, digests, map(int, times),
                      strict=True))
    return aids, values  # type: ignore[return-value]


def _name_fast(name: str) -> bool:
    return bool(name and name.isprintable() and name[0] not in "/." and name[-1] != "/"
                and "//" not in name and "/." not in name)


def _apply_chunk(lines: list[str], state: JournalState, path: object, lineno: int) -> bool:
    """Apply a whole chunk if every line takes a fast path (module docstring); else False
    and the state is unchanged."""
    live = state._live
    marks = list(map(operator.contains, lines, repeat("\tCREATED\t")))
    created = list(compress(lines, marks))
    columns = _created_columns(created) if created else ([], [])
    if columns is None:
        return False
    aids, values = columns
    # CREATED id -> its rank among the chunk's CREATED lines
    first = dict(zip(aids, range(len(aids)), strict=True))
    if len(first) != len(aids) or not live.keys().isdisjoint(first):
        return False  # a repeated id: the sequential rules decide (warning or error)
    gone: list[str] = []
    jobs: list[tuple[str, int]] = []
    if len(created) != len(lines):
        others = compress(zip(itertools.count(), lines), map(operator.not_, marks))
        for rank, (pos, line) in enumerate(others):
            f_ = line.split("\t")
            if len(f_) == 5 and f_[2] == "DELETED":
                v, t, _, aid, name = f_
                if not (v in _BC and t.isdigit() and t.isascii() and len(t) <= _TIME_DIGITS
                        and _name_fast(name)):
                    return False
                # Live before this line: before the chunk, or CREATED earlier in it (``pos -
                # rank`` CREATED lines come before this one). Each id deleted once.
                if aid in live:
                    pass
                elif first.get(aid, pos) >= pos - rank:
                    return False
                gone.append(aid)
            elif len(f_) >= 5 and f_[2] == "RETRIEVE_JOB":
                try:
                    record = parse_text(line, path, lineno + pos + 1)
                except JournalError:
                    return False
                jobs.append((record.archive_id, record.time))
            else:
                return False
        if len(set(gone)) != len(gone):
            return False
    live.update(zip(aids, values, strict=True))  # type: ignore[arg-type]
    for aid in gone:
        del live[aid]
    if jobs:
        known = state._jobs
        for aid, when in jobs:
            if known.get(aid, -1) < when:
                known[aid] = when
    return True


def _apply_lines(lines: list[str], state: JournalState, path: object, lineno: int, *,
                 filters: NameFilter | None, strict: bool) -> int:
    """Line by line: a fast path per line, the exact parser for the rest; returns how many
    lines took the exact path."""
    live = state._live
    fromhex = bytes.fromhex
    apply = state._apply
    slow = 0
    for line in lines:
        lineno += 1
        f_ = line.split("\t")
        n = len(f_)
        if n == 8 and f_[2] == "CREATED":
            v, t, _, aid, size, mt, th, name = f_
            ts = t + size
            if (
                v in _BC and ts.isdigit() and ts.isascii() and 0 < len(t) <= _TIME_DIGITS
                and 0 < len(size) <= _SIZE_DIGITS and aid not in live and len(th) == 64
                and aid and " " not in aid and aid.isprintable() and _name_fast(name)
            ):
                mtime: int | None = None
                if mt != "NONE" and not (mt.isdigit() and mt.isascii()
                                         and len(mt) <= _TIME_DIGITS):
                    mtime = -1  # signed, long or broken: the exact parser decides
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
                v in _BC and t.isdigit() and t.isascii() and len(t) <= _TIME_DIGITS
                and aid in live and _name_fast(name)
            ):
                del live[aid]
                continue
        slow += 1
        apply(parse_text(line, path, lineno), path, lineno, filters, strict)
    return slow


def load_lines(f: IO[bytes], path: object, state: JournalState, *,
               filters: NameFilter | None, strict: bool, digest: _Hash | None = None) -> int:
    """Parse complete lines from ``f``'s position on into ``state``; return the offset
    just past the last complete line (relative to where ``f`` started).

    ``digest``, when given, is updated with exactly the bytes parsed (complete lines), so an
    index saved from this state can prove which journal content it describes.
    """
    unfiltered = not (filters is not None and filters)
    slow = 0
    lineno = state.records  # non-zero when an index restored the first lines
    parsed = 0
    rest = b""
    while True:
        block = f.read(_READ_BLOCK)
        if not block:
            break
        data = rest + block if rest else block
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest = data
            if len(rest) > MAX_LINE_BYTES:
                raise JournalError("line longer than 1 MiB", path=path, line=lineno + 1)
            continue
        rest = data[cut:]
        if len(rest) > MAX_LINE_BYTES:
            raise JournalError("line longer than 1 MiB", path=path,
                               line=lineno + data.count(b"\n", 0, cut) + 1)
        complete = memoryview(data)[:cut]
        try:
            text = str(complete, "utf-8")
        except UnicodeDecodeError as exc:
            bad = lineno + data.count(b"\n", 0, exc.start) + 1
            raise JournalError("invalid UTF-8 (the journal must be UTF-8)", path=path,
                               line=bad) from None
        if digest is not None:
            digest.update(complete)
        complete.release()
        parsed += cut
        del data
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines = text.split("\n")
        lines.pop()  # the empty string after the final newline
        del text
        if max(map(len, lines)) > MAX_LINE_BYTES:
            too_long = next(i for i, x in enumerate(lines) if len(x) > MAX_LINE_BYTES)
            raise JournalError("line longer than 1 MiB", path=path, line=lineno + too_long + 1)
        if not (unfiltered and _apply_chunk(lines, state, path, lineno)):
            slow += _apply_lines(lines, state, path, lineno, filters=filters, strict=strict)
        lineno += len(lines)
    if rest:
        if strict:
            raise JournalError("last line not fully written (no newline at its end)",
                               path=path, line=lineno + 1)
        state._warn(f"{path}, line {lineno + 1}: last line not fully written (a crash or a "
                    f"writer still running?); its {len(rest)} bytes are ignored")
    state.records = lineno
    logger.debug("journal %s: %d records, %d live, %d on the exact path", path, lineno,
                 len(state._live), slow)
    return parsed
