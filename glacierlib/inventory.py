"""Streaming parser for vault inventories (Glacier's JSON and Amazon's CSV dialect).

A vault inventory can list millions of archives. mt-aws-glacier read the whole body into
memory and then parsed it (its issue #135: out of memory on big vaults); here the body is read
in fixed-size chunks and each archive is handed to the caller as soon as it is complete, so
memory stays bounded by one chunk plus one entry, whatever the vault size.

* JSON: a small hand-rolled scanner walks the top-level object and decodes one value at a time
  with :meth:`json.JSONDecoder.raw_decode`; ``ArchiveList`` entries are yielded one by one.
  The standard library has no incremental JSON parser and adding a C dependency for this one
  loop is not worth it.
* CSV: Amazon's dialect is not RFC 4180 (an embedded ``"`` is written ``\\"`` and backslashes
  are not escaped), so :mod:`csv` cannot read it. Only the description may contain commas or
  quotes; every other column is split off from the left or right and the rest is the
  description (see ``glacier-api.md`` section 6.5).

Every problem raises :class:`~glacierlib.exceptions.InventoryError` naming the entry or line.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO, Literal

import attrs

from glacierlib.exceptions import InventoryError
from glacierlib.journal_record import MAX_ARCHIVE_SIZE
from glacierlib.treehash import TreeHash

__all__ = [
    "InventoryArchive",
    "InventoryReader",
    "detect_format",
    "open_inventory",
]

InventoryFormatName = Literal["JSON", "CSV"]

_CHUNK = 1 << 20
# One archive entry is at most ~1.5 KB (138-char id, 1024-char description); anything far
# bigger is not an inventory we understand, and refusing it keeps memory bounded.
_MAX_VALUE = 16 << 20
_WS = re.compile(r"[ \t\n\r]*")
_CSV_COLUMNS = ("ArchiveId", "ArchiveDescription", "CreationDate", "Size", "SHA256TreeHash")


@attrs.frozen
class InventoryArchive:
    """One archive as the inventory lists it; ``creation_date`` stays the service's text."""

    archive_id: str
    description: str
    creation_date: str
    size: int
    tree_hash: TreeHash

    @classmethod
    def parse_untrusted(
        cls, archive_id: object, description: object, creation_date: object, size: object,
        tree_hash: object, *, where: str,
    ) -> InventoryArchive:
        """Check the types and shapes of one entry's fields; ``where`` names it in errors."""
        if not isinstance(archive_id, str) or archive_id.split() != [archive_id]:
            raise InventoryError(f"{where}: ArchiveId missing, empty or holding white space")
        if description is None:
            description = ""
        if not isinstance(description, str):
            raise InventoryError(f"{where}: ArchiveDescription is not a string")
        if not isinstance(creation_date, str) or not creation_date:
            raise InventoryError(f"{where}: CreationDate missing or not a string")
        if isinstance(size, str) and size.isascii() and size.isdigit():
            size = int(size)
        if not isinstance(size, int) or isinstance(size, bool) or not (
                0 <= size <= MAX_ARCHIVE_SIZE):  # the journal's rule: Glacier's 40 TiB
            raise InventoryError(
                f"{where}: Size missing or not an integer from 0 to {MAX_ARCHIVE_SIZE}")
        if not isinstance(tree_hash, str):
            raise InventoryError(f"{where}: SHA256TreeHash missing or not a string")
        try:
            parsed = TreeHash.from_hex(tree_hash)
        except ValueError as exc:
            raise InventoryError(f"{where}: {exc}") from None
        return cls(archive_id, description, creation_date, size, parsed)


def detect_format(content_type: str | None, head: bytes) -> InventoryFormatName:
    """Pick the parser from Content-Type, falling back to the first byte of the body.

    mt-aws-glacier refused anything but the two exact content types; sniffing lets a proxy or
    an emulator that labels the body ``application/octet-stream`` still work.
    """
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "text/csv":
        return "CSV"
    if kind == "application/json":
        return "JSON"
    stripped = head.lstrip()
    if stripped.startswith(b"{"):
        return "JSON"
    if stripped.lstrip(b'"').startswith(b"ArchiveId"):
        return "CSV"
    raise InventoryError(
        f"inventory body is neither JSON nor CSV (Content-Type {content_type or 'none'!r})"
    )


@attrs.define
class InventoryReader:
    """One inventory body, iterated once; header fields fill in as they are read.

    ``inventory_date`` and ``vault_arn`` come from the JSON header (Glacier writes them before
    ``ArchiveList``); a CSV inventory has no header, so they stay ``None`` and callers use the
    job's completion date. ``count`` is the number of archives yielded so far.
    """

    stream: BinaryIO = attrs.field(repr=False)
    format: InventoryFormatName
    vault_arn: str | None = None
    inventory_date: str | None = None
    count: int = 0
    _started: bool = attrs.field(default=False, repr=False)

    def __iter__(self) -> Iterator[InventoryArchive]:
        if self._started:
            raise InventoryError("an inventory body can be iterated only once")
        self._started = True
        parse = self._iter_json if self.format == "JSON" else self._iter_csv
        for archive in parse():
            self.count += 1
            yield archive

    # JSON -------------------------------------------------------------------------------

    def _iter_json(self) -> Iterator[InventoryArchive]:
        scan = _JsonScanner(self.stream)
        scan.expect("{")
        if scan.peek() == "}":
            scan.take()
            scan.expect_end()
            return
        while True:
            key = scan.value()
            if not isinstance(key, str):
                raise InventoryError(f"inventory JSON: object key expected at {scan.where()}")
            scan.expect(":")
            if key == "ArchiveList":
                yield from self._json_archive_list(scan)
            else:
                value = scan.value()
                if key == "InventoryDate" and isinstance(value, str):
                    self.inventory_date = value
                elif key == "VaultARN" and isinstance(value, str):
                    self.vault_arn = value
            sep = scan.take()
            if sep == "}":
                break
            if sep != ",":
                raise InventoryError(f"inventory JSON: ',' or '}}' expected at {scan.where()}")
        scan.expect_end()

    def _json_archive_list(self, scan: _JsonScanner) -> Iterator[InventoryArchive]:
        if scan.peek() == "n":  # "ArchiveList": null, seen from some emulators
            if scan.value() is not None:
                raise InventoryError("inventory JSON: ArchiveList is not an array")
            return
        scan.expect("[")
        if scan.peek() == "]":
            scan.take()
            return
        index = 0
        while True:
            entry = scan.value()
            where = f"inventory JSON ArchiveList[{index}]"
            if not isinstance(entry, dict):
                raise InventoryError(f"{where}: not an object")
            yield InventoryArchive.parse_untrusted(
                entry.get("ArchiveId"), entry.get("ArchiveDescription"),
                entry.get("CreationDate"), entry.get("Size"), entry.get("SHA256TreeHash"),
                where=where,
            )
            index += 1
            sep = scan.take()
            if sep == "]":
                return
            if sep != ",":
                raise InventoryError(f"inventory JSON: ',' or ']' expected at {scan.where()}")

    # CSV --------------------------------------------------------------------------------

    def _iter_csv(self) -> Iterator[InventoryArchive]:
        lines = _iter_lines(self.stream)
        header_line = ""
        lineno = 0
        for raw in lines:
            lineno += 1
            header_line = _decode_line(raw, lineno)
            if header_line.strip():
                break
        if not header_line.strip():
            raise InventoryError("inventory CSV: empty body (no header row)")
        columns = [c.strip().strip('"') for c in header_line.split(",")]
        missing = [c for c in _CSV_COLUMNS if c not in columns]
        if missing:
            raise InventoryError(
                f"inventory CSV line {lineno}: header lacks {', '.join(missing)}"
            )
        if len(set(columns)) != len(columns):
            raise InventoryError(f"inventory CSV line {lineno}: duplicate header columns")
        ncols = len(columns)
        desc_at = columns.index("ArchiveDescription")
        right = ncols - 1 - desc_at
        pos = {name: columns.index(name) for name in _CSV_COLUMNS}
        for raw in lines:
            lineno += 1
            line = _decode_line(raw, lineno)
            if not line:
                continue
            where = f"inventory CSV line {lineno}"
            head = line.split(",", desc_at) if desc_at else [line]
            rest = head.pop()
            if len(head) != desc_at:
                raise InventoryError(f"{where}: bad CSV line (too few fields)")
            tail = rest.rsplit(",", right) if right else [rest]
            if len(tail) != right + 1:
                raise InventoryError(f"{where}: bad CSV line (too few fields)")
            fields = [_csv_plain(f, where) for f in head]
            fields.append(_csv_description(tail[0], where))
            fields.extend(_csv_plain(f, where) for f in tail[1:])
            yield InventoryArchive.parse_untrusted(
                fields[pos["ArchiveId"]], fields[pos["ArchiveDescription"]],
                fields[pos["CreationDate"]], fields[pos["Size"]],
                fields[pos["SHA256TreeHash"]], where=where,
            )


def _iter_lines(stream: BinaryIO) -> Iterator[bytes]:
    """Split a byte stream on LF by reading fixed chunks (job-output bodies do not iterate
    by line, and a line-iterating file object may buffer without bound on a missing LF)."""
    pending = b""
    while True:
        data = stream.read(_CHUNK)
        if not data:
            break
        pieces = (pending + data).split(b"\n")
        pending = pieces.pop()
        if len(pending) > _MAX_VALUE:
            raise InventoryError("inventory CSV: a line is longer than 16 MiB")
        yield from pieces
    if pending:
        yield pending


def _decode_line(raw: bytes, lineno: int) -> str:
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise InventoryError(f"inventory CSV line {lineno}: not valid UTF-8") from None


def _csv_plain(field: str, where: str) -> str:
    """A column that never holds commas or quotes; it may still be wrapped in quotes."""
    if len(field) >= 2 and field[0] == '"' and field[-1] == '"':
        field = field[1:-1]
    if '"' in field:
        raise InventoryError(f"{where}: bad CSV line (stray quote)")
    return field


def _csv_description(field: str, where: str) -> str:
    """Amazon's quoting: optional enclosing quotes, ``\\"`` for a quote, raw backslashes."""
    if len(field) >= 2 and field[0] == '"' and field[-1] == '"':
        return field[1:-1].replace('\\"', '"')
    if '"' in field:
        raise InventoryError(f"{where}: bad CSV line (unquoted description with a quote)")
    return field


class _JsonScanner:
    """Pull-style reader of one JSON document from a byte stream, one value at a time."""

    __slots__ = ("_buf", "_decoder", "_eof", "_pos", "_raw", "_stream", "_utf8")

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._decoder = json.JSONDecoder()
        self._raw = self._decoder.raw_decode
        self._buf = ""
        self._pos = 0
        self._eof = False

    def where(self) -> str:
        return f"character {self._pos} of the current chunk"

    def _fill(self) -> bool:
        """Append the next chunk; False at end of stream."""
        if self._eof:
            return False
        data = self._stream.read(_CHUNK)
        try:
            text = self._utf8.decode(data or b"", final=not data)
        except UnicodeDecodeError:
            raise InventoryError("inventory JSON: not valid UTF-8") from None
        if not data:
            self._eof = True
        self._buf = self._buf[self._pos :] + text
        self._pos = 0
        return bool(data) or bool(text)

    def peek(self) -> str:
        """The next non-blank character, not consumed; ``""`` at end of input."""
        while True:
            match = _WS.match(self._buf, self._pos)
            self._pos = match.end() if match else self._pos
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def take(self) -> str:
        char = self.peek()
        if not char:
            raise InventoryError("inventory JSON: truncated body")
        self._pos += 1
        return char

    def expect(self, char: str) -> None:
        got = self.take()
        if got != char:
            raise InventoryError(f"inventory JSON: {char!r} expected, got {got!r}")

    def expect_end(self) -> None:
        if self.peek():
            raise InventoryError("inventory JSON: data after the end of the document")

    def value(self) -> Any:
        """Decode one complete JSON value, reading more input until it is whole."""
        if not self.peek():
            raise InventoryError("inventory JSON: truncated body")
        while True:
            try:
                obj, end = self._raw(self._buf, self._pos)
            except RecursionError:
                raise InventoryError("inventory JSON: nested too deeply") from None
            except json.JSONDecodeError as exc:
                if self._eof:
                    raise InventoryError(f"inventory JSON: {exc.msg}") from None
                if len(self._buf) - self._pos > _MAX_VALUE:
                    raise InventoryError("inventory JSON: a value is larger than 16 MiB") from None
                self._fill()
                continue
            # A number ending exactly at the chunk's end may continue in the next chunk.
            if end == len(self._buf) and not self._eof and not isinstance(obj, (dict, list, str)):
                self._fill()
                continue
            self._pos = end
            return obj


def open_inventory(
    stream: BinaryIO, *, content_type: str | None = None,
    format: InventoryFormatName | None = None,
) -> InventoryReader:
    """Wrap an inventory body (a file or a job-output stream) for one streaming pass.

    ``format`` wins; otherwise ``content_type`` decides, then the first bytes of the body.
    The stream must support ``peek`` for sniffing (``io.BufferedReader``); when it does not and
    nothing else says the format, JSON is assumed.
    """
    if format is None:
        head = b""
        peek = getattr(stream, "peek", None)
        if callable(peek) and not content_type:
            head = peek(64)[:64]
            format = detect_format(content_type, head)
        elif content_type:
            try:
                format = detect_format(content_type, b"")
            except InventoryError:
                format = "JSON"
        else:
            format = "JSON"
    return InventoryReader(stream, format)
