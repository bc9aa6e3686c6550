"""Disk storage under a data directory: survives restarts, never holds a body in memory.

Layout: ``meta/<name>.json`` (one document per vault plus the account's, each replaced
atomically by write-to-temp + ``os.replace``), ``blobs/<key>`` and ``blobs/<key>.leaves``
(archive and part bodies with their 1 MiB leaf digests), ``tmp/`` for bodies still arriving.
A crash can leave only temporary files and unreferenced blobs, both swept at the next start.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from glacierlib.localserver.blobs import BlobWriter

__all__ = ["DiskStorage"]

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_SCRATCH = 4 << 20


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _DiskWriter:
    """Streams a body into ``tmp/`` through one reused scratch buffer."""

    def __init__(self, owner: DiskStorage, size: int) -> None:
        self._owner = owner
        self._key = secrets.token_hex(16)
        self._tmp = owner.root / "tmp" / self._key
        self._file = open(self._tmp, "wb", buffering=0)  # noqa: SIM115 - closed in finish
        self._scratch = memoryview(bytearray(min(max(size, 1), _SCRATCH)))

    def buffer(self, max_length: int) -> memoryview:
        return self._scratch[: min(max_length, len(self._scratch))]

    def commit(self, length: int) -> None:
        view = self._scratch[:length]
        while view:
            written = self._file.write(view)
            view = view[written or 0 :]

    def finish(self, leaves: bytes) -> str:
        if self._owner.fsync:
            os.fsync(self._file.fileno())
        self._file.close()
        blobs = self._owner.root / "blobs"
        (blobs / f"{self._key}.leaves").write_bytes(leaves)
        os.replace(self._tmp, blobs / self._key)
        return self._key

    def discard(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)


class DiskStorage:
    """Bodies as files, metadata as JSON documents, all under ``root``."""

    persistent = True

    def __init__(self, root: Path, *, fsync: bool = False) -> None:
        self.root = Path(root)
        self.fsync = fsync
        for sub in ("meta", "blobs", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for leftover in (self.root / "tmp").iterdir():
            leftover.unlink(missing_ok=True)

    def new_blob(self, size: int) -> BlobWriter:
        return _DiskWriter(self, size)

    def put_bytes(self, data: bytes) -> str:
        writer = _DiskWriter(self, len(data))
        pos = 0
        while pos < len(data):
            buf = writer.buffer(len(data) - pos)
            buf[:] = data[pos : pos + len(buf)]
            writer.commit(len(buf))
            pos += len(buf)
        return writer.finish(b"")

    def _blob(self, key: str) -> Path:
        if not key or not all(c in "0123456789abcdef" for c in key):
            raise KeyError(key)
        return self.root / "blobs" / key

    def read(self, key: str, start: int, end: int) -> Iterator[memoryview]:
        buf = bytearray(min(_SCRATCH, max(end - start, 1)))
        view = memoryview(buf)
        with open(self._blob(key), "rb", buffering=0) as f:
            f.seek(start)
            pos = start
            while pos < end:
                n = f.readinto(view[: min(len(buf), end - pos)])
                if not n:
                    raise OSError(f"blob {key} is shorter than expected")
                yield view[:n]
                pos += n

    def file_path(self, key: str) -> Path | None:
        return self._blob(key)

    def leaves(self, key: str) -> bytes:
        path = self._blob(key).with_suffix(".leaves")
        return path.read_bytes() if path.exists() else b""

    def delete(self, key: str) -> None:
        path = self._blob(key)
        path.unlink(missing_ok=True)
        path.with_suffix(".leaves").unlink(missing_ok=True)

    def keys(self) -> set[str]:
        return {p.name for p in (self.root / "blobs").iterdir() if not p.suffix}

    def load_documents(self) -> Mapping[str, dict[str, Any]]:
        documents: dict[str, dict[str, Any]] = {}
        for path in sorted((self.root / "meta").glob("*.json")):
            try:
                documents[path.stem] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                logger.warning("ignoring unreadable metadata file %s", path)
        return documents

    def save_document(self, name: str, document: dict[str, Any]) -> None:
        meta = self.root / "meta"
        tmp = meta / f".{name}.{secrets.token_hex(4)}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(document, f, separators=(",", ":"))
            if self.fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, meta / f"{name}.json")
        if self.fsync:
            _fsync_dir(meta)

    def delete_document(self, name: str) -> None:
        (self.root / "meta" / f"{name}.json").unlink(missing_ok=True)
