"""In-memory storage: the fast default for tests; nothing survives the process."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from glacierlib.localserver.blobs import BlobWriter

__all__ = ["MemoryStorage"]

_CHUNK = 4 << 20
_EMPTY = memoryview(b"")


class _MemoryWriter:
    """Keeps the body as the chunks the socket delivered (``append``), so no buffer is
    allocated and zeroed in advance; ``buffer``/``commit`` remain for callers that fill one."""

    def __init__(self, owner: MemoryStorage, size: int) -> None:
        self._owner = owner
        self._chunks: list[bytes] = []
        self._scratch = _EMPTY

    def append(self, chunk: bytes) -> None:
        self._chunks.append(chunk)

    def buffer(self, max_length: int) -> memoryview:
        self._scratch = memoryview(bytearray(min(max_length, _CHUNK)))
        return self._scratch

    def commit(self, length: int) -> None:
        self._chunks.append(bytes(self._scratch[:length]))
        self._scratch = _EMPTY

    def finish(self, leaves: bytes) -> str:
        return self._owner._store(tuple(self._chunks), leaves)

    def discard(self) -> None:
        self._chunks = []


class MemoryStorage:
    """Blobs in a dict (each a tuple of chunks); metadata documents are not kept (state lives
    in the service)."""

    persistent = False

    def __init__(self) -> None:
        self._blobs: dict[str, tuple[tuple[bytes, ...], bytes]] = {}
        self._lock = threading.Lock()

    def _store(self, chunks: tuple[bytes, ...], leaves: bytes) -> str:
        key = secrets.token_hex(16)
        with self._lock:
            self._blobs[key] = (chunks, leaves)
        return key

    def new_blob(self, size: int) -> BlobWriter:
        return _MemoryWriter(self, size)

    def put_bytes(self, data: bytes) -> str:
        return self._store((bytes(data),), b"")

    def read(self, key: str, start: int, end: int) -> Iterator[memoryview]:
        offset = 0
        for chunk in self._blobs[key][0]:
            lo, hi = max(start, offset), min(end, offset + len(chunk))
            if lo < hi:
                yield memoryview(chunk)[lo - offset : hi - offset]
            offset += len(chunk)
            if offset >= end:
                break

    def file_path(self, key: str) -> Path | None:
        return None

    def leaves(self, key: str) -> bytes:
        return self._blobs[key][1]

    def delete(self, key: str) -> None:
        with self._lock:
            self._blobs.pop(key, None)

    def keys(self) -> set[str]:
        with self._lock:
            return set(self._blobs)

    def load_documents(self, *, split: bool = False) -> Mapping[str, dict[str, Any]]:
        return {}

    def save_document(self, name: str, document: dict[str, Any], *,
                      split: Collection[str] = ()) -> None:
        """Nothing to do: the service's objects are the only copy."""

    def append_record(self, name: str, record: dict[str, Any]) -> None:
        """Nothing to do."""

    def delete_document(self, name: str) -> None:
        """Nothing to do."""

    def close(self) -> None:
        """Nothing to release."""
