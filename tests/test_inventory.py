"""The streaming inventory parser: JSON in any chunking, Amazon's CSV dialect, hostile bodies."""

from __future__ import annotations

import io
import json

import pytest

import glacierlib.inventory as inventory_module
from glacierlib.exceptions import InventoryError
from glacierlib.inventory import InventoryArchive, detect_format, open_inventory

HASH_A = "a" * 64
HASH_B = "0123456789abcdef" * 4


def _json_body(entries: list[dict[str, object]], **header: object) -> bytes:
    doc = {"VaultARN": "arn:aws:glacier:us-east-1:012345678901:vaults/v",
           "InventoryDate": "2026-11-25T10:00:00Z", **header, "ArchiveList": entries}
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _entry(i: int, description: str = "") -> dict[str, object]:
    return {"ArchiveId": f"id-{i}", "ArchiveDescription": description,
            "CreationDate": "2026-11-24T09:08:07.123Z", "Size": 1000 + i,
            "SHA256TreeHash": HASH_A}


class _Trickle(io.RawIOBase):
    """A stream that returns at most ``step`` bytes per read, to cut values anywhere."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = data
        self._pos = 0
        self._step = step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = self._step if size < 0 else min(size, self._step)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk


def test_json_entries_and_header() -> None:
    body = _json_body([_entry(0, "mt2 abc"), _entry(1, "Ünïcode, \"quoted\"")])
    reader = open_inventory(io.BytesIO(body), content_type="application/json")
    items = list(reader)
    assert items == [
        InventoryArchive("id-0", "mt2 abc", "2026-11-24T09:08:07.123Z", 1000,
                         items[0].tree_hash),
        InventoryArchive("id-1", "Ünïcode, \"quoted\"", "2026-11-24T09:08:07.123Z", 1001,
                         items[1].tree_hash),
    ]
    assert items[0].tree_hash.hex == HASH_A
    assert reader.inventory_date == "2026-11-25T10:00:00Z"
    assert reader.vault_arn is not None and reader.vault_arn.endswith("vaults/v")
    assert reader.count == 2


@pytest.mark.parametrize("step", [1, 3, 7, 64])
def test_json_split_at_every_boundary(step: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Multi-byte UTF-8 and numbers cut across chunk boundaries must come out whole.
    monkeypatch.setattr(inventory_module, "_CHUNK", step)
    entries = [_entry(i, "Я" * (i % 5)) for i in range(40)]
    body = _json_body(entries)
    items = list(open_inventory(_Trickle(body, step), format="JSON"))  # type: ignore[arg-type]
    assert [i.archive_id for i in items] == [f"id-{i}" for i in range(40)]
    assert [i.size for i in items] == [1000 + i for i in range(40)]
    assert [i.description for i in items] == ["Я" * (i % 5) for i in range(40)]


def test_json_empty_list_and_date_after_list() -> None:
    reader = open_inventory(io.BytesIO(b'{"ArchiveList": [], "InventoryDate": "X"}'))
    assert list(reader) == []
    assert reader.inventory_date == "X"


@pytest.mark.parametrize("body", [
    b'{"ArchiveList": [{"ArchiveId": "a"',  # truncated
    b'{"ArchiveList": [{"ArchiveId": "a", "CreationDate": "d", "Size": -1, '
    b'"SHA256TreeHash": "' + HASH_A.encode() + b'"}]}',  # negative size
    b'{"ArchiveList": [{"ArchiveId": "a", "CreationDate": "d", "Size": 1, '
    b'"SHA256TreeHash": "xyz"}]}',  # bad hash
    b'{"ArchiveList": [1]}',
    b'{"ArchiveList": []} trailing',
    b'\xff\xfe{}',
])
def test_json_bad_bodies_raise_inventory_error(body: bytes) -> None:
    with pytest.raises(InventoryError):
        list(open_inventory(io.BytesIO(body), format="JSON"))


CSV_HEADER = b"ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n"


@pytest.mark.parametrize(("field", "description"), [
    (b'""', ""),
    (b'"plain"', "plain"),
    (b"unquoted words", "unquoted words"),
    (b'"my archive description,1\\"2"', 'my archive description,1"2'),
    (b'"my archive description,1\\\\"2"', 'my archive description,1\\"2'),
    (b'"\\"', "\\"),
    (b'"a,b,c,d,e"', "a,b,c,d,e"),
    (b'"mt2 eyJmaWxlbmFtZSI6ImZpbGUiLCJtdGltZSI6IjIwMTIxMTE0VDIwMTYxOFoifQ"',
     "mt2 eyJmaWxlbmFtZSI6ImZpbGUiLCJtdGltZSI6IjIwMTIxMTE0VDIwMTYxOFoifQ"),
])
def test_csv_amazon_dialect(field: bytes, description: str) -> None:
    line = b"ID1," + field + b",2026-11-24T09:08:07Z,42," + HASH_B.encode() + b"\r\n"
    items = list(open_inventory(io.BytesIO(CSV_HEADER + line), content_type="text/csv"))
    assert len(items) == 1
    assert items[0].description == description
    assert (items[0].archive_id, items[0].size, items[0].tree_hash.hex) == ("ID1", 42, HASH_B)


def test_csv_column_order_follows_header_and_quoted_header() -> None:
    body = (b'"Size","SHA256TreeHash","ArchiveDescription","ArchiveId","CreationDate"\n'
            b'7,' + HASH_A.encode() + b',"x,y",ID9,2026-01-01T00:00:00Z\n')
    (item,) = open_inventory(io.BytesIO(body), format="CSV")
    assert (item.archive_id, item.description, item.size) == ("ID9", "x,y", 7)


def test_csv_header_only_is_empty() -> None:
    assert list(open_inventory(io.BytesIO(CSV_HEADER), format="CSV")) == []


@pytest.mark.parametrize("body", [
    b"Foo,Bar\n",
    CSV_HEADER + b"ID,only,three\n",
    CSV_HEADER + b'ID,un"quoted,2026-01-01T00:00:00Z,1,' + HASH_A.encode() + b"\n",
    CSV_HEADER + b'ID,"d",2026-01-01T00:00:00Z,many,' + HASH_A.encode() + b"\n",
    b"",
])
def test_csv_bad_lines_raise(body: bytes) -> None:
    with pytest.raises(InventoryError):
        list(open_inventory(io.BytesIO(body), format="CSV"))


def test_detect_format() -> None:
    assert detect_format("text/csv; charset=utf-8", b"") == "CSV"
    assert detect_format("application/json", b"") == "JSON"
    assert detect_format(None, b"  {") == "JSON"
    assert detect_format("application/octet-stream", b"ArchiveId,") == "CSV"
    with pytest.raises(InventoryError):
        detect_format("application/octet-stream", b"<xml>")


def test_reader_is_single_pass() -> None:
    reader = open_inventory(io.BytesIO(_json_body([_entry(1)])), format="JSON")
    assert len(list(reader)) == 1
    with pytest.raises(InventoryError):
        list(reader)


def test_creation_epoch_fast_path_agrees_with_metadata_parser() -> None:
    import random

    from glacierlib.metadata import parse_iso8601_or_none
    from glacierlib.operations.inventory import creation_epoch

    rng = random.Random(6)
    samples = ["2012-02-29T00:00:00Z", "2026-11-30T23:59:60Z", "20261126T090845Z",
               "2012-03-20T17:03:43.221Z", "0999-01-01T00:00:00Z", "garbage"]
    for _ in range(3000):
        samples.append(
            f"{rng.randint(1000, 9999):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 31):02d}"
            f"T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
            + rng.choice(["Z", ".123Z", ".5Z"]))
    for text in samples:
        assert creation_epoch(text) == parse_iso8601_or_none(text), text
