"""In-memory storage: the fast default for tests; nothing survives the process."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from glacierlib.localserver.blobs import BlobWriter

__all__ = ["MemoryStorage"]

_CHUNK = 4 << 20


class _MemoryWriter:
    """Hands out slices of the body's own buffer, so the socket fills it without copies."""

    def __init__(self, owner: MemoryStorage, size: int) -> None:
        self._owner = owner
        self._data = bytearray(size)
        self._view = memoryview(self._data)
        self._pos = 0

    def buffer(self, max_length: int) -> memoryview:
        end = min(self._pos + max_length, self._pos + _CHUNK, len(self._data))
        return self._view[self._pos : end]

    def commit(self, length: int) -> None:
        self._pos += length

    def finish(self, leaves: bytes) -> str:
        self._view.release()
        del self._data[self._pos :]
        return self._owner._store(self._data, leaves)

    def discard(self) -> None:
        self._view.release()
        self._data = bytearray()


class MemoryStorage:
    """Blobs in a dict; metadata documents are not kept (state lives in the service)."""

    persistent = False

    def __init__(self) -> None:
        self._blobs: dict[str, tuple[bytearray | bytes, bytes]] = {}
        self._lock = threading.Lock()

    def _store(self, data: bytearray | bytes, leaves: bytes) -> str:
        key = secrets.token_hex(16)
        with self._lock:
            self._blobs[key] = (data, leaves)
        return key

    def new_blob(self, size: int) -> BlobWriter:
        return _MemoryWriter(self, size)

    def put_bytes(self, data: bytes) -> str:
        return self._store(data, b"")

    def read(self, key: str, start: int, end: int) -> Iterator[memoryview]:
        data = self._blobs[key][0]
        view = memoryview(data)
        for pos in range(start, end, 4 * _CHUNK):
            yield view[pos : min(end, pos + 4 * _CHUNK)]

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

    def load_documents(self) -> Mapping[str, dict[str, Any]]:
        return {}

    def save_document(self, name: str, document: dict[str, Any]) -> None:
        """Nothing to do: the service's objects are the only copy."""

    def append_record(self, name: str, record: dict[str, Any]) -> None:
        """Nothing to do."""

    def delete_document(self, name: str) -> None:
        """Nothing to do."""

    def close(self) -> None:
        """Nothing to release."""
