"""``<journal>.index``: a cache of the parsed state, used only when it provably matches.

Parsing a million lines costs seconds of pure Python, while a journal only ever grows. So the
state parsed from the first ``size`` bytes of a journal is saved next to it, and the next
unfiltered, non-strict load restores it and parses only the lines appended since.

**When it is used.** Only if the journal is the same file (device and inode), at least
``size`` bytes long, and the SHA-1 of its first ``size`` bytes equals the one recorded when
the index was written, which was computed over exactly the bytes that were parsed into it
(``journal_load.load_lines`` hashes them as it reads, and a writer adds every line it
appends). Any in-place edit of those bytes (same length or not, anywhere in them) changes the
hash, and the journal is then parsed in full as if the index did not exist. An earlier
version hashed only the first MiB and the last 64 KiB, so an edit in the middle went unseen.

**What the check costs.** Hashing is far cheaper than parsing: SHA-1 runs at about 1.5 GB/s
on one core with SHA extensions (measured: 0.20 s of CPU for a million records, 263 MB, which
is 5% of the CPU of parsing them, ``benchmarks/journal.py``); and it runs in a second thread
(``hashlib`` releases the GIL) while the main thread unmarshals the index, so on two cores
most of it is hidden.

**Layout.** Magic, then chunks (8-byte little-endian length + ``marshal`` of a tagged tuple:
``("live", {...})`` slices of the live archives, then one ``("meta", (jobs, warnings,
records))``), then the JSON header and its 8-byte length, last so that it can carry the CRC
and length of everything before it. Deleting the file is always safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import marshal
import os
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glacierlib.exceptions import JournalError
from glacierlib.journal_files import open_regular, side_mode

if TYPE_CHECKING:
    from hashlib import _Hash

    from glacierlib.journal_state import JournalState

__all__ = ["index_path", "load_index", "new_digest", "write_index"]

logger = logging.getLogger("glacierlib.journal")

_INDEX_MAGIC = b"glacierlib-journal-index 3\n"
_HASH_BLOCK = 8 << 20
_INDEX_CHUNK = 65_536  # live archives per chunk: bounds the memory a write needs (~15 MB)


def index_path(path: Path) -> Path:
    return path.with_name(path.name + ".index")


def new_digest() -> _Hash:
    """The hash that ties an index to the journal bytes it was parsed from."""
    return hashlib.sha1(usedforsecurity=False)


def _hash_prefix(fd: int, size: int, digest: _Hash) -> None:
    """Feed the journal's first ``size`` bytes to ``digest`` (pread: no shared offset)."""
    offset = 0
    while offset < size:
        block = os.pread(fd, min(_HASH_BLOCK, size - offset), offset)
        if not block:
            raise ValueError("journal shorter than the index says")
        digest.update(block)
        offset += len(block)


def _read_index(path: Path) -> bytes | None:
    try:
        fd = open_regular(index_path(path), os.O_RDONLY, what="journal index")
    except OSError:  # missing or unreadable: parse the journal instead
        return None
    try:
        with os.fdopen(fd, "rb") as f:
            return f.read()
    except OSError:
        return None


def load_index(fd: int, path: Path, state: JournalState) -> tuple[int, _Hash] | None:
    """Restore ``state`` from a matching index; return (journal bytes it covers, the digest
    of those bytes, ready to be continued), or None when there is no usable index.

    A side file that is not a regular file (a FIFO...) is refused with ``JournalError``,
    like the journal itself; a missing, damaged or stale index is silently ignored.
    """
    data = _read_index(path)
    if data is None:
        return None
    digest = new_digest()
    checker: threading.Thread | None = None
    failure: list[BaseException] = []

    def check(size: int) -> None:
        try:
            _hash_prefix(fd, size, digest)
        except (OSError, ValueError) as exc:
            failure.append(exc)

    try:
        if not data.startswith(_INDEX_MAGIC) or len(data) < len(_INDEX_MAGIC) + 8:
            raise ValueError("not an index")
        header_len = int.from_bytes(data[-8:], "little")
        header_at = len(data) - 8 - header_len
        if header_at < len(_INDEX_MAGIC):
            raise ValueError("index header out of place")
        header = json.loads(data[header_at:-8])
        st = os.fstat(fd)
        size = header["size"]
        if (header["dev"], header["ino"]) != (st.st_dev, st.st_ino) or not (
                isinstance(size, int) and 0 < size <= st.st_size):
            raise ValueError("index of another journal or of a longer one")
        # Hash the journal in a second thread while this one unmarshals the index.
        checker = threading.Thread(target=check, args=(size,), name="journal-index-check")
        checker.start()
        payload = memoryview(data)[len(_INDEX_MAGIC) : header_at]
        if len(payload) != header["length"] or zlib.crc32(payload) != header["crc32"]:
            raise ValueError("index damaged")
        live: dict[str, Any] = {}
        meta: object = None
        pos = 0
        while pos < len(payload):
            n = int.from_bytes(payload[pos : pos + 8], "little")
            # Only our own code makes this file, next to a journal it could rewrite anyway;
            # the CRC above catches damage, and the shapes are checked below.
            tag, value = marshal.loads(payload[pos + 8 : pos + 8 + n])  # noqa: S302
            pos += 8 + n
            if tag == "live" and isinstance(value, dict):
                live.update(value)
            elif tag == "meta":
                meta = value
            else:
                raise ValueError("index has an unknown chunk")
        if not (isinstance(meta, tuple) and len(meta) == 3):
            raise ValueError("index has no meta chunk")
        jobs: object = meta[0]
        warnings: object = meta[1]
        records: object = meta[2]
        if not (isinstance(jobs, dict) and isinstance(warnings, list)
                and isinstance(records, int)):
            raise ValueError("index has an unexpected shape")
        checker.join()
        checker = None
        if failure:
            raise ValueError(f"journal not readable: {failure[0]}")
        if digest.hexdigest() != header["sha1"]:
            raise ValueError("the journal's first bytes changed since the index was written")
    except (ValueError, KeyError, TypeError, EOFError, OSError) as exc:
        logger.debug("journal index of %s not used: %s", path, exc)
        return None
    finally:
        if checker is not None:
            checker.join()
    state._live = live
    state._jobs = jobs
    for warning in warnings:
        state._warn(str(warning))
    state.records = records
    logger.debug("journal %s: %d records restored from its index", path, records)
    return size, digest


def write_index(path: Path, fd: int, size: int, digest: _Hash, state: JournalState) -> None:
    """Save the state parsed from the first ``size`` bytes, whose hash is ``digest``.

    Atomic (a temporary file renamed over the index); failures only cost speed later.
    """
    st = os.fstat(fd)
    target = index_path(path)
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    crc = 0
    length = 0
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            out_fd = open_regular(tmp, flags, what="journal index",
                                  mode=side_mode(fd))
        except FileExistsError:  # left by a crashed process that had our pid
            tmp.unlink()
            out_fd = open_regular(tmp, flags, what="journal index",
                                  mode=side_mode(fd))
        with os.fdopen(out_fd, "wb") as out:
            out.write(_INDEX_MAGIC)
            items = iter(state._live.items())
            chunks: Iterator[tuple[str, Any]] = itertools.chain(
                iter(lambda: ("live", dict(itertools.islice(items, _INDEX_CHUNK))),
                     ("live", {})),
                [("meta", (state._jobs, state._content_warnings, state.records))],
            )
            for chunk in chunks:
                blob = marshal.dumps(chunk, 4)
                framed = len(blob).to_bytes(8, "little")
                for piece in (framed, blob):
                    out.write(piece)
                    crc = zlib.crc32(piece, crc)
                length += 8 + len(blob)
            header = json.dumps({
                "dev": st.st_dev, "ino": st.st_ino, "size": size, "sha1": digest.hexdigest(),
                "length": length, "crc32": crc,
            }).encode()
            out.write(header + len(header).to_bytes(8, "little"))
        os.replace(tmp, target)
    except (OSError, JournalError) as exc:  # e.g. a FIFO squatting on the temporary name
        logger.debug("journal index of %s not written: %s", path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink()
