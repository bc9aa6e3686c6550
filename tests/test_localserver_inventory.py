"""Inventory bodies: the CSV dialect round-trips through the reference's parsing rule."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from glacierlib.localserver.inventory import CSV_HEADER, InventoryItem, render_csv, render_json

printable = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                    max_size=60)


def _parse(text: str) -> list[str]:
    lines = text.split("\n")
    assert lines[0] == CSV_HEADER and lines[-1] == ""
    out = []
    for line in lines[1:-1]:
        _, rest = line.split(",", 1)
        description = rest.rsplit(",", 3)[0]
        assert description[0] == description[-1] == '"'
        out.append(description[1:-1].replace('\\"', '"'))
    return out


@given(st.lists(printable, max_size=8))
def test_csv_round_trip(descriptions: list[str]) -> None:
    items = [InventoryItem(f"id{i}", d, 1.5e9 + i, i + 1, "ab" * 32)
             for i, d in enumerate(descriptions)]
    assert _parse(render_csv(items).decode("ascii")) == descriptions


def test_csv_dialect_examples() -> None:
    items = [InventoryItem("A", 'my archive description,1"2', 0.0, 1, "0" * 64),
             InventoryItem("B", 'my archive description,1\\"2', 0.0, 1, "0" * 64),
             InventoryItem("C", "\\", 0.0, 1, "0" * 64)]
    lines = render_csv(items).decode().split("\n")
    assert lines[1] == 'A,"my archive description,1\\"2",1970-01-01T00:00:00.000Z,1,' + "0" * 64
    assert lines[2].startswith('B,"my archive description,1\\\\"2",')
    assert lines[3].startswith('C,"\\",')


def test_json_shape() -> None:
    body = json.loads(render_json("arn:x", 0.0, [InventoryItem("A", "", 1.0, 5, "f" * 64)]))
    assert body == {
        "VaultARN": "arn:x",
        "InventoryDate": "1970-01-01T00:00:00Z",
        "ArchiveList": [{"ArchiveId": "A", "ArchiveDescription": "",
                         "CreationDate": "1970-01-01T00:00:01.000Z", "Size": 5,
                         "SHA256TreeHash": "f" * 64}],
    }
