"""Vault inventory bodies in Glacier's two formats, JSON and its peculiar CSV dialect.

The CSV dialect is what the real service emits, not RFC 4180: the description is always
quoted, an embedded ``"`` becomes ``\\"`` and backslashes are left alone, so a description of
one backslash is written ``"\\"``. Clients must parse it with the rules of the reference; the
server reproduces it so that they are tested against it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from glacierlib.localserver.clock import format_date, format_inventory_date

__all__ = ["CSV_HEADER", "InventoryItem", "render_csv", "render_json"]

CSV_HEADER = "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash"


@attrs.frozen
class InventoryItem:
    """One archive as an inventory snapshot recorded it."""

    archive_id: str
    description: str
    created: float
    size: int
    tree_hash: str

    def to_list(self) -> list[object]:
        return [self.archive_id, self.description, self.created, self.size, self.tree_hash]

    @classmethod
    def from_list(cls, row: Sequence[Any]) -> InventoryItem:
        return cls(str(row[0]), str(row[1]), float(row[2]), int(row[3]), str(row[4]))


def render_json(vault_arn: str, inventory_date: float, items: Sequence[InventoryItem]) -> bytes:
    body = {
        "VaultARN": vault_arn,
        "InventoryDate": format_inventory_date(inventory_date),
        "ArchiveList": [
            {
                "ArchiveId": item.archive_id,
                "ArchiveDescription": item.description,
                "CreationDate": format_date(item.created),
                "Size": item.size,
                "SHA256TreeHash": item.tree_hash,
            }
            for item in items
        ],
    }
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def _quote(description: str) -> str:
    return '"' + description.replace('"', '\\"') + '"'


def render_csv(items: Sequence[InventoryItem], line_end: str = "\n") -> bytes:
    lines = [CSV_HEADER]
    lines.extend(
        f"{item.archive_id},{_quote(item.description)},{format_date(item.created)},"
        f"{item.size},{item.tree_hash}"
        for item in items
    )
    return (line_end.join(lines) + line_end).encode("ascii")
