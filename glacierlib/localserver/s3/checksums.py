"""The checksums S3 validates on receipt: CRC32, CRC32C, CRC64NVME, SHA1, SHA256 (and MD5 ETags).

CRC32 comes from ``zlib`` (C speed). CRC32C and CRC64NVME are pure-Python table CRCs because
neither ``awscrt`` nor ``crc32c`` is installed here: they run at a few MB/s, fine for tests
and small objects, slow for big ones (see the README's local server section). Values are
base64 of the big-endian digest, as S3 shows them; a composite multipart value is the
checksum of the concatenated part digests followed by ``-N``.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Protocol

__all__ = ["ALGORITHMS", "CRC_ALGORITHMS", "Hasher", "composite", "crc32c", "crc64nvme",
           "new_hasher"]

#: Algorithms the server validates (botocore names, upper case).
ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
#: Algorithms that can be FULL_OBJECT on a multipart upload.
CRC_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME")


def _table(poly: int, bits: int) -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc & ((1 << bits) - 1))
    return table


_CRC32C_TABLE = _table(0x82F63B78, 32)
_CRC64_TABLE = _table(0x9A6C9329AC4BC9B5, 64)
_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF


def _reflected(table: list[int], mask: int, data: bytes | memoryview, crc: int) -> int:
    c = crc ^ mask
    for b in bytes(data):
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ mask


def crc32c(data: bytes | memoryview, crc: int = 0) -> int:
    """CRC-32C (Castagnoli), reflected; ``crc`` continues a previous value."""
    return _reflected(_CRC32C_TABLE, _MASK32, data, crc)


def crc64nvme(data: bytes | memoryview, crc: int = 0) -> int:
    """CRC-64/NVME, reflected; ``crc`` continues a previous value."""
    return _reflected(_CRC64_TABLE, _MASK64, data, crc)


class Hasher(Protocol):
    def update(self, data: bytes | memoryview) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    def __init__(self, name: str) -> None:
        self._name = name
        self._value = 0

    def update(self, data: bytes | memoryview) -> None:
        if self._name == "CRC32":
            self._value = zlib.crc32(data, self._value)
        elif self._name == "CRC32C":
            self._value = crc32c(data, self._value)
        else:
            self._value = crc64nvme(data, self._value)

    def digest(self) -> bytes:
        size = 8 if self._name == "CRC64NVME" else 4
        return self._value.to_bytes(size, "big")


def new_hasher(algorithm: str) -> Hasher:
    """A running checksum for one of :data:`ALGORITHMS`."""
    if algorithm in CRC_ALGORITHMS:
        return _Crc(algorithm)
    if algorithm == "SHA1":
        return hashlib.sha1()  # noqa: S324 - S3's checksum, not a security use
    if algorithm == "SHA256":
        return hashlib.sha256()
    raise ValueError(f"unsupported checksum algorithm {algorithm!r}")


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def checksum(algorithm: str, data: bytes) -> str:
    """The base64 value S3 shows for ``data``."""
    hasher = new_hasher(algorithm)
    hasher.update(data)
    return b64(hasher.digest())


def composite(algorithm: str, part_values: list[str]) -> str:
    """S3's COMPOSITE multipart value: checksum of the part digests, then ``-N``."""
    hasher = new_hasher(algorithm)
    for value in part_values:
        hasher.update(base64.b64decode(value))
    return f"{b64(hasher.digest())}-{len(part_values)}"
