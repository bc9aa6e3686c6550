"""S3Store: bad input refused before any request, S3's errors in one line, restores, hashing.

Errors S3 answers but moto does not (301 PermanentRedirect, 403 AccessDenied, 403
InvalidObjectState on a read, 409 RestoreAlreadyInProgress) come from a tiny loopback HTTP
server that answers like S3 does, so real botocore parses real replies. Until the project's
own S3 server lands (it is being built in parallel) that is the faithful peer for them.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import botocore.auth
import botocore.httpchecksum
import pytest

from glacierlib.client import make_session
from glacierlib.exceptions import (
    AuthFailed,
    ConfigError,
    InvalidRequest,
    MetadataError,
    NotFound,
)
from glacierlib.storage import PartBody
from glacierlib.targets.base import Provenance, ReadTicket, Upload
from glacierlib.targets.refs import S3Ref
from glacierlib.targets.s3 import S3Store
from glacierlib.treehash import MIB
from tests.test_client import _ByteCounter

from .conftest import fresh_bucket, s3_connection, s3_store

CLOSED = "http://127.0.0.1:9"  # nothing listens: a request would fail as a connection error


# --------------------------------------------------------------------------- before any request


@pytest.mark.parametrize(("bucket", "why"), [
    ("ab", "3 to 63"), ("a" * 64, "3 to 63"), ("My-Bucket", "lowercase"),
    ("under_score", "lowercase"), ("-start", "begin and end"), ("end.", "begin and end"),
    ("two..dots", "adjacent"), ("192.168.5.4", "IP address"), ("xn--bucket", "reserves"),
    ("data-s3alias", "reserves"), ("bucket--x-s3", "reserves"),
])
def test_an_invalid_bucket_name_is_refused_in_one_line(bucket: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why) as caught:
        s3_store(CLOSED, bucket)
    assert "\n" not in str(caught.value) and "invalid S3 bucket name" in str(caught.value)


def test_a_storage_class_typo_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"'GLACEIR' \(did you mean GLACIER") as caught:
        s3_store(CLOSED, "bucket", storage_class="GLACEIR")
    assert "DEEP_ARCHIVE" in str(caught.value)  # the hint lists the valid ones


@pytest.mark.parametrize("storage_class", ["GLACIER", "DEEP_ARCHIVE", "GLACIER_IR",
                                           "STANDARD", "INTELLIGENT_TIERING"])
def test_every_class_botocore_knows_is_accepted(storage_class: str) -> None:
    with s3_store(CLOSED, "bucket", storage_class=storage_class) as store:
        assert store.capabilities.restore_needed == (storage_class in ("GLACIER",
                                                                       "DEEP_ARCHIVE"))


def test_a_key_over_1024_bytes_is_refused_before_any_request() -> None:
    with s3_store(CLOSED, "bucket", prefix="p/") as store:
        name = "é" * 512  # 1,024 bytes, plus the prefix: 1,026
        with pytest.raises(MetadataError, match="1026 bytes, over the 1024-byte limit"):
            store.store_small(Provenance(name, 1), PartBody.from_bytes(b"x"))
        with pytest.raises(MetadataError):
            store.start_upload(Provenance(name, 1), 8 * MIB)
        assert store.key_for("é" * 511) == "p/" + "é" * 511


def test_a_part_size_s3_refuses_is_refused_before_any_request() -> None:
    with s3_store(CLOSED, "bucket") as store, pytest.raises(InvalidRequest, match="outside"):
        store.start_upload(Provenance("f", 1), 4 * MIB)


def test_a_reference_to_another_bucket_is_refused() -> None:
    with s3_store(CLOSED, "bucket") as store, pytest.raises(InvalidRequest, match="'other'"):
        store.delete(S3Ref("other", "k").format())


# --------------------------------------------------------------------------- against moto


def test_a_missing_bucket_is_named(moto_s3: str) -> None:
    with s3_store(moto_s3, "no-such-bucket-here") as store:
        with pytest.raises(NotFound, match="S3 bucket 'no-such-bucket-here' does not exist"):
            store.check_bucket()
        with pytest.raises(NotFound, match="'no-such-bucket-here' does not exist"):
            store.store_small(Provenance("f", 1), PartBody.from_bytes(b"x"))


def test_objects_carry_mtime_tree_hash_class_and_checksum(moto_s3: str) -> None:
    bucket, raw = fresh_bucket(moto_s3)
    body = PartBody.from_bytes(b"provenance")
    with s3_store(moto_s3, bucket, prefix="pre/", storage_class="DEEP_ARCHIVE") as store:
        stored = store.store_small(Provenance("d/f.txt", 1_600_000_000), body)
    assert stored.ref == f"s3:{bucket}/pre/d/f.txt"
    head = raw.head_object(Bucket=bucket, Key="pre/d/f.txt", ChecksumMode="ENABLED")
    assert head["Metadata"] == {"mtime": "1600000000", "treehash": body.tree_hash.hex}
    assert head["StorageClass"] == "DEEP_ARCHIVE"
    # moto keeps no checksum sent as a header (only botocore's trailing ones): what is sent
    # is checked against the canned server below.


def test_a_class_that_needs_no_restore_requests_none(moto_s3: str) -> None:
    bucket, raw = fresh_bucket(moto_s3)
    with s3_store(moto_s3, bucket, storage_class="GLACIER_IR") as store:
        stored = store.store_small(Provenance("f", 1), PartBody.from_bytes(b"warm"))
        ticket = store.request_readable(stored.ref)
        assert ticket.state == "not-needed"
        assert store.readability(ticket).readable
        assert "Restore" not in raw.head_object(Bucket=bucket, Key="f")


def test_a_second_restore_of_a_restored_copy_extends_it(moto_s3: str) -> None:
    bucket, _raw = fresh_bucket(moto_s3)
    with s3_store(moto_s3, bucket) as store:
        stored = store.store_small(Provenance("f", 1), PartBody.from_bytes(b"cold"))
        assert store.request_readable(stored.ref).state == "started"
        # moto finishes restores at once, so the second call finds a restored copy (200).
        assert store.request_readable(stored.ref, days=3).state == "extended"


def test_reading_an_unrestored_object_says_restore_first(moto_s3: str) -> None:
    bucket, _raw = fresh_bucket(moto_s3)
    with s3_store(moto_s3, bucket) as store:
        stored = store.store_small(Provenance("f", 1), PartBody.from_bytes(b"cold"))
        ticket = ReadTicket(stored.ref, "started")
        assert not store.readability(ticket).readable
        with pytest.raises(InvalidRequest, match="archived and not restored") as caught:
            store.read_range(ticket)
    assert "restore" in str(caught.value.hint)


@pytest.fixture
def sha256_bytes(monkeypatch: pytest.MonkeyPatch) -> _ByteCounter:
    """The counter of tests/test_client.py: SHA-256 input on this thread, wherever hashed."""
    counter = _ByteCounter(threading.get_ident())
    monkeypatch.setattr(hashlib, "sha256", counter)
    monkeypatch.setattr(botocore.auth, "sha256", counter)
    monkeypatch.setattr(botocore.httpchecksum, "sha256", counter)
    return counter


SIGNING_OVERHEAD = 64 * 1024


def test_a_body_is_hashed_exactly_as_often_as_for_glacier(moto_s3: str,
                                                          sha256_bytes: _ByteCounter) -> None:
    """As tests/test_client.py -k hashed_exactly_once: PartBody hashes each byte twice (the
    linear SHA-256 and the tree leaves); sending it to S3 adds only signing overhead."""
    bucket, _raw = fresh_bucket(moto_s3)
    payload = bytes(range(256)) * (8 * MIB // 256)
    with s3_store(moto_s3, bucket) as store:
        upload = store.start_upload(Provenance("big", 1), 8 * MIB)
        sha256_bytes.bytes = 0
        body = PartBody.from_bytes(payload)
        assert 2 * len(payload) <= sha256_bytes.bytes <= 2 * len(payload) + 7 * 64
        sha256_bytes.bytes = 0
        store.send_part(upload, 0, body)
        assert sha256_bytes.bytes < SIGNING_OVERHEAD
        sha256_bytes.bytes = 0
        store.store_small(Provenance("small", 1), body)
        assert sha256_bytes.bytes < SIGNING_OVERHEAD


# --------------------------------------------------------------------------- S3's own answers


class _Canned(http.server.BaseHTTPRequestHandler):
    """Answers every request with the reply set on the server (status, headers, XML body)."""

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        self.server.seen.append((self.command, dict(self.headers)))  # type: ignore[attr-defined]
        status, headers, body = self.server.reply  # type: ignore[attr-defined]
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        payload = b"" if self.command == "HEAD" else body.encode()
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


def _error_xml(code: str, message: str = "m", extra: str = "") -> str:
    return (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
            f"<Message>{message}</Message>{extra}<RequestId>r</RequestId></Error>")


@pytest.fixture
def canned() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _store_at(server: http.server.ThreadingHTTPServer, **kwargs: Any) -> S3Store:
    conn = s3_connection(f"http://127.0.0.1:{server.server_address[1]}")
    return S3Store(make_session(conn), conn, bucket="far-away", **kwargs)


def test_a_bucket_in_another_region_names_that_region(canned: Any) -> None:
    canned.reply = (301, {"x-amz-bucket-region": "eu-west-3"},
                    _error_xml("PermanentRedirect", extra="<Bucket>far-away</Bucket>"))
    with _store_at(canned) as store:
        with pytest.raises(ConfigError) as caught:
            store.store_small(Provenance("f", 1), PartBody.from_bytes(b"x"))
        assert len(canned.seen) == 1  # not followed to the other region: one request
        with pytest.raises(ConfigError, match="eu-west-3"):
            store.check_bucket()  # HEAD: no body, the header alone names it
    assert str(caught.value) == ("S3 bucket 'far-away' is in region eu-west-3, not us-east-1 "
                                 "(pass --region eu-west-3)")


def test_access_denied_names_the_bucket_and_echoes_nothing(canned: Any) -> None:
    canned.reply = (403, {}, _error_xml("AccessDenied", "secret-ish server text"))
    with _store_at(canned) as store, pytest.raises(AuthFailed) as caught:
        store.store_small(Provenance("f", 1), PartBody.from_bytes(b"x"))
    text = str(caught.value)
    assert "access denied to S3 bucket 'far-away'" in text and "secret-ish" not in text
    assert "\n" not in text


def test_invalid_object_state_is_not_an_auth_failure(canned: Any) -> None:
    canned.reply = (403, {}, _error_xml("InvalidObjectState"))
    with _store_at(canned) as store, pytest.raises(InvalidRequest, match="not restored"):
        store.read_range(ReadTicket(S3Ref("far-away", "k").format(), "started"))


def test_a_restore_already_running_is_not_an_error(canned: Any) -> None:
    """The 409 moto never sends: a second request while a restore runs costs nothing."""
    canned.reply = (409, {}, _error_xml("RestoreAlreadyInProgress"))
    with _store_at(canned) as store:
        ticket = store.request_readable(S3Ref("far-away", "k").format())
    assert ticket.state == "in-progress"


def test_uploads_send_our_sha256_for_s3_to_verify_and_no_trailer(canned: Any) -> None:
    """S3 verifies ``x-amz-checksum-sha256`` on receipt; the body goes plain (no aws-chunked
    trailer: botocore computed nothing) and unsigned: the signed checksum header binds it."""
    body = PartBody.from_bytes(b"checked by S3" * 1000)
    canned.reply = (200, {"ETag": '"e"'}, "")
    with _store_at(canned) as store:
        store.store_small(Provenance("f", 1), body)
        store.send_part(Upload("u", "f", 8 * MIB), 0, body)
    for method, headers in canned.seen:
        lowered = {k.lower(): v for k, v in headers.items()}
        assert method == "PUT"
        assert lowered["x-amz-checksum-sha256"] == base64.b64encode(body.sha256).decode()
        assert lowered["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
        assert "x-amz-checksum-sha256" in lowered["authorization"]
        assert "x-amz-trailer" not in lowered
        assert "aws-chunked" not in lowered.get("content-encoding", "")
    assert len(canned.seen) == 2


def test_botocore_adds_no_checksum_of_its_own(canned: Any) -> None:
    """``when_required``: a request body we send no checksum for (RestoreObject's XML) gets
    none from botocore either; with botocore's default it would carry a CRC32."""
    canned.reply = (202, {}, "")
    with _store_at(canned) as store:
        store.request_readable(S3Ref("far-away", "k").format())
    (_method, headers), = canned.seen
    assert not [h for h in headers if h.lower().startswith(("x-amz-checksum",
                                                             "x-amz-sdk-checksum"))]


def test_a_class_that_needs_no_restore_sends_no_request(canned: Any) -> None:
    canned.reply = (500, {}, _error_xml("InternalError"))
    with _store_at(canned, storage_class="GLACIER_IR") as store:
        ticket = store.request_readable(S3Ref("far-away", "k").format())
    assert (ticket.state, canned.seen) == ("not-needed", [])
