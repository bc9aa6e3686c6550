"""What the server needs from a storage backend: bodies as blobs, metadata as documents.

Archives, parts and job outputs are blobs named by random keys; multipart archives are the
list of their part blobs, so completing a 40 TB upload moves no bytes. A blob also keeps the
SHA-256 of each of its 1 MiB leaves (computed while receiving it) so aligned range tree hashes
of job output cost nothing. Vault metadata is a JSON document per vault plus a log of the
changes since it was written (see ``storage_disk``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

__all__ = ["BlobWriter", "ServerStorage"]


class BlobWriter(Protocol):
    """Receives one body in chunks; the caller fills ``buffer()`` and reports ``commit(n)``.

    Memory storage hands out slices of the final buffer (socket ``readinto`` lands in place,
    no copy); disk storage hands out a scratch buffer that it writes to a temporary file.
    """

    def buffer(self, max_length: int) -> memoryview: ...

    def commit(self, length: int) -> None: ...

    def finish(self, leaves: bytes) -> str:
        """Make the blob durable under a new key, with its leaf digests; return the key."""
        ...

    def discard(self) -> None: ...


class ServerStorage(Protocol):
    """Where the server keeps bodies and metadata (``MemoryStorage`` or ``DiskStorage``)."""

    persistent: bool

    def new_blob(self, size: int) -> BlobWriter: ...

    def put_bytes(self, data: bytes) -> str: ...

    def read(self, key: str, start: int, end: int) -> Iterator[memoryview]:
        """Chunks of bytes ``[start, end)`` of a blob."""
        ...

    def file_path(self, key: str) -> Path | None:
        """The blob's file, when it has one (lets the server use ``sendfile``)."""
        ...

    def leaves(self, key: str) -> bytes: ...

    def delete(self, key: str) -> None: ...

    def keys(self) -> set[str]: ...

    def load_documents(self, *, split: bool = False) -> Mapping[str, dict[str, Any]]:
        """``split``: collections saved apart come as functions that read them."""
        ...

    def save_document(self, name: str, document: dict[str, Any], *,
                      split: Collection[str] = ()) -> None:
        """Replace the whole document (and forget its appended changes); ``split``:
        collections stored apart, read only when needed."""
        ...

    def append_record(self, name: str, record: dict[str, Any]) -> None:
        """Record one change to a document; ``load_documents`` replays it."""
        ...

    def delete_document(self, name: str) -> None: ...

    def close(self) -> None:
        """Release what the storage holds (the data directory's lock)."""
        ...
