"""The store wrappers, each around a real GlacierStore talking to the local server."""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Iterator

import pytest

from glacierlib.client import Connection, GlacierStore, make_session, open_store
from glacierlib.exceptions import InvalidRequest, NotFound, ServiceUnavailable
from glacierlib.localserver import LocalServer
from glacierlib.progress import ProgressEvent, Retrying
from glacierlib.storage import PartBody, VaultStore
from glacierlib.treehash import MIB, ByteRange, tree_hash_bytes
from glacierlib.wrappers import ForwardingStore, LoggedStore, RetryingStore, RetryPolicy

VAULT = "wrapped"


def connection(server: LocalServer) -> Connection:
    return Connection(region=server.region, endpoint_url=server.endpoint_url, protocol="http",
                      timeout=20, access_key=server.access_key, secret_key=server.secret_key,
                      concurrency=2)


@pytest.fixture
def base(local_server: LocalServer) -> Iterator[GlacierStore]:
    conn = connection(local_server)
    with GlacierStore(make_session(conn), conn, retry=RetryPolicy(max_attempts=2)) as st:
        st.create_vault(VAULT)
        yield st


def payload(size: int) -> bytes:
    block = hashlib.sha256(b"wrappers").digest()
    return (block * (size // 32 + 1))[:size]


def finished_retrieval(store: VaultStore, server: LocalServer, data: bytes) -> str:
    created = store.upload_archive(VAULT, PartBody.from_bytes(data), "d")
    job_id = store.initiate_archive_retrieval(VAULT, created.archive_id)
    server.control.complete_job(VAULT, job_id)
    return job_id


# --------------------------------------------------------------------------- forwarding


def protocol_methods() -> list[str]:
    return sorted(
        name for name, value in vars(VaultStore).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    )


def test_forwarding_spells_out_every_method() -> None:
    names = protocol_methods()
    assert len(names) >= 20
    assert "__getattr__" not in vars(ForwardingStore)
    for name in names:
        assert name in vars(ForwardingStore), f"{name} is not forwarded explicitly"
        ours = vars(ForwardingStore)[name]
        theirs = vars(VaultStore)[name]
        if callable(theirs):
            assert inspect.signature(ours) == inspect.signature(theirs), name


def test_forwarding_store_is_a_vault_store_and_works(base: GlacierStore) -> None:
    store = ForwardingStore(base)
    assert isinstance(store, VaultStore)
    assert store.capabilities == base.capabilities
    data = payload(MIB + 10)
    upload_id = store.initiate_multipart_upload(VAULT, MIB, "x")
    first = store.upload_part(VAULT, upload_id, 0, PartBody.from_bytes(data[:MIB]))
    store.upload_part(VAULT, upload_id, MIB, PartBody.from_bytes(data[MIB:]))
    assert next(p.tree_hash for p in store.list_parts(VAULT, upload_id)) == first
    assert [u.upload_id for u in store.list_multipart_uploads(VAULT)] == [upload_id]
    created = store.complete_multipart_upload(VAULT, upload_id, len(data),
                                              tree_hash_bytes(data))
    store.delete_archive(VAULT, created.archive_id)
    assert [v.name for v in store.list_vaults()] == [VAULT]
    with pytest.raises(NotFound):
        store.describe_vault("missing")


# --------------------------------------------------------------------------- logged


def test_logged_store_logs_safe_fields_only(
    base: GlacierStore, caplog: pytest.LogCaptureFixture
) -> None:
    store = LoggedStore(base)
    description = "mt2 PRIVATE-FILE-NAME-DESCRIPTION"
    data = b"BODY-BYTES-MUST-NOT-BE-LOGGED" * 10
    with caplog.at_level(logging.DEBUG, logger="glacierlib.wrappers.logged"):
        created = store.upload_archive(VAULT, PartBody.from_bytes(data), description)
        assert len(list(store.list_vaults())) == 1
        with pytest.raises(NotFound):
            store.describe_vault("missing")
    mine = [r for r in caplog.records if r.name == "glacierlib.wrappers.logged"]
    text = "\n".join(r.getMessage() for r in mine)
    assert all(r.levelno == logging.DEBUG for r in mine)
    assert "upload_archive('wrapped'" in text
    assert created.tree_hash.hex in text
    assert "list_vaults() listed 1 items" in text
    assert "describe_vault('missing') failed" in text
    assert "NotFound" in text
    assert "PRIVATE-FILE-NAME" not in text
    assert "BODY-BYTES" not in text


def test_logged_store_is_silent_above_debug(
    base: GlacierStore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        LoggedStore(base).describe_vault(VAULT)
    assert [r for r in caplog.records if r.name == "glacierlib.wrappers.logged"] == []


# --------------------------------------------------------------------------- retrying


def no_sleep(_seconds: float) -> None:
    return None


@pytest.mark.parametrize("byte_range", [None, ByteRange(MIB, 3 * MIB + 5)])
def test_broken_job_output_stream_is_resumed(
    base: GlacierStore, local_server: LocalServer, byte_range: ByteRange | None
) -> None:
    data = payload(3 * MIB + 5)
    job_id = finished_retrieval(base, local_server, data)
    seen: list[ProgressEvent] = []
    store = RetryingStore(base, RetryPolicy(max_attempts=3), on_event=seen.append,
                          sleep=no_sleep)
    local_server.control.reset_stats()
    local_server.control.inject_fault("GetJobOutput", "truncate", 1)
    out = store.get_job_output(VAULT, job_id, byte_range)
    expected = data if byte_range is None else data[byte_range.start : byte_range.end]
    with out.body as body:
        received = bytearray()
        while chunk := body.read(256 * 1024):
            received += chunk
    assert bytes(received) == expected
    assert out.content_length == len(expected)
    assert local_server.control.stats()["requests"]["GetJobOutput"] == 2
    retries = [e for e in seen if isinstance(e, Retrying)]
    assert [(r.operation, r.attempt) for r in retries] == [("GetJobOutput", 2)]


def test_resume_gives_up_after_the_policy_attempts(
    base: GlacierStore, local_server: LocalServer
) -> None:
    data = payload(2 * MIB)
    job_id = finished_retrieval(base, local_server, data)
    store = RetryingStore(base, RetryPolicy(max_attempts=3), sleep=no_sleep)
    local_server.control.inject_fault("GetJobOutput", "truncate", 10)
    out = store.get_job_output(VAULT, job_id)
    with pytest.raises(ServiceUnavailable) as caught, out.body as body:
        body.read()
    assert caught.value.retryable
    assert job_id in str(caught.value)
    assert "could not be resumed" in str(caught.value)


def test_non_retryable_errors_pass_straight_through(base: GlacierStore) -> None:
    store = RetryingStore(base, sleep=no_sleep)
    with pytest.raises(NotFound):
        store.get_job_output(VAULT, "no-such-job")
    with pytest.raises(InvalidRequest):
        store.initiate_multipart_upload(VAULT, 3 * MIB, "bad part size")


def test_open_store_stack_resumes_streams(local_server: LocalServer) -> None:
    seen: list[ProgressEvent] = []
    store = open_store(connection(local_server), seen.append,
                       retry=RetryPolicy(max_attempts=3, base_delay=0.01))
    assert isinstance(store, LoggedStore)
    assert isinstance(store.inner, RetryingStore)
    assert isinstance(store.inner.inner, GlacierStore)
    store.create_vault(VAULT)
    data = payload(2 * MIB + 1)
    job_id = finished_retrieval(store, local_server, data)
    local_server.control.inject_fault("GetJobOutput", "truncate", 1)
    out = store.get_job_output(VAULT, job_id)
    with out.body as body:
        assert body.read() == data
    assert any(isinstance(e, Retrying) and e.operation == "GetJobOutput" for e in seen)
    store.close()


def test_retry_policy_backoff_is_jittered_and_capped() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=4.0)
    delays = [policy.delay(retry) for retry in range(1, 8) for _ in range(50)]
    assert all(0 <= d <= 4.0 for d in delays)
    assert len({round(d, 6) for d in delays}) > 10
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


# --------------------------------------------------------------------------- the retry budget


def test_retry_policy_budget_is_time_not_attempts() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0, timeout=60.0)
    # Equal jitter: each wait is between half its ceiling and the ceiling, which doubles
    # from base_delay and stops at max_delay.
    for retry, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0), (200, 8.0)):
        waits = [policy.delay(retry) for _ in range(50)]
        assert all(ceiling / 2 <= w <= ceiling for w in waits), (retry, waits)
    # No cap on attempts: only the time since the first failure ends the retries.
    assert policy.next_delay(1000, failing_since=100.0, now=159.0) is not None
    assert policy.next_delay(1, failing_since=100.0, now=160.0) is None
    # The last wait is cut to what is left of the budget.
    assert policy.next_delay(50, failing_since=100.0, now=159.5) == pytest.approx(0.5)
    capped = RetryPolicy(max_attempts=3, timeout=60.0)
    assert capped.next_delay(2, 0.0, now=1.0) is not None
    assert capped.next_delay(3, 0.0, now=1.0) is None
    assert RetryPolicy(timeout=0).next_delay(1, 0.0, now=0.0) is None
    assert RetryPolicy().timeout == 900 and RetryPolicy().max_attempts is None
    assert RetryPolicy().describe() == "retried for 15 min"
    assert capped.describe() == "at most 3 attempts within 1 min"


def test_for_budget_keeps_several_attempts_in_a_short_budget() -> None:
    short = RetryPolicy.for_budget(2.0)
    assert short.max_delay == pytest.approx(0.25) and short.base_delay <= short.max_delay
    long = RetryPolicy.for_budget(3600.0, 7)
    assert long.max_delay == 30.0 and long.max_attempts == 7 and long.timeout == 3600.0


def fast_budget() -> RetryPolicy:
    """A minute's budget at millisecond backoff: hundreds of attempts, no waiting."""
    return RetryPolicy(base_delay=0.001, max_delay=0.004, timeout=60.0)


def test_fifty_failures_in_a_row_are_outlasted(local_server: LocalServer) -> None:
    """More failures than any attempt count or botocore's retry quota (which stops retrying
    after about 35 failed retries per client) would allow: the time budget carries them."""
    conn = connection(local_server)
    with GlacierStore(make_session(conn), conn, retry=fast_budget()) as store:
        store.create_vault(VAULT)
        local_server.control.reset_stats()
        local_server.control.inject_fault("DescribeVault", "error", 50, status=503,
                                          code="ServiceUnavailableException")
        assert store.describe_vault(VAULT).name == VAULT
    assert local_server.control.stats()["requests"]["DescribeVault"] == 51


def test_a_budget_spent_names_itself_in_the_error(local_server: LocalServer) -> None:
    conn = connection(local_server)
    policy = RetryPolicy(base_delay=0.001, max_delay=0.004, timeout=0.3)
    with GlacierStore(make_session(conn), conn, retry=policy) as store:
        store.create_vault(VAULT)
        local_server.control.inject_fault("DescribeVault", "error", 100_000, status=500,
                                          code="InternalFailure")
        with pytest.raises(ServiceUnavailable) as caught:
            store.describe_vault(VAULT)
        local_server.control.clear_faults()
    assert "retried for 0 s" in str(caught.value) and "--retry-timeout" in str(caught.value)


def test_botocore_max_attempts_and_retry_mode_are_honoured(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: object,
) -> None:
    """AWS_MAX_ATTEMPTS caps a policy without its own cap; a policy's cap wins; and
    retry_mode=adaptive turns botocore's client-side rate limiter on."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("AWS_RETRY_MODE", "adaptive")
    conn = connection(local_server)
    with GlacierStore(make_session(conn), conn, retry=fast_budget()) as store:
        assert store.retry_policy.max_attempts == 2
        assert store._client.meta.config.retries["mode"] == "adaptive"
        store.create_vault(VAULT)
        local_server.control.reset_stats()
        local_server.control.inject_fault("DescribeVault", "error", 5, status=500,
                                          code="InternalFailure")
        with pytest.raises(ServiceUnavailable) as caught:
            store.describe_vault(VAULT)
        local_server.control.clear_faults()
    assert local_server.control.stats()["requests"]["DescribeVault"] == 2
    assert "at most 2 attempts" in str(caught.value)
    own = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.004)
    with GlacierStore(make_session(conn), conn, retry=own) as store:
        assert store.retry_policy.max_attempts == 4
    uncapped = RetryPolicy(base_delay=0.001, inherit_max_attempts=False)
    with GlacierStore(make_session(conn), conn, retry=uncapped) as store:
        assert store.retry_policy.max_attempts is None
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "lots")
    from glacierlib.exceptions import ConfigError

    with pytest.raises(ConfigError, match="AWS_MAX_ATTEMPTS"):
        GlacierStore(make_session(conn), conn, retry=fast_budget())


def test_a_stream_resume_counts_time_too(base: GlacierStore, local_server: LocalServer) -> None:
    """More stream breaks in a row than main's five attempts: resumed within the budget."""
    data = payload(2 * MIB)
    job_id = finished_retrieval(base, local_server, data)
    store = RetryingStore(base, RetryPolicy(timeout=60.0), sleep=no_sleep)
    local_server.control.inject_fault("GetJobOutput", "truncate", 8)
    out = store.get_job_output(VAULT, job_id)
    with out.body as body:
        assert body.read() == data


def test_retry_policy_default_matches_the_settings_default() -> None:
    from glacierlib import config
    from glacierlib.wrappers import retrying

    assert retrying.DEFAULT_RETRY_TIMEOUT == config.DEFAULT_RETRY_TIMEOUT
    assert retrying.RetryPolicy().timeout == config.DEFAULT_RETRY_TIMEOUT
