"""Request bodies as S3 receives them: plain, ``UNSIGNED-PAYLOAD`` or ``aws-chunked``.

Bodies stream into a blob chunk by chunk while MD5 (the ETag), SHA-256 (a signed payload's
``x-amz-content-sha256``) and the requested checksum are computed once; a mismatch discards
the blob and answers as S3 does (``XAmzContentSHA256Mismatch``, ``BadDigest``). ``aws-chunked``
with an unsigned trailer is what current botocore sends over TLS; chunk-signed bodies
(``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``) are refused clearly rather than taken unverified.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

import attrs

from glacierlib.localserver.blobs import ServerStorage
from glacierlib.localserver.routes import BodyReader
from glacierlib.localserver.s3.checksums import ALGORITHMS, Hasher, b64, new_hasher
from glacierlib.localserver.s3.xmlio import S3Error

__all__ = ["HttpChunkedReader", "Received", "read_small", "receive"]

_CHUNK = 1 << 20
_UNSIGNED = "UNSIGNED-PAYLOAD"
_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
_MAX_LINE = 4096


@attrs.frozen
class Received:
    blob: str | None
    size: int
    md5: str
    #: The checksum computed for the requested algorithm (base64), if one was.
    algorithm: str | None
    checksum: str | None
    data: bytes = b""


class HttpChunkedReader:
    """A body sent with ``Transfer-Encoding: chunked`` (botocore sends ``aws-chunked``
    bodies this way, with no Content-Length), read as the bytes between the HTTP framing."""

    def __init__(self, rfile: Any) -> None:
        self._rfile = rfile
        self._left = 0
        self._done = False
        self.remaining = 1  # unknown until the last chunk is read

    def _next_chunk(self) -> None:
        line = self._rfile.readline(_MAX_LINE)
        try:
            self._left = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise S3Error(400, "IncompleteBody", "Malformed HTTP chunk header") from None
        if self._left == 0:
            while self._rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):
                pass
            self._done = True
            self.remaining = 0

    def read(self, size: int) -> bytes:
        if self._done:
            return b""
        if self._left == 0:
            self._next_chunk()
            if self._done:
                return b""
        data = self._rfile.read(min(size, self._left))
        if not data:
            raise S3Error(400, "IncompleteBody", "The request body terminated unexpectedly")
        self._left -= len(data)
        if self._left == 0:
            self._rfile.readline(_MAX_LINE)
        return bytes(data)

    def readinto(self, buffer: memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> bool:
        total = 0
        while not self._done and total < (64 << 20):
            total += len(self.read(1 << 20))
        return self._done


class _Source:
    """Reads the decoded body: straight through, or out of ``aws-chunked`` framing."""

    def __init__(self, reader: BodyReader, chunked: bool) -> None:
        self._reader = reader
        self._chunked = chunked
        self._buf = b""
        self._left_in_chunk = 0
        self._done = False
        self.trailers: dict[str, str] = {}

    def _fill(self) -> bool:
        more = self._reader.read(64 << 10)
        self._buf += more
        return bool(more)

    def _line(self) -> bytes:
        while b"\r\n" not in self._buf:
            if len(self._buf) > _MAX_LINE or not self._fill():
                raise S3Error(400, "IncompleteBody",
                              "The request body terminated unexpectedly")
        line, _, self._buf = self._buf.partition(b"\r\n")
        return line

    def _take(self, n: int) -> bytes:
        while len(self._buf) < n and self._fill():
            pass
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def read(self, n: int) -> bytes:
        if not self._chunked:
            return self._take(n) if self._buf else self._reader.read(n)
        if self._done:
            return b""
        if self._left_in_chunk == 0:
            header = self._line().split(b";", 1)[0].strip()
            try:
                self._left_in_chunk = int(header, 16)
            except ValueError:
                raise S3Error(400, "InvalidChunkSizeError",
                              "Only chunk sizes in hexadecimal are accepted") from None
            if self._left_in_chunk == 0:
                self._read_trailers()
                return b""
        out = self._take(min(n, self._left_in_chunk))
        if not out:
            raise S3Error(400, "IncompleteBody", "The request body terminated unexpectedly")
        self._left_in_chunk -= len(out)
        if self._left_in_chunk == 0 and self._line() != b"":
            raise S3Error(400, "IncompleteBody", "A chunk did not end with CRLF")
        return out

    def _read_trailers(self) -> None:
        self._done = True
        while True:
            line = self._line()
            if not line:
                return
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise S3Error(400, "MalformedTrailerError",
                              "The request contained trailing data that was not well-formed")
            self.trailers[name.strip().lower()] = value.strip()


def _requested(headers: Mapping[str, str], want: str | None) -> tuple[str | None, str | None]:
    """(algorithm, claimed value or None if it arrives in a trailer)."""
    found = [a for a in ALGORITHMS if headers.get(f"x-amz-checksum-{a.lower()}")]
    if len(found) > 1:
        raise S3Error(400, "InvalidRequest", "Expecting a single x-amz-checksum- header. "
                      "Multiple checksum Types are not allowed.")
    if found:
        return found[0], headers[f"x-amz-checksum-{found[0].lower()}"]
    trailer = (headers.get("x-amz-trailer") or "").strip().lower()
    if trailer:
        name = trailer.removeprefix("x-amz-checksum-").upper()
        if name not in ALGORITHMS:
            raise S3Error(400, "InvalidRequest", f"Unsupported trailer {trailer[:60]}")
        return name, None
    algorithm = (headers.get("x-amz-sdk-checksum-algorithm") or want or "").upper() or None
    if algorithm is not None and algorithm not in ALGORITHMS:
        raise S3Error(400, "InvalidRequest",
                      f"Checksum algorithm {algorithm[:20]} is not supported here")
    return algorithm, None


def _content_md5(headers: Mapping[str, str]) -> bytes | None:
    raw = headers.get("Content-MD5")
    if raw is None:
        return None
    try:
        value = base64.b64decode(raw, validate=True)
    except binascii.Error:
        value = b""
    if len(value) != 16:
        raise S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.")
    return value


def receive(storage: ServerStorage | None, reader: BodyReader, headers: Mapping[str, str],
            length: int | None, *, want: str | None = None,
            body_checksums: bool = True) -> Received:
    """Stream the body into a new blob (``storage=None``: keep it in memory), verifying it.

    ``want``: an algorithm to compute even when the request names none (an upload's own).
    ``body_checksums=False``: ``x-amz-checksum-*`` headers describe something else (the
    whole object, on CompleteMultipartUpload), not this body.
    """
    payload = headers.get("x-amz-content-sha256") or _UNSIGNED
    encoding = (headers.get("Content-Encoding") or "").lower()
    chunked = payload.startswith("STREAMING-") or "aws-chunked" in encoding
    if payload.startswith("STREAMING-") and payload != _TRAILER:
        raise S3Error(501, "NotImplemented",
                      f"{payload[:60]} (chunk-signed bodies) is not implemented by this server")
    if length is None and not chunked:
        raise S3Error(411, "MissingContentLength",
                      "You must provide the Content-Length HTTP header.")
    size = length or 0
    if chunked:
        decoded = headers.get("x-amz-decoded-content-length")
        if decoded is None or not decoded.isdigit():
            raise S3Error(411, "MissingContentLength",
                          "aws-chunked bodies need x-amz-decoded-content-length")
        size = int(decoded)
    algorithm, claimed = _requested(headers, want) if body_checksums else (None, None)
    md5_claim = _content_md5(headers)
    source = _Source(reader, chunked)
    md5 = hashlib.md5()  # noqa: S324 - S3's ETag
    sha = hashlib.sha256() if payload not in (_UNSIGNED, _TRAILER) else None
    hasher: Hasher | None = new_hasher(algorithm) if algorithm else None
    writer = storage.new_blob(size) if storage is not None else None
    append = getattr(writer, "append", None)
    kept: list[bytes] = []
    got = 0
    try:
        while True:
            chunk = source.read(_CHUNK)
            if not chunk:
                break
            got += len(chunk)
            if got > size:
                raise S3Error(400, "IncompleteBody",
                              "The body is longer than its declared length")
            md5.update(chunk)
            if sha is not None:
                sha.update(chunk)
            if hasher is not None:
                hasher.update(chunk)
            if writer is None:
                kept.append(chunk)
            elif append is not None:
                append(chunk)
            else:
                view = memoryview(chunk)
                while view:
                    buf = writer.buffer(len(view))
                    n = len(buf)
                    buf[:] = view[:n]
                    writer.commit(n)
                    view = view[n:]
        if got != size:
            raise S3Error(400, "IncompleteBody", "You did not provide the number of bytes "
                          "specified by the Content-Length HTTP header")
        if sha is not None and sha.hexdigest() != payload.lower():
            raise S3Error(400, "XAmzContentSHA256Mismatch",
                          "The provided 'x-amz-content-sha256' header does not match what "
                          "was computed.")
        if md5_claim is not None and md5.digest() != md5_claim:
            raise S3Error(400, "BadDigest",
                          "The Content-MD5 you specified did not match what we received.")
        value = b64(hasher.digest()) if hasher is not None else None
        if algorithm is not None and claimed is None:
            claimed = source.trailers.get(f"x-amz-checksum-{algorithm.lower()}")
        if claimed is not None and claimed != value:
            raise S3Error(400, "BadDigest",
                          f"The {algorithm} you specified did not match the calculated "
                          "checksum.")
        blob = writer.finish(b"") if writer is not None else None
    except BaseException:
        if writer is not None:
            writer.discard()
        raise
    return Received(blob, size, md5.hexdigest(), algorithm, value, b"".join(kept))


def read_small(reader: BodyReader, headers: Mapping[str, str], length: int | None,
               limit: int = 1 << 20, *, body_checksums: bool = True) -> bytes:
    """A small request document (Complete, Delete, Restore, CreateBucket), verified."""
    if length is not None and length > limit:
        raise S3Error(400, "MaxMessageLengthExceeded", "Your request was too big.")
    return receive(None, reader, headers, length or 0, body_checksums=body_checksums).data
