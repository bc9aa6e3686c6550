"""GlacierStore against the project's local server: real botocore, real HTTP on loopback.

Every operation, every error mapping (faults injected by the server's control plane), the
retries botocore does and the ones our hooks add, and the measurement that an uploaded part
is hashed exactly once.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.auth
import botocore.httpchecksum
import botocore.session
import pytest
from events_support import Events

from glacierlib.client import (
    Connection,
    GlacierStore,
    make_session,
    open_store,
    translate_error,
)
from glacierlib.exceptions import (
    AuthFailed,
    ConfigError,
    GlacierlibError,
    InvalidRequest,
    LimitExceeded,
    NoLongerSupported,
    NotFound,
    PolicyEnforced,
    ServiceError,
    ServiceUnavailable,
    Throttled,
    VerificationError,
)
from glacierlib.localserver import LocalServer, ServerConfig, running_server
from glacierlib.storage import InventoryParameters, PartBody, VaultStore
from glacierlib.treehash import MIB, ByteRange, TreeHash, combine_tree_hashes, tree_hash_bytes
from glacierlib.wrappers.retrying import RetryPolicy

VAULT = "test-vault"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def server(local_server: LocalServer) -> LocalServer:
    """The conftest ``local_server`` (in memory, function scope, jobs finish at once)."""
    return local_server


@pytest.fixture
def slow_server() -> Iterator[LocalServer]:
    """A server whose jobs stay in progress until the test completes them."""
    hour = 3600.0
    config = ServerConfig(standard_delay=hour, bulk_delay=hour, expedited_delay=hour,
                          inventory_delay=hour)
    with running_server(config=config) as srv:
        yield srv


def connection(server: Any, **overrides: Any) -> Connection:
    values: dict[str, Any] = {
        "region": server.region, "endpoint_url": server.endpoint_url, "protocol": "http",
        "timeout": 20, "access_key": server.access_key, "secret_key": server.secret_key,
        "concurrency": 4,
    }
    values.update(overrides)
    return Connection(**values)


@pytest.fixture
def events() -> Events:
    return Events()


def make_store(server: Any, events: Events | None = None, attempts: int = 3,
               **overrides: Any) -> GlacierStore:
    conn = connection(server, **overrides)
    return GlacierStore(make_session(conn), conn, on_event=events or Events(),
                        retry=RetryPolicy(max_attempts=attempts))


@pytest.fixture
def store(server: Any, events: Events) -> Iterator[GlacierStore]:
    with make_store(server, events) as st:
        st.create_vault(VAULT)
        yield st


def requests_of(server: Any, operation: str) -> int:
    return int(server.control.stats()["requests"].get(operation, 0))


def body_bytes_of(server: Any, operation: str) -> int:
    return int(server.control.stats()["bytes_received"].get(operation, 0))


def data(size: int, seed: int = 1) -> bytes:
    block = hashlib.sha256(str(seed).encode()).digest()
    return (block * (size // 32 + 1))[:size]


# --------------------------------------------------------------------------- vaults


def test_vault_lifecycle_and_pagination(server: Any, events: Events) -> None:
    with make_store(server, events) as st:
        names = [f"v{i:02d}" for i in range(13)]  # more than one ListVaults page (10)
        for name in names:
            st.create_vault(name)
        st.create_vault(names[0])  # idempotent
        assert [v.name for v in st.list_vaults()] == names
        info = st.describe_vault("v03")
        assert info.name == "v03"
        assert info.arn.endswith(":vaults/v03")
        assert info.number_of_archives == 0
        st.delete_vault("v03")
        st.delete_vault("v03")  # already gone: success
        with pytest.raises(NotFound) as caught:
            st.describe_vault("v03")
        assert caught.value.code == "ResourceNotFoundException"
        assert caught.value.operation == "DescribeVault"
        assert "v03" in str(caught.value)
        assert "v03" not in [v.name for v in st.list_vaults()]


def test_delete_non_empty_vault_is_invalid_request(store: GlacierStore, server: Any) -> None:
    store.upload_archive(VAULT, PartBody.from_bytes(b"abc"), "d")
    server.control.take_inventory(VAULT)
    with pytest.raises(InvalidRequest):
        store.delete_vault(VAULT)


# --------------------------------------------------------------------------- archives


def test_upload_archive_returns_our_hash_and_delete_is_idempotent(
    store: GlacierStore, server: Any
) -> None:
    payload = data(3 * MIB + 5)
    body = PartBody.from_bytes(payload)
    created = store.upload_archive(VAULT, body, "mt2 description")
    assert created.tree_hash == tree_hash_bytes(payload)
    assert created.size == len(payload)
    assert created.archive_id
    assert created.archive_id in created.location
    assert body_bytes_of(server, "UploadArchive") == len(payload)
    store.delete_archive(VAULT, created.archive_id)
    store.delete_archive(VAULT, created.archive_id)  # already gone: success


def test_empty_archive_is_refused_before_sending(store: GlacierStore, server: Any) -> None:
    with pytest.raises(InvalidRequest):
        store.upload_archive(VAULT, PartBody.from_bytes(b""), "d")
    assert requests_of(server, "UploadArchive") == 0


def test_wrong_tree_hash_is_refused_by_the_server(store: GlacierStore) -> None:
    good = PartBody.from_bytes(b"hello world")
    lying = PartBody(good.data, good.sha256, tree_hash_bytes(b"something else"))
    with pytest.raises(InvalidRequest) as caught:
        store.upload_archive(VAULT, lying, "d")
    assert caught.value.status == 400


# --------------------------------------------------------------------------- multipart


def test_multipart_upload_complete_and_listings(store: GlacierStore, server: Any) -> None:
    payload = data(2 * MIB + 1000, seed=2)
    upload_id = store.initiate_multipart_upload(VAULT, MIB, "multi")
    parts = [payload[i : i + MIB] for i in range(0, len(payload), MIB)]
    hashes = []
    for index in (2, 0, 1):  # any order
        body = PartBody.from_bytes(parts[index])
        hashes.append((index, store.upload_part(VAULT, upload_id, index * MIB, body)))
    listed = list(store.list_parts(VAULT, upload_id))
    assert [p.byte_range for p in listed] == [
        ByteRange(0, MIB), ByteRange(MIB, 2 * MIB), ByteRange(2 * MIB, len(payload))
    ]
    assert [p.tree_hash for p in listed] == [h for _, h in sorted(hashes)]
    uploads = list(store.list_multipart_uploads(VAULT))
    assert [(u.upload_id, u.part_size) for u in uploads] == [(upload_id, MIB)]
    total = combine_tree_hashes([h for _, h in sorted(hashes)])
    assert total == tree_hash_bytes(payload)
    created = store.complete_multipart_upload(VAULT, upload_id, len(payload), total)
    assert created.tree_hash == total
    assert created.size == len(payload)
    assert list(store.list_multipart_uploads(VAULT)) == []
    with pytest.raises(NotFound):
        list(store.list_parts(VAULT, upload_id))


def test_complete_with_wrong_hash_is_invalid_request(store: GlacierStore) -> None:
    upload_id = store.initiate_multipart_upload(VAULT, MIB, "multi")
    store.upload_part(VAULT, upload_id, 0, PartBody.from_bytes(b"abc"))
    with pytest.raises(InvalidRequest) as caught:
        store.complete_multipart_upload(VAULT, upload_id, 3, tree_hash_bytes(b"abd"))
    assert caught.value.operation == "CompleteMultipartUpload"


def test_bad_part_size_is_invalid_request(store: GlacierStore) -> None:
    with pytest.raises(InvalidRequest) as caught:
        store.initiate_multipart_upload(VAULT, 3 * MIB, "x")
    assert "part size" in str(caught.value).lower()


def test_list_parts_and_uploads_paginate(store: GlacierStore) -> None:
    upload_ids = {store.initiate_multipart_upload(VAULT, MIB, f"u{i}") for i in range(52)}
    assert {u.upload_id for u in store.list_multipart_uploads(VAULT)} == upload_ids
    one = sorted(upload_ids)[0]
    small = PartBody.from_bytes(b"p" * MIB)
    for index in range(53):
        store.upload_part(VAULT, one, index * MIB, small)
    assert len(list(store.list_parts(VAULT, one))) == 53


def test_abort_is_idempotent(store: GlacierStore) -> None:
    upload_id = store.initiate_multipart_upload(VAULT, MIB, "x")
    store.abort_multipart_upload(VAULT, upload_id)
    store.abort_multipart_upload(VAULT, upload_id)
    assert list(store.list_multipart_uploads(VAULT)) == []
    with pytest.raises(NotFound):
        store.upload_part(VAULT, upload_id, 0, PartBody.from_bytes(b"late"))


# --------------------------------------------------------------------------- jobs


def test_archive_retrieval_full_and_ranged_output(store: GlacierStore, server: Any) -> None:
    payload = data(3 * MIB + 17, seed=3)
    created = store.upload_archive(VAULT, PartBody.from_bytes(payload), "desc-1")
    job_id = store.initiate_archive_retrieval(VAULT, created.archive_id, tier="Bulk",
                                              description="retrieve")
    job = store.describe_job(VAULT, job_id)
    assert job.action == "ArchiveRetrieval"
    assert job.archive_id == created.archive_id
    assert job.archive_size == len(payload)
    assert job.archive_tree_hash == created.tree_hash
    server.control.complete_job(VAULT, job_id)
    assert store.describe_job(VAULT, job_id).succeeded

    whole = store.get_job_output(VAULT, job_id)
    try:
        assert whole.content_length == len(payload)
        assert whole.total_length == len(payload)
        assert whole.tree_hash == created.tree_hash
        assert whole.archive_description == "desc-1"
        assert whole.body.read() == payload
    finally:
        whole.close()

    part = store.get_job_output(VAULT, job_id, ByteRange(MIB, 3 * MIB))
    try:
        assert part.status == 206
        assert part.content_range == ByteRange(MIB, 3 * MIB)
        assert part.total_length == len(payload)
        assert part.tree_hash is None  # not tree-hash aligned: no header
        chunks = []
        while chunk := part.body.read(100_000):
            chunks.append(chunk)
        assert b"".join(chunks) == payload[MIB : 3 * MIB]
    finally:
        part.close()

    aligned = store.get_job_output(VAULT, job_id, ByteRange(2 * MIB, 3 * MIB))
    with aligned.body as body:
        assert aligned.tree_hash == tree_hash_bytes(payload[2 * MIB : 3 * MIB])
        assert body.read() == payload[2 * MIB : 3 * MIB]


def test_ranged_retrieval_job(store: GlacierStore, server: Any) -> None:
    payload = data(3 * MIB, seed=4)
    created = store.upload_archive(VAULT, PartBody.from_bytes(payload), "d")
    job_id = store.initiate_archive_retrieval(VAULT, created.archive_id,
                                              byte_range=ByteRange(MIB, 2 * MIB))
    assert store.describe_job(VAULT, job_id).retrieval_byte_range == ByteRange(MIB, 2 * MIB)
    server.control.complete_job(VAULT, job_id)
    out = store.get_job_output(VAULT, job_id)
    with out.body as body:
        assert body.read() == payload[MIB : 2 * MIB]


def test_inventory_job_and_list_jobs_filters(slow_server: LocalServer) -> None:
    server = slow_server
    store = make_store(server)
    store.create_vault(VAULT)
    created = store.upload_archive(VAULT, PartBody.from_bytes(b"inventory me"), "inv")
    server.control.take_inventory(VAULT)
    job_id = store.initiate_inventory_retrieval(VAULT, format="JSON", description="inv job")
    pending = store.initiate_inventory_retrieval(
        VAULT, format="CSV", parameters=InventoryParameters(limit="1")
    )
    server.control.complete_job(VAULT, job_id)
    job = store.describe_job(VAULT, job_id)
    assert job.action == "InventoryRetrieval"
    assert job.inventory_format == "JSON"
    assert job.description == "inv job"
    done = {j.job_id for j in store.list_jobs(VAULT, completed=True)}
    assert job_id in done
    assert pending not in done
    assert {j.job_id for j in store.list_jobs(VAULT, status_code="InProgress")} == {pending}
    assert {j.job_id for j in store.list_jobs(VAULT)} == {job_id, pending}
    out = store.get_job_output(VAULT, job_id)
    with out.body as body:
        inventory = json.loads(body.read())
    assert out.content_type.startswith("application/json")
    assert [a["ArchiveId"] for a in inventory["ArchiveList"]] == [created.archive_id]


def test_output_of_unfinished_job_is_invalid_request(slow_server: LocalServer) -> None:
    store = make_store(slow_server)
    store.create_vault(VAULT)
    created = store.upload_archive(VAULT, PartBody.from_bytes(b"x"), "d")
    job_id = store.initiate_archive_retrieval(VAULT, created.archive_id)
    with pytest.raises(InvalidRequest) as caught:
        store.get_job_output(VAULT, job_id)
    assert job_id in str(caught.value)


def test_unknown_job_is_not_found(store: GlacierStore) -> None:
    with pytest.raises(NotFound):
        store.describe_job(VAULT, "nosuchjob")


# --------------------------------------------------------------------------- notifications


def test_vault_notifications(store: GlacierStore) -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:topic"
    assert store.get_vault_notifications(VAULT) is None
    store.set_vault_notifications(VAULT, topic, ["ArchiveRetrievalCompleted"])
    assert store.get_vault_notifications(VAULT) == (topic, ["ArchiveRetrievalCompleted"])
    store.delete_vault_notifications(VAULT)
    assert store.get_vault_notifications(VAULT) is None
    with pytest.raises(NotFound):
        store.get_vault_notifications("no-such-vault")


# --------------------------------------------------------------------------- error mapping

NON_RETRYABLE = [
    (404, "ResourceNotFoundException", NotFound),
    (400, "InvalidParameterValueException", InvalidRequest),
    (400, "MissingParameterValueException", InvalidRequest),
    (403, "AccessDeniedException", AuthFailed),
    (403, "InvalidSignatureException", AuthFailed),
    (403, "ExpiredTokenException", AuthFailed),
    (400, "UnrecognizedClientException", AuthFailed),
    (400, "LimitExceededException", LimitExceeded),
    (400, "PolicyEnforcedException", PolicyEnforced),
    (400, "NoLongerSupportedException", NoLongerSupported),
]


@pytest.mark.parametrize(("status", "code", "expected"), NON_RETRYABLE)
def test_error_mapping_non_retryable(
    store: GlacierStore, server: Any, status: int, code: str, expected: type[Exception]
) -> None:
    server.control.inject_fault("DescribeVault", "error", 3, status=status, code=code)
    server.control.reset_stats()
    with pytest.raises(expected) as caught:
        store.describe_vault(VAULT)
    error = caught.value
    assert isinstance(error, ServiceError)
    assert type(error) is expected
    assert (error.code, error.status, error.operation) == (code, status, "DescribeVault")
    assert not error.retryable
    # Not retried: LimitExceeded is a quota (botocore would treat it as throttling).
    assert requests_of(server, "DescribeVault") == 1


RETRYABLE = [
    (500, "InternalFailure", ServiceUnavailable),
    (500, "ServiceUnavailableException", ServiceUnavailable),
    (503, "ServiceUnavailableException", ServiceUnavailable),
    (408, "RequestTimeoutException", ServiceUnavailable),
    (408, "InternalFailure", ServiceUnavailable),  # retried only by our needs-retry hook
    (400, "ThrottlingException", Throttled),
    (503, "InsufficientCapacityException", ServiceUnavailable),
]


@pytest.mark.parametrize("operation", ["DescribeVault", "UploadArchive"])
@pytest.mark.parametrize(("status", "code", "expected"), RETRYABLE)
def test_error_mapping_retryable_after_retries(
    server: Any, events: Events, status: int, code: str, expected: type[Exception],
    operation: str,
) -> None:
    """UploadArchive here is a later upload to the vault: the lean path (see below)."""
    with make_store(server, events, attempts=2) as st:
        st.create_vault(VAULT)
        warm(st)
        server.control.reset_stats()
        server.control.inject_fault(operation, "error", 2, status=status, code=code)
        with pytest.raises(expected) as caught:
            if operation == "DescribeVault":
                st.describe_vault(VAULT)
            else:
                st.upload_archive(VAULT, PartBody.from_bytes(b"abc"), "d")
    assert caught.value.retryable
    assert requests_of(server, operation) == 2
    assert [(r.operation, r.attempt) for r in events.retries()] == [(operation, 2)]
    assert str(status) in events.retries()[0].reason


@pytest.mark.parametrize(("status", "code"), [(s, c) for s, c, _ in RETRYABLE])
def test_transient_errors_are_retried_to_success(
    store: GlacierStore, server: Any, events: Events, status: int, code: str
) -> None:
    server.control.reset_stats()
    server.control.inject_fault("DescribeVault", "error", 1, status=status, code=code)
    assert store.describe_vault(VAULT).name == VAULT
    assert requests_of(server, "DescribeVault") == 2
    assert len(events.retries()) == 1


def test_no_longer_supported_message_explains(server: Any) -> None:
    server.control.inject_fault("ListVaults", "error", 1, status=400,
                                code="NoLongerSupportedException")
    with make_store(server) as st, pytest.raises(NoLongerSupported) as caught:
        list(st.list_vaults())
    text = str(caught.value)
    assert "2025-12-15" in text
    assert "new customers" in text
    assert "S3" in text  # what to do instead
    assert "--local" in text


def test_wrong_secret_is_auth_failed_without_echoing_it(server: Any) -> None:
    secret = "WRONG" + "s3cr3t/Value+" * 3
    with make_store(server, secret_key=secret) as st, pytest.raises(AuthFailed) as caught:
        st.describe_vault(VAULT)
    assert secret not in str(caught.value)
    assert secret not in repr(caught.value)
    assert "Signature=" not in str(caught.value)
    assert "canonical" not in str(caught.value).lower()


def test_unknown_access_key_is_auth_failed(server: Any) -> None:
    with make_store(server, access_key="AKIDUNKNOWN000000000") as st, \
            pytest.raises(AuthFailed):
        list(st.list_vaults())


def test_connection_refused_is_service_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = Connection(region="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
                      protocol="http", timeout=2, access_key="AKIDEXAMPLE",
                      secret_key="a" * 40)
    with GlacierStore(make_session(conn), conn, retry=RetryPolicy(max_attempts=1)) as st, \
            pytest.raises(ServiceUnavailable) as caught:
        st.describe_vault(VAULT)
    assert caught.value.retryable


def test_client_error_never_escapes_translate() -> None:
    from botocore.exceptions import ClientError

    error = ClientError({"Error": {"Code": "Weird", "Message": "m"},
                         "ResponseMetadata": {"HTTPStatusCode": 418}}, "DescribeVault")
    translated = translate_error(error, "DescribeVault")
    assert isinstance(translated, InvalidRequest)
    assert not isinstance(translated, ClientError)


def test_missing_region_is_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    conn = Connection(region=None, access_key="AKIDEXAMPLE", secret_key="a" * 40)
    with pytest.raises(ConfigError):
        GlacierStore(make_session(conn), conn)


def test_unknown_profile_is_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none2"))
    conn = Connection(region="us-east-1", profile="nosuchprofile")
    with pytest.raises(ConfigError):
        GlacierStore(make_session(conn), conn)


def test_profile_credentials_are_used(
    server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    creds = tmp_path / "credentials"
    creds.write_text(f"[glacier-test]\naws_access_key_id = {server.access_key}\n"
                     f"aws_secret_access_key = {server.secret_key}\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    conn = connection(server, access_key=None, secret_key=None, profile="glacier-test")
    with GlacierStore(make_session(conn), conn) as st:
        st.create_vault("from-profile")
        assert st.describe_vault("from-profile").name == "from-profile"


def test_https_is_the_default_scheme() -> None:
    conn = Connection(region="eu-west-1", access_key="AKIDEXAMPLE", secret_key="a" * 40)
    with GlacierStore(make_session(conn), conn) as st:
        assert st.endpoint_url == "https://glacier.eu-west-1.amazonaws.com"
    plain = Connection(region="eu-west-1", protocol="http", access_key="AKIDEXAMPLE",
                       secret_key="a" * 40)
    with GlacierStore(make_session(plain), plain) as st:
        assert st.endpoint_url == "http://glacier.eu-west-1.amazonaws.com"


# --------------------------------------------------------------------------- retries with bodies


@pytest.mark.parametrize("kind", ["reset", "error"])
def test_part_upload_is_resent_from_its_buffer(
    store: GlacierStore, server: Any, events: Events, kind: str
) -> None:
    payload = data(2 * MIB, seed=5)
    upload_id = store.initiate_multipart_upload(VAULT, 2 * MIB, "x")
    server.control.reset_stats()
    server.control.inject_fault("UploadMultipartPart", kind, 1)
    body = PartBody.from_bytes(payload)
    assert store.upload_part(VAULT, upload_id, 0, body) == tree_hash_bytes(payload)
    assert requests_of(server, "UploadMultipartPart") == 2
    assert [r.operation for r in events.retries()] == ["UploadMultipartPart"]
    listed = list(store.list_parts(VAULT, upload_id))
    assert [p.tree_hash for p in listed] == [tree_hash_bytes(payload)]
    done = store.complete_multipart_upload(VAULT, upload_id, len(payload), body.tree_hash)
    assert done.size == len(payload)


def test_archive_upload_survives_a_reset(store: GlacierStore, server: Any,
                                         events: Events) -> None:
    payload = data(MIB + 3, seed=6)
    server.control.inject_fault("UploadArchive", "reset", 1)
    created = store.upload_archive(VAULT, PartBody.from_bytes(payload), "d")
    assert created.tree_hash == tree_hash_bytes(payload)
    assert len(events.retries()) == 1
    assert "connection" in events.retries()[0].reason


@pytest.mark.parametrize(("kind", "lost"), [("truncate", 1), ("reset", 1), ("error", 0)])
def test_upload_archive_counts_attempts_whose_reply_was_lost(
    store: GlacierStore, server: Any, kind: str, lost: int
) -> None:
    """A lost reply (cut off, or the connection dropped) may follow a stored archive; an error
    reply may not. Only the first kind is counted, so the caller can warn of a second copy."""
    server.control.inject_fault("UploadArchive", kind, 1)
    created = store.upload_archive(VAULT, PartBody.from_bytes(b"abc" * 100), "d")
    assert created.lost_replies == lost
    stored = len(server.control.state()["vaults"][VAULT]["archives"])
    assert stored == 1 + (kind == "truncate")  # the truncated reply came after storing
    assert store.upload_archive(VAULT, PartBody.from_bytes(b"xyz"), "e").lost_replies == 0


def test_lost_replies_of_a_failed_upload_are_logged_refusals_are_not(
    store: GlacierStore, server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """When the upload finally fails, the archive id is unknowable: say so in the log. A
    connection that was never made cannot have stored anything: no such warning."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = RetryPolicy(max_attempts=2, base_delay=0)
    targets = {"refused": f"http://127.0.0.1:{port}", "lost": server.endpoint_url}
    server.control.inject_fault("UploadArchive", "truncate", 2)
    for what, url in targets.items():
        caplog.clear()
        other = GlacierStore(make_session(Connection()), Connection(
            region=server.region, endpoint_url=url, protocol="http",
            access_key=server.access_key, secret_key=server.secret_key, concurrency=1),
            retry=policy)
        with caplog.at_level("WARNING", logger="glacierlib"), pytest.raises(GlacierlibError):
            other.upload_archive(VAULT, PartBody.from_bytes(b"abc"), "d")
        warned = [r.getMessage() for r in caplog.records if "reply was lost" in r.getMessage()]
        assert len(warned) == (what == "lost"), (what, warned)
        if warned:
            assert "2 attempt(s)" in warned[0] and "check-remote" in warned[0]


def test_job_output_stream_break_is_typed_at_the_bottom(
    store: GlacierStore, server: Any
) -> None:
    """GlacierStore alone cannot resume a body; the read error must still be ours."""
    payload = data(2 * MIB, seed=7)
    created = store.upload_archive(VAULT, PartBody.from_bytes(payload), "d")
    job_id = store.initiate_archive_retrieval(VAULT, created.archive_id)
    server.control.complete_job(VAULT, job_id)
    server.control.inject_fault("GetJobOutput", "truncate", 1)
    out = store.get_job_output(VAULT, job_id)
    with pytest.raises(GlacierlibError) as caught:
        while out.body.read(65536):
            pass
    out.close()
    assert isinstance(caught.value, ServiceUnavailable)


# --------------------------------------------------------------------------- stack, local


def test_open_store_builds_a_vault_store(server: Any, events: Events) -> None:
    store = open_store(connection(server), events)
    assert isinstance(store, VaultStore)
    store.create_vault(VAULT)
    assert store.describe_vault(VAULT).name == VAULT
    assert store.capabilities.max_connections == 4
    close = getattr(store, "close", None)
    assert callable(close)
    close()


def test_store_for_local_dir_persists(tmp_path: Path) -> None:
    from glacierlib.operations._store import store_for

    local = LocalSettings(local_dir=tmp_path / "vaults")
    with store_for(local) as store:
        store.create_vault("local")
        created = store.upload_archive("local", PartBody.from_bytes(b"kept"), "d")
    with store_for(local) as store:
        assert [v.name for v in store.list_vaults()] == ["local"]
        store.delete_archive("local", created.archive_id)


class LocalSettings:
    """Just the fields store_for reads (config.Settings has them all)."""

    def __init__(self, local_dir: Path) -> None:
        self.local_dir: Path | None = local_dir
        self.region: str | None = None
        self.endpoint_url: str | None = None
        self.protocol = "https"
        self.timeout = 20.0
        self.access_key: str | None = None
        self.secret_key: str | None = None
        self.session_token: str | None = None
        self.profile: str | None = None
        self.concurrency = 2


# --------------------------------------------------------------------------- hashing once


class _CountingHash:
    """A hashlib object that records how many bytes each thread fed to SHA-256."""

    def __init__(self, counter: _ByteCounter, real: Any) -> None:
        self._counter = counter
        self._real = real
        self.digest_size = real.digest_size
        self.block_size = real.block_size
        self.name = real.name

    def update(self, data: Any) -> None:
        self._counter.add(memoryview(data).nbytes)
        self._real.update(data)

    def digest(self) -> bytes:
        return bytes(self._real.digest())

    def hexdigest(self) -> str:
        return str(self._real.hexdigest())

    def copy(self) -> _CountingHash:
        return _CountingHash(self._counter, self._real.copy())


class _ByteCounter:
    def __init__(self, thread: int) -> None:
        self.thread = thread
        self.bytes = 0
        self.real = hashlib.sha256

    def add(self, n: int) -> None:
        if threading.get_ident() == self.thread:
            self.bytes += n

    def __call__(self, data: Any = b"", **kwargs: Any) -> _CountingHash:
        hasher = _CountingHash(self, self.real())
        if data:
            hasher.update(data)
        return hasher


@pytest.fixture
def sha256_bytes(monkeypatch: pytest.MonkeyPatch) -> _ByteCounter:
    """Count SHA-256 input on this thread, wherever it is hashed (ours and botocore's).

    The local server hashes bodies too, on its own threads: those are not counted.
    """
    counter = _ByteCounter(threading.get_ident())
    monkeypatch.setattr(hashlib, "sha256", counter)
    monkeypatch.setattr(botocore.auth, "sha256", counter)
    monkeypatch.setattr(botocore.httpchecksum, "sha256", counter)
    return counter


PART = 8 * MIB
SIGNING_OVERHEAD = 64 * 1024  # canonical request, string to sign, HMAC key derivation


def test_part_is_hashed_exactly_once(store: GlacierStore, sha256_bytes: _ByteCounter) -> None:
    """The measurement: 8 MiB part, read once; SHA-256 sees each byte once per hash we need.

    hash_part feeds the part to the linear SHA-256 once and to the 1 MiB tree leaves once,
    so 2 x 8 MiB. Uploading the part must add only signing overhead, no third pass.
    """
    payload = data(PART, seed=8)
    upload_id = store.initiate_multipart_upload(VAULT, PART, "x")
    sha256_bytes.bytes = 0
    body = PartBody.from_bytes(payload)
    hashed_by_us = sha256_bytes.bytes
    # each byte once into the linear hash and once into a leaf; plus 7 64-byte tree nodes
    assert 2 * PART <= hashed_by_us <= 2 * PART + 7 * 64
    sha256_bytes.bytes = 0
    store.upload_part(VAULT, upload_id, 0, body)
    assert sha256_bytes.bytes < SIGNING_OVERHEAD
    sha256_bytes.bytes = 0
    created = store.upload_archive(VAULT, body, "single")
    assert sha256_bytes.bytes < SIGNING_OVERHEAD
    assert created.tree_hash == body.tree_hash


def test_counter_sees_botocore_hashing(server: Any, store: GlacierStore,
                                       sha256_bytes: _ByteCounter) -> None:
    """Control: without our headers botocore hashes the body again, and we would see it."""
    payload = data(PART, seed=9)
    client = botocore.session.Session().create_client(
        "glacier", region_name=server.region, endpoint_url=server.endpoint_url,
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
    )
    sha256_bytes.bytes = 0
    client.upload_archive(vaultName=VAULT, body=payload)
    client.close()
    assert sha256_bytes.bytes >= 2 * PART


# --------------------------------------------------------------------------- moto cross-check


@pytest.fixture
def moto_store() -> Iterator[GlacierStore]:
    moto_server = pytest.importorskip("moto.server")
    srv = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    try:
        host, port = srv.get_host_and_port()
        # moto keeps its backends per process: start from an empty account every time.
        urllib.request.urlopen(urllib.request.Request(
            f"http://{host}:{port}/moto-api/reset", method="POST"), timeout=10).close()
        conn = Connection(region="us-east-1", endpoint_url=f"http://{host}:{port}",
                          protocol="http", timeout=20, access_key="AKIDEXAMPLE",
                          secret_key="moto-does-not-check-this-secret")
        with GlacierStore(make_session(conn), conn, retry=RetryPolicy(max_attempts=1)) as st:
            st.create_vault(VAULT)
            yield st
    finally:
        srv.stop()


@pytest.mark.moto
def test_moto_small_archive_round_trip(moto_store: GlacierStore) -> None:
    """moto agrees with us up to 1 MiB, where its plain SHA-256 equals the tree hash."""
    body = PartBody.from_bytes(b"m" * 1000)
    created = moto_store.upload_archive(VAULT, body, "d")
    assert created.tree_hash == body.tree_hash
    assert [v.name for v in moto_store.list_vaults()] == [VAULT]


@pytest.mark.moto
def test_server_hash_disagreement_is_verification_error(moto_store: GlacierStore) -> None:
    """A server that returns another hash than ours (moto: plain SHA-256 above 1 MiB)."""
    body = PartBody.from_bytes(data(2 * MIB, seed=10))
    with pytest.raises(VerificationError) as caught:
        moto_store.upload_archive(VAULT, body, "d")
    message = str(caught.value)
    assert "archive" in message
    assert body.tree_hash.hex in message
    assert body.sha256.hex() in message  # what moto computed


def test_one_client_serves_many_threads(store: GlacierStore, server: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    payload = data(8 * MIB, seed=11)
    upload_id = store.initiate_multipart_upload(VAULT, MIB, "threads")

    def send(index: int) -> TreeHash:
        chunk = payload[index * MIB : (index + 1) * MIB]
        return store.upload_part(VAULT, upload_id, index * MIB, PartBody.from_bytes(chunk))

    with ThreadPoolExecutor(4) as pool:
        hashes = list(pool.map(send, range(8)))
    created = store.complete_multipart_upload(VAULT, upload_id, len(payload),
                                              combine_tree_hashes(hashes))
    assert created.tree_hash == tree_hash_bytes(payload)
    assert requests_of(server, "UploadMultipartPart") == 8


# --------------------------------------------------------------------------- truncated replies


@pytest.mark.parametrize("operation", ["DescribeVault", "ListVaults", "ListJobs"])
def test_truncated_reply_is_retried_not_read_as_empty(
    server: LocalServer, store: GlacierStore, events: Events, operation: str,
) -> None:
    """A JSON reply cut off mid-body is a failed attempt (botocore would parse it as empty)."""
    store.initiate_inventory_retrieval(VAULT)
    server.control.inject_fault(operation, "truncate", 1)
    if operation == "DescribeVault":
        assert store.describe_vault(VAULT).name == VAULT
    elif operation == "ListVaults":
        assert [v.name for v in store.list_vaults()] == [VAULT]
    else:
        assert len(list(store.list_jobs(VAULT))) == 1
    assert requests_of(server, operation) == 2
    assert len(events.retries()) == 1


def test_reply_truncated_every_time_is_a_typed_error(server: LocalServer,
                                                    store: GlacierStore) -> None:
    server.control.inject_fault("DescribeVault", "truncate", 10)
    with pytest.raises(ServiceUnavailable):
        store.describe_vault(VAULT)
    assert requests_of(server, "DescribeVault") == 3  # every attempt, then the error


# --------------------------------------------------------------------------- lean UploadArchive
# After the first upload to a vault, uploads there are sent from a template of botocore's own
# request (glacierlib.wrappers.lean). Everything below runs on that path: a warm-up upload
# first, then the behaviour under test, which must be that of the ordinary botocore call.


def warm(store: GlacierStore, vault: str = VAULT) -> None:
    store.upload_archive(vault, PartBody.from_bytes(b"warm-up"), "w")


class _FullCalls:
    """Counts UploadArchive calls that went through botocore's per-call request building."""

    def __init__(self, store: GlacierStore) -> None:
        self.count = 0
        store._client.meta.events.register(
            "before-parameter-build.glacier.UploadArchive", self)

    def __call__(self, **_: Any) -> None:
        self.count += 1


def test_later_uploads_to_a_vault_skip_botocores_request_building(
    store: GlacierStore, server: Any
) -> None:
    full = _FullCalls(store)
    store.create_vault("other")
    payloads = [data(100 + i, seed=i) for i in range(5)]
    for i, payload in enumerate(payloads):
        created = store.upload_archive(VAULT, PartBody.from_bytes(payload), f"d{i}")
        assert created.tree_hash == tree_hash_bytes(payload)
    assert full.count == 1
    store.upload_archive("other", PartBody.from_bytes(b"x"), "o")  # a template per vault
    store.upload_archive("other", PartBody.from_bytes(b"y"), "o")
    assert full.count == 2
    archives = server.control.state()["vaults"][VAULT]["archives"]
    assert sorted(a["description"] for a in archives) == [f"d{i}" for i in range(5)]


def test_lean_requests_carry_what_botocore_sends(store: GlacierStore) -> None:
    """Same headers, same signed headers: only the values that change per call differ."""
    seen: list[dict[str, str]] = []

    def watch(request: Any, **_: Any) -> None:
        seen.append({k.lower(): (v.decode() if isinstance(v, bytes) else str(v))
                     for k, v in request.headers.items()})

    store._client.meta.events.register("before-send.glacier.UploadArchive", watch)
    store.upload_archive(VAULT, PartBody.from_bytes(b"first"), "one")
    store.upload_archive(VAULT, PartBody.from_bytes(b"second!"), "two")
    full, lean = seen
    assert sorted(full) == sorted(lean)
    signed = [h["authorization"].split("SignedHeaders=")[1].split(",")[0] for h in seen]
    assert signed[0] == signed[1]
    assert lean["x-amz-archive-description"] == "two"
    assert lean["x-amz-sha256-tree-hash"] == tree_hash_bytes(b"second!").hex
    assert lean["x-amz-content-sha256"] == hashlib.sha256(b"second!").hexdigest()
    assert lean["amz-sdk-request"] == "attempt=1; max=3"
    assert lean["amz-sdk-invocation-id"] != full["amz-sdk-invocation-id"]


@pytest.mark.parametrize(("status", "code", "expected"), NON_RETRYABLE)
def test_lean_upload_errors_are_typed_and_not_retried(
    store: GlacierStore, server: Any, status: int, code: str, expected: type[Exception]
) -> None:
    warm(store)
    server.control.inject_fault("UploadArchive", "error", 3, status=status, code=code)
    server.control.reset_stats()
    with pytest.raises(expected) as caught:
        store.upload_archive(VAULT, PartBody.from_bytes(b"abc"), "d")
    error = caught.value
    assert type(error) is expected
    assert (error.code, error.status, error.operation) == (code, status, "UploadArchive")
    assert requests_of(server, "UploadArchive") == 1


@pytest.mark.parametrize(("kind", "lost"), [("truncate", 1), ("reset", 1), ("error", 0)])
def test_lean_upload_retries_to_success_and_counts_lost_replies(
    store: GlacierStore, server: Any, events: Events, kind: str, lost: int
) -> None:
    warm(store)
    server.control.inject_fault("UploadArchive", kind, 1)
    payload = data(5000, seed=9)
    created = store.upload_archive(VAULT, PartBody.from_bytes(payload), "d")
    assert created.tree_hash == tree_hash_bytes(payload)
    assert created.lost_replies == lost
    assert [r.attempt for r in events.retries()] == [2]
    stored = len(server.control.state()["vaults"][VAULT]["archives"])
    assert stored == 2 + (kind == "truncate")


def test_lean_upload_failing_after_lost_replies_warns(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with make_store(server, attempts=2) as st:
        st.create_vault(VAULT)
        warm(st)
        server.control.inject_fault("UploadArchive", "reset", 2)
        with caplog.at_level("WARNING", logger="glacierlib"), \
                pytest.raises(ServiceUnavailable):
            st.upload_archive(VAULT, PartBody.from_bytes(b"abc"), "d")
    warned = [r.getMessage() for r in caplog.records if "reply was lost" in r.getMessage()]
    assert len(warned) == 1 and "2 attempt(s)" in warned[0]


def test_lean_upload_checks_the_returned_tree_hash(store: GlacierStore, server: Any) -> None:
    warm(store)
    server.control.inject_fault("UploadArchive", "header", 1, header="x-amz-sha256-tree-hash",
                                value="0" * 64)
    with pytest.raises(VerificationError):
        store.upload_archive(VAULT, PartBody.from_bytes(b"abc"), "d")


def test_lean_upload_with_a_wrong_secret_is_auth_failed(server: Any) -> None:
    with make_store(server) as good:
        good.create_vault(VAULT)
    with make_store(server, secret_key="not-the-secret-at-all") as bad:
        with pytest.raises(AuthFailed) as first:
            bad.upload_archive(VAULT, PartBody.from_bytes(b"abc"), "d")
        with pytest.raises(AuthFailed) as second:
            bad.upload_archive(VAULT, PartBody.from_bytes(b"abc"), "d")
    for caught in (first, second):
        assert "not-the-secret-at-all" not in str(caught.value)


def test_part_body_is_handed_to_urllib3_as_large_views_not_copies() -> None:
    """urllib3 asks a file-like body for 16 KiB blocks; each would be a copy and a trip
    through http.client. The body hands out views of the part's buffer, 1 MiB or more."""
    from glacierlib.client import _HashedBody

    buffer = bytearray(data(3 * MIB + 5, seed=3))
    body = _HashedBody(PartBody.from_bytes(buffer))
    chunks = []
    while chunk := body.read(16384):
        chunks.append(chunk)
    assert [len(c) for c in chunks] == [MIB, MIB, MIB, 5]
    assert all(isinstance(c, memoryview) and c.obj is buffer for c in chunks)
    assert b"".join(chunks) == buffer
    body.seek(0)  # botocore's retry rewinds and sends the same bytes again
    assert bytes(body.read(10)[:10]) == buffer[:10]


def test_uploads_take_the_full_path_when_the_lean_one_cannot_be_built(
    server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A botocore whose internals moved must cost speed, never correctness."""
    import glacierlib.client

    def missing(*_: Any) -> None:
        raise AttributeError("_request_signer")

    monkeypatch.setattr(glacierlib.client, "LeanUploader", missing)
    with make_store(server) as st:
        st.create_vault(VAULT)
        full = _FullCalls(st)
        for i in range(3):
            st.upload_archive(VAULT, PartBody.from_bytes(b"abc"), f"d{i}")
    assert full.count == 3
    assert len(server.control.state()["vaults"][VAULT]["archives"]) == 3
