"""Glacier's SHA-256 tree hash: streaming, per file (optionally on several threads), per part.

The tree hash is the integrity currency of Glacier: every upload, part, completion and ranged
download is checked against it. Three facts shape this module:

* Leaves are 1 MiB. A streaming hasher keeps only the leaf digests seen so far (32 bytes per
  MiB) plus one partial leaf: a 40 TB archive needs about 1.3 GB of digests at most, a 10 GiB
  file 320 KiB, and never the data itself.
* A part of 2^k MiB starting at a multiple of its size is exactly one node of the archive tree,
  so the archive hash is the same pairing step run over part hashes (``combine_tree_hashes``).
  The same holds for tree-hash aligned download ranges.
* ``hashlib`` releases the GIL on large buffers, so hashing disjoint leaf ranges of one file on
  several threads scales with cores.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from typing_extensions import Buffer, Self

__all__ = [
    "LEAF_SIZE",
    "MIB",
    "ByteRange",
    "PartHashes",
    "TreeHash",
    "TreeHasher",
    "combine_tree_hashes",
    "hash_part",
    "range_tree_hash",
    "tree_hash_bytes",
    "tree_hash_file",
]

MIB = 1 << 20
LEAF_SIZE = MIB
_READ_CHUNK = 8 * MIB
_EMPTY_SHA256 = hashlib.sha256(b"").digest()


def _check_digest(_instance: object, _attribute: object, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != 32:
        raise ValueError("a tree hash is exactly 32 bytes")


@attrs.frozen(repr=False)
class TreeHash:
    """A 32-byte SHA-256 tree hash; prints and compares as lowercase hex on the wire."""

    digest: bytes = attrs.field(validator=_check_digest)

    @classmethod
    def from_hex(cls, text: str) -> TreeHash:
        """Parse a hex hash from outside (a journal, a header); case-insensitive."""
        if len(text) != 64:
            raise ValueError(f"not a SHA-256 tree hash (want 64 hex digits): {text[:80]!r}")
        try:
            return cls(bytes.fromhex(text))
        except ValueError:
            raise ValueError(f"not a SHA-256 tree hash (not hex): {text[:80]!r}") from None

    @property
    def hex(self) -> str:
        return self.digest.hex()

    def __str__(self) -> str:
        return self.digest.hex()

    def __repr__(self) -> str:
        return f"TreeHash({self.digest.hex()!r})"


def _valid_range(instance: ByteRange, _attribute: object, end: int) -> None:
    if instance.start < 0:
        raise ValueError(f"byte range start must be >= 0, got {instance.start}")
    if end <= instance.start:
        raise ValueError(f"byte range end must be > start, got {instance.start}..{end}")


@attrs.frozen
class ByteRange:
    """Half-open byte range ``[start, end)``; Glacier's wire form is inclusive (``last``)."""

    start: int
    end: int = attrs.field(validator=_valid_range)

    @classmethod
    def from_inclusive(cls, first: int, last: int) -> ByteRange:
        return cls(first, last + 1)

    @classmethod
    def parse_inclusive(cls, text: str) -> ByteRange:
        """Parse ``"a-b"`` (ListParts ``RangeInBytes``, RetrievalByteRange)."""
        first, sep, last = text.strip().partition("-")
        if not sep or not first.isdigit() or not last.isdigit():
            raise ValueError(f"not a byte range: {text[:80]!r}")
        return cls.from_inclusive(int(first), int(last))

    @property
    def last(self) -> int:
        return self.end - 1

    @property
    def length(self) -> int:
        return self.end - self.start

    def inclusive(self) -> str:
        """``"a-b"``, as in RetrievalByteRange and ListParts."""
        return f"{self.start}-{self.last}"

    def http_range(self) -> str:
        """``Range`` request header value."""
        return f"bytes={self.start}-{self.last}"

    def content_range(self, total: int | None = None) -> str:
        """``Content-Range`` header value; ``*`` when the total is unknown (uploads)."""
        return f"bytes {self.start}-{self.last}/{'*' if total is None else total}"

    def is_megabyte_aligned(self, archive_size: int) -> bool:
        """Starts on a MiB boundary and ends on one or at the archive's end."""
        if self.end > archive_size:
            return False
        return self.start % MIB == 0 and (self.end % MIB == 0 or self.end == archive_size)

    def is_tree_hash_aligned(self, archive_size: int) -> bool:
        """True when the range's tree hash is a node of the archive's tree."""
        if not self.is_megabyte_aligned(archive_size):
            return False
        if self.start == 0 and self.end == archive_size:
            return True
        length = self.length
        if self.end == archive_size:
            span = MIB
            while span < length:
                span <<= 1
            return self.start % span == 0
        return length % MIB == 0 and _is_power_of_two(length // MIB) and self.start % length == 0


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def combine_tree_hashes(nodes: Sequence[bytes | TreeHash]) -> TreeHash:
    """Run the tree pairing step over leaf or node digests, in byte order.

    Valid for leaves, and for the hashes of tree-hash aligned pieces (parts of 2^k MiB,
    aligned download segments). An odd node at the end of a level is promoted unchanged.
    """
    level = [n.digest if isinstance(n, TreeHash) else n for n in nodes]
    if not level:
        return TreeHash(_EMPTY_SHA256)
    sha256 = hashlib.sha256
    while len(level) > 1:
        paired = [sha256(level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return TreeHash(level[0])


class TreeHasher:
    """Streaming tree hash with a hashlib-like interface (``update``, ``digest``, ``copy``).

    Not thread-safe; use one per stream. ``leaf_digests()`` exposes the 1 MiB leaf digests so
    callers can derive aligned sub-range hashes without re-reading data.
    """

    __slots__ = ("_current", "_filled", "_leaves", "_length")

    name = "sha256-tree"
    digest_size = 32

    def __init__(self, data: Buffer = b"") -> None:
        self._leaves: list[bytes] = []
        self._current = hashlib.sha256()
        self._filled = 0
        self._length = 0
        if data:
            self.update(data)

    @property
    def length(self) -> int:
        """Bytes fed so far."""
        return self._length

    def update(self, data: Buffer) -> None:
        view = memoryview(data)
        if view.ndim != 1 or view.itemsize != 1:
            view = view.cast("B")
        total = len(view)
        self._length += total
        pos = 0
        sha256 = hashlib.sha256
        leaves = self._leaves
        while pos < total:
            if self._filled == 0:
                # Whole leaves straight from the caller's buffer: no copy, one call per MiB.
                while total - pos >= MIB:
                    leaves.append(sha256(view[pos : pos + MIB]).digest())
                    pos += MIB
                if pos == total:
                    break
            take = min(MIB - self._filled, total - pos)
            self._current.update(view[pos : pos + take])
            self._filled += take
            pos += take
            if self._filled == MIB:
                leaves.append(self._current.digest())
                self._current = sha256()
                self._filled = 0

    def leaf_digests(self) -> list[bytes]:
        """Digests of every leaf so far, including the partial last one."""
        if self._filled or not self._leaves:
            return [*self._leaves, self._current.digest()]
        return list(self._leaves)

    def tree_hash(self) -> TreeHash:
        return combine_tree_hashes(self.leaf_digests())

    def digest(self) -> bytes:
        return self.tree_hash().digest

    def hexdigest(self) -> str:
        return self.tree_hash().hex

    def copy(self) -> Self:
        other = type(self).__new__(type(self))
        other._leaves = list(self._leaves)
        other._current = self._current.copy()
        other._filled = self._filled
        other._length = self._length
        return other


def tree_hash_bytes(data: Buffer) -> TreeHash:
    """Tree hash of an in-memory buffer."""
    return TreeHasher(data).tree_hash()


@attrs.frozen
class PartHashes:
    """Both hashes a Glacier upload request needs, from one pass over the body."""

    sha256: bytes = attrs.field(repr=lambda d: d.hex())
    tree_hash: TreeHash


def hash_part(data: Buffer) -> PartHashes:
    """Linear SHA-256 and tree hash of an upload body.

    Up to 1 MiB the two are the same digest, so small bodies are hashed once.
    """
    view = memoryview(data)
    if view.nbytes <= MIB:
        digest = hashlib.sha256(view).digest()
        return PartHashes(digest, TreeHash(digest))
    return PartHashes(hashlib.sha256(view).digest(), TreeHasher(view).tree_hash())


def _leaf_digests_of_span(path: str | os.PathLike[str], start: int, end: int) -> list[bytes]:
    """Leaf digests of ``[start, end)`` of a file; ``start`` is leaf-aligned."""
    leaves: list[bytes] = []
    sha256 = hashlib.sha256
    buffer = bytearray(min(_READ_CHUNK, max(end - start, 1)))
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        handle.seek(start)
        pos = start
        while pos < end:
            want = min(len(buffer), end - pos)
            got = 0
            while got < want:  # unbuffered reads may come back short; fill the chunk
                more = handle.readinto(view[got:want])
                if not more:
                    raise OSError(
                        f"{os.fspath(path)}: file shrank while hashing (at byte {pos + got})"
                    )
                got += more
            for offset in range(0, got, MIB):
                leaves.append(sha256(view[offset : min(offset + MIB, got)]).digest())
            pos += got
    return leaves


def file_leaf_digests(
    path: str | os.PathLike[str], *, size: int | None = None, threads: int = 1,
    executor: ThreadPoolExecutor | None = None,
) -> list[bytes]:
    """Leaf digests of a whole file, hashed on ``threads`` threads (or a given executor)."""
    if size is None:
        size = os.stat(path).st_size
    if size == 0:
        return [_EMPTY_SHA256]
    leaves_total = -(-size // MIB)
    workers = max(1, min(threads, leaves_total))
    if workers == 1 and executor is None:
        return _leaf_digests_of_span(path, 0, size)
    per = -(-leaves_total // workers)
    spans = [
        (i * per * MIB, min(size, (i + 1) * per * MIB))
        for i in range(workers)
        if i * per * MIB < size
    ]
    if executor is not None:
        futures = [executor.submit(_leaf_digests_of_span, path, a, b) for a, b in spans]
        return [leaf for f in futures for leaf in f.result()]
    with ThreadPoolExecutor(max_workers=len(spans), thread_name_prefix="treehash") as pool:
        parts = list(pool.map(lambda span: _leaf_digests_of_span(path, *span), spans))
    return [leaf for part in parts for leaf in part]


def tree_hash_file(
    path: str | os.PathLike[str], *, threads: int = 1, executor: ThreadPoolExecutor | None = None,
) -> TreeHash:
    """Tree hash of a file's current contents.

    ``threads > 1`` hashes disjoint leaf ranges in parallel; the result is identical.
    """
    return combine_tree_hashes(file_leaf_digests(path, threads=threads, executor=executor))


def range_tree_hash(leaves: Sequence[bytes], byte_range: ByteRange, archive_size: int) -> TreeHash:
    """Tree hash of a tree-hash aligned range, from the archive's leaf digests alone."""
    if not byte_range.is_tree_hash_aligned(archive_size):
        raise ValueError(
            f"range {byte_range.inclusive()} is not tree-hash aligned in an archive of "
            f"{archive_size} bytes"
        )
    first = byte_range.start // MIB
    stop = -(-byte_range.end // MIB)
    return combine_tree_hashes(leaves[first:stop])


def iter_leaf_digests(chunks: Iterable[Buffer]) -> list[bytes]:
    """Leaf digests of a stream of chunks of any sizes."""
    hasher = TreeHasher()
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.leaf_digests()
