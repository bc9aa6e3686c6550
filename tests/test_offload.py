"""OffloadingStore: small uploads in spawned child processes, against the real local server.

Real botocore over loopback HTTP in the children; the server runs in the test process.
Thresholds are tiny so the children start at once; each test waits for them to be ready.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from events_support import Events

from glacierlib.client import Connection, GlacierStore, make_session, open_store
from glacierlib.exceptions import NotFound
from glacierlib.localserver import LocalServer
from glacierlib.progress import Retrying
from glacierlib.storage import PartBody
from glacierlib.treehash import tree_hash_bytes
from glacierlib.wrappers import LoggedStore, RetryingStore, RetryPolicy
from glacierlib.wrappers.offload import OffloadingStore

VAULT = "offload"
FAST = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)


def connection(server: LocalServer) -> Connection:
    return Connection(region=server.region, endpoint_url=server.endpoint_url, protocol="http",
                      timeout=20, access_key=server.access_key, secret_key=server.secret_key,
                      concurrency=2)


def wait_ready(store: OffloadingStore, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not store.pool_in_use:
        assert time.monotonic() < deadline, "the upload processes did not start"
        time.sleep(0.05)


def body(i: int) -> PartBody:
    return PartBody.from_bytes(f"file {i} ".encode() * (i + 1))


@pytest.fixture
def events() -> Events:
    return Events()


@contextmanager
def started(server: LocalServer, events: Events) -> Iterator[OffloadingStore]:
    """A store whose children are ready (the log levels they copy are those of now)."""
    conn = connection(server)
    inner = GlacierStore(make_session(conn), conn, retry=FAST, on_event=events)
    inner.create_vault(VAULT)
    store = OffloadingStore(inner, conn, processes=2, retry=FAST, on_event=events,
                            threshold=2)
    with store:
        store.upload_archive(VAULT, body(0), "warm 0")
        store.upload_archive(VAULT, body(1), "warm 1")
        wait_ready(store)
        yield store


@pytest.fixture
def offloading(local_server: LocalServer, events: Events) -> Iterator[OffloadingStore]:
    with started(local_server, events) as store:
        yield store


def archives(server: LocalServer) -> dict[str, dict[str, object]]:
    state = server.control.state()
    return {a["archive_id"]: a for a in state["vaults"][VAULT]["archives"]}


def test_uploads_through_children_land_with_their_tree_hashes(
    offloading: OffloadingStore, local_server: LocalServer
) -> None:
    pids = offloading.child_pids()
    assert len(pids) == 2 and os.getpid() not in pids
    bodies = [body(i) for i in range(10, 30)]
    created = [offloading.upload_archive(VAULT, b, f"d{i}") for i, b in enumerate(bodies)]
    stored = archives(local_server)
    for b, c in zip(bodies, created, strict=True):
        assert c.tree_hash == b.tree_hash == tree_hash_bytes(bytes(b.data))
        assert c.size == b.length
        assert stored[c.archive_id]["tree_hash"] == b.tree_hash.hex
        assert stored[c.archive_id]["size"] == b.length


def test_children_start_only_after_the_threshold(local_server: LocalServer) -> None:
    conn = connection(local_server)
    inner = GlacierStore(make_session(conn), conn)
    inner.create_vault(VAULT)
    with OffloadingStore(inner, conn, processes=2, threshold=5) as store:
        for i in range(4):
            store.upload_archive(VAULT, body(i), "small")
        # Neither large bodies nor other calls count.
        store.upload_archive(VAULT, PartBody.from_bytes(b"x" * (2 << 20)), "large")
        store.describe_vault(VAULT)
        assert not store.pool_started and store.child_pids() == []
        store.upload_archive(VAULT, body(5), "the fifth")
        assert store.pool_started
        wait_ready(store)
        assert len(store.child_pids()) == 2
    assert len(archives(local_server)) == 6


def test_a_run_with_few_files_never_starts_children(local_server: LocalServer) -> None:
    store = open_store(connection(local_server), upload_processes=2)
    with store:  # type: ignore[attr-defined]
        store.create_vault(VAULT)
        for i in range(5):
            store.upload_archive(VAULT, body(i), "few")
    offload = store.inner.inner  # type: ignore[attr-defined]
    assert isinstance(offload, OffloadingStore) and not offload.pool_started


def test_open_store_puts_offloading_right_above_the_glacier_store(
    local_server: LocalServer,
) -> None:
    store = open_store(connection(local_server), upload_processes=3)
    try:
        assert isinstance(store, LoggedStore)
        assert isinstance(store.inner, RetryingStore)
        assert isinstance(store.inner.inner, OffloadingStore)
        assert isinstance(store.inner.inner.inner, GlacierStore)
    finally:
        store.close()  # type: ignore[attr-defined]
    plain = open_store(connection(local_server), upload_processes=1)
    assert isinstance(plain.inner.inner, GlacierStore)  # type: ignore[attr-defined]
    plain.close()  # type: ignore[attr-defined]


def _chain_connection(server: LocalServer, profile: str | None = None) -> Connection:
    """No keys given: botocore's credential chain (environment, profile) supplies them."""
    return Connection(region=server.region, endpoint_url=server.endpoint_url, protocol="http",
                      timeout=20, profile=profile, concurrency=2)


def test_fixed_keys_from_the_chain_are_handed_to_the_children(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """Keys from the environment: the children get them as they are, and uploads work."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", local_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", local_server.secret_key)
    conn = _chain_connection(local_server)
    glacier = GlacierStore(make_session(conn), conn, retry=FAST)
    glacier.create_vault(VAULT)
    fixed = glacier.fixed_connection()
    assert fixed is not None
    assert (fixed.access_key, fixed.secret_key, fixed.profile) == (
        local_server.access_key, local_server.secret_key, None)
    assert fixed.endpoint_url == local_server.endpoint_url
    with OffloadingStore(glacier, fixed, processes=2, retry=FAST, threshold=1) as store:
        store.upload_archive(VAULT, body(0), "warm")
        wait_ready(store)
        created = store.upload_archive(VAULT, body(1), "via child")
    assert created.archive_id in archives(local_server)


def test_refreshable_credentials_keep_uploads_in_process(
    local_server: LocalServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    """A credential_process with an expiry refreshes in this process only: no children, whose
    copies would expire (or who would run the process, or prompt for MFA, on their own)."""
    script = tmp_path / "creds.py"
    script.write_text(textwrap.dedent(f"""
        import json
        print(json.dumps({{"Version": 1, "AccessKeyId": {local_server.access_key!r},
                          "SecretAccessKey": {local_server.secret_key!r},
                          "Expiration": "2999-01-01T00:00:00Z"}}))
    """))
    config = tmp_path / "config"
    config.write_text(f"[profile temp]\ncredential_process = {sys.executable} {script}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                 "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    conn = _chain_connection(local_server, profile="temp")
    store = open_store(conn, upload_processes=2)
    try:
        assert isinstance(store.inner.inner, GlacierStore)  # type: ignore[attr-defined]
        store.create_vault(VAULT)  # and the credentials do work, in this process
        created = store.upload_archive(VAULT, body(2), "in process")
        assert created.archive_id in archives(local_server)
    finally:
        store.close()  # type: ignore[attr-defined]


def test_retrying_events_and_log_records_of_a_child_reach_the_parent(
    local_server: LocalServer, events: Events, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="glacierlib")
    with started(local_server, events) as offloading:
        events.items.clear()
        local_server.control.inject_fault("UploadArchive", "error", 1, status=500,
                                          code="InternalFailure")
        created = offloading.upload_archive(VAULT, body(40), "retried")
    assert created.archive_id in archives(local_server)
    retries = [e for e in events.items if isinstance(e, Retrying)]
    assert len(retries) == 1
    assert retries[0].operation == "UploadArchive" and retries[0].attempt == 2
    assert "500" in retries[0].reason
    # The child's own log line, re-emitted here (the child process is not this one).
    lines = [r for r in caplog.records if "retrying UploadArchive" in r.getMessage()]
    assert lines and lines[0].process != os.getpid()


def test_typed_errors_of_a_child_arrive_typed(offloading: OffloadingStore) -> None:
    with pytest.raises(NotFound) as caught:
        offloading.upload_archive("no-such-vault", body(50), "lost")
    error = caught.value
    assert type(error) is NotFound
    assert error.operation == "UploadArchive" and error.status == 404
    assert "no-such-vault" in str(error)
    # The children are still in use afterwards.
    assert offloading.pool_in_use
    offloading.upload_archive(VAULT, body(51), "after the error")


def test_a_killed_child_falls_back_in_process(
    offloading: OffloadingStore, local_server: LocalServer, caplog: pytest.LogCaptureFixture,
) -> None:
    for pid in offloading.child_pids():
        os.kill(pid, signal.SIGKILL)
    created = [offloading.upload_archive(VAULT, body(i), f"after kill {i}")
               for i in range(60, 70)]
    assert not offloading.pool_in_use
    stored = archives(local_server)
    assert all(c.archive_id in stored for c in created)
    # The call that met the dead child is counted like a lost reply (it may have been sent);
    # the later ones, made in-process from the start, are not.
    assert created[0].lost_replies == 1
    assert [c.lost_replies for c in created[1:]] == [0] * 9
    assert any("uploading in-process" in r.getMessage() for r in caplog.records
               if r.levelno == logging.WARNING)


def test_concurrent_callers_share_the_children(
    offloading: OffloadingStore, local_server: LocalServer,
) -> None:
    results: list[str] = []
    lock = threading.Lock()

    def upload(i: int) -> None:
        created = offloading.upload_archive(VAULT, body(i), f"threaded {i}")
        with lock:
            results.append(created.archive_id)

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(100, 140)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 40
    assert set(results) <= set(archives(local_server))


def test_close_is_idempotent_and_stops_the_children(offloading: OffloadingStore) -> None:
    pids = offloading.child_pids()
    offloading.close()
    offloading.close()
    assert all(not _alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    """Running (a zombie, waiting for an init that does not reap, counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


_PARENT = """
import sys, time
from glacierlib.client import Connection, GlacierStore, make_session
from glacierlib.storage import PartBody
from glacierlib.wrappers.offload import OffloadingStore

endpoint, region, key, secret = sys.argv[1:5]
conn = Connection(region=region, endpoint_url=endpoint, protocol="http", access_key=key,
                  secret_key=secret, concurrency=2)
inner = GlacierStore(make_session(conn), conn)
inner.create_vault("offload")
store = OffloadingStore(inner, conn, processes=2, threshold=1)
store.upload_archive("offload", PartBody.from_bytes(b"first"), "first")
deadline = time.monotonic() + 30
while not store.pool_in_use and time.monotonic() < deadline:
    time.sleep(0.05)
store.upload_archive("offload", PartBody.from_bytes(b"second"), "second")
print(*store.child_pids(), flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc")
def test_children_exit_when_the_parent_is_killed(local_server: LocalServer,
                                                 tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(_PARENT))
    parent = subprocess.Popen(
        [sys.executable, str(script), local_server.endpoint_url, local_server.region,
         local_server.access_key, local_server.secret_key],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert parent.stdout is not None
        pids = [int(p) for p in parent.stdout.readline().split()]  # unguarded script: fine
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "upload processes outlived their parent"
        time.sleep(0.05)


def test_children_import_the_client_layer_without_the_package_init() -> None:
    """A child needs only the client layer: settings, journal and options (what the package
    ``__init__`` loads) are start-up CPU each child would pay for nothing."""
    from glacierlib.wrappers import offload

    root = Path(__file__).resolve().parent.parent
    probe = offload._CHILD_IMPORTS + (
        "; print(' '.join(sorted(m for m in sys.modules if m.startswith('glacierlib'))))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, env=dict(os.environ, PYTHONPATH=str(root))).stdout
    loaded = set(out.split())
    assert {"glacierlib.client", "glacierlib.wrappers.offload"} <= loaded
    assert not loaded & {"glacierlib.config", "glacierlib.journal", "glacierlib.options"}
