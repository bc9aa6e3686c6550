"""The shared tree-hash vectors, as the server computes them on UploadArchive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .support import error_message, pattern

VECTORS = Path(__file__).resolve().parents[1] / "fixtures" / "treehash-vectors.json"


def _cases() -> list[dict[str, Any]]:
    return [v for v in json.loads(VECTORS.read_text())["vectors"] if v["length"] <= 6 * 2**20]


def _build(vector: dict[str, Any]) -> bytes:
    kind, length = vector["pattern"], vector["length"]
    if kind == "zeros":
        return bytes(length)
    if kind == "mod251":
        return pattern(length)
    if kind.startswith("literal:"):
        return str(kind[len("literal:") :]).encode("ascii")
    return bytes(i % 256 for i in range(length)) if kind == "mod256" else b""


@pytest.mark.parametrize("vector", _cases(), ids=lambda v: v["name"])
def test_server_tree_hash(client: Any, vault: str, storage_kind: str,
                          vector: dict[str, Any]) -> None:
    if storage_kind != "memory":
        pytest.skip("hashing does not depend on the storage")
    data = _build(vector)
    if len(data) != vector["length"]:
        pytest.skip(f"pattern {vector['pattern']} not built here")
    if not data:
        with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
            client.upload_archive(vaultName=vault, body=data)
        assert error_message(err) == "Invalid Content-Length: 0"
        return
    reply = client.upload_archive(vaultName=vault, body=data)
    assert reply["checksum"] == vector["tree_hash"]
