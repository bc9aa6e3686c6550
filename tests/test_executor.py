"""The executor's guarantees, measured around a real store talking to the local server.

A wrapper (not a mock) counts requests in flight and part bytes held by requests, and can
change a file in the middle of its upload.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glacierlib.client import Connection, open_store
from glacierlib.executor import Executor
from glacierlib.journal import JournalWriter
from glacierlib.localserver import LocalServer
from glacierlib.plan import Action, SyncOptions, Upload, plan_sync
from glacierlib.storage import ArchiveCreated, PartBody, VaultStore
from glacierlib.treehash import MIB, TreeHash
from glacierlib.walk import LocalFile, walk_tree
from glacierlib.wrappers.forwarding import ForwardingStore

VAULT = "v"


class Counting(ForwardingStore):
    """Counts concurrent requests and the part bytes they hold; optional hook per part."""

    def __init__(self, inner: VaultStore, delay: float = 0.0) -> None:
        super().__init__(inner)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.bytes_held = 0
        self.max_bytes_held = 0
        self.delay = delay
        self.calls: list[str] = []
        self.on_part: list[object] = []

    def _enter(self, name: str, nbytes: int = 0) -> None:
        with self.lock:
            self.calls.append(name)
            self.in_flight += 1
            self.bytes_held += nbytes
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.max_bytes_held = max(self.max_bytes_held, self.bytes_held)
        time.sleep(self.delay)

    def _leave(self, nbytes: int = 0) -> None:
        with self.lock:
            self.in_flight -= 1
            self.bytes_held -= nbytes

    def upload_archive(self, vault: str, body: PartBody, description: str) -> ArchiveCreated:
        self._enter("upload_archive", body.length)
        try:
            return super().upload_archive(vault, body, description)
        finally:
            self._leave(body.length)

    def initiate_multipart_upload(self, vault: str, part_size: int, description: str) -> str:
        self._enter("initiate")
        try:
            return super().initiate_multipart_upload(vault, part_size, description)
        finally:
            self._leave()

    def upload_part(self, vault: str, upload_id: str, offset: int, body: PartBody) -> TreeHash:
        self._enter("upload_part", body.length)
        try:
            for hook in list(self.on_part):
                hook()  # type: ignore[operator]
            return super().upload_part(vault, upload_id, offset, body)
        finally:
            self._leave(body.length)

    def complete_multipart_upload(
        self, vault: str, upload_id: str, archive_size: int, tree_hash: TreeHash
    ) -> ArchiveCreated:
        self._enter("complete")
        try:
            return super().complete_multipart_upload(vault, upload_id, archive_size, tree_hash)
        finally:
            self._leave()

    def abort_multipart_upload(self, vault: str, upload_id: str) -> None:
        self._enter("abort")
        try:
            super().abort_multipart_upload(vault, upload_id)
        finally:
            self._leave()


@pytest.fixture
def store(local_server: LocalServer) -> Iterator[VaultStore]:
    connection = Connection(region=local_server.region, endpoint_url=local_server.endpoint_url,
                            protocol="http", access_key=local_server.access_key,
                            secret_key=local_server.secret_key, concurrency=8)
    real = open_store(connection)
    real.create_vault(VAULT)
    yield real
    close = getattr(real, "close", None)
    if callable(close):
        close()


def _files(root: Path, sizes: dict[str, int]) -> None:
    for name, size in sizes.items():
        (root / name).write_bytes(bytes([len(name)]) * size)


@pytest.mark.parametrize("concurrency", [1, 3])
def test_requests_and_buffers_stay_bounded(
    store: VaultStore, tmp_path: Path, concurrency: int
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    _files(root, {"a": 3 * MIB, "bb": 2 * MIB + 5, "ccc": 4 * MIB, "d": 100, "e": 200})
    counting = Counting(store, delay=0.02)
    with JournalWriter.open(tmp_path / "j", fsync=False) as journal:
        actions = plan_sync(walk_tree(root), journal.state, SyncOptions(part_size=MIB))
        with Executor(counting, VAULT, journal, concurrency=concurrency,
                      part_size=MIB) as executor:
            report = executor.run(actions)
        assert len(journal.state.archives) == 5
    assert report.ok and report.uploaded == 5
    assert counting.max_in_flight <= concurrency
    assert counting.max_bytes_held <= concurrency * MIB
    if concurrency > 1:
        # Parts of several files really were in flight together.
        assert counting.max_in_flight > 1
    assert counting.calls.count("upload_part") == 3 + 3 + 4


def test_uploads_start_before_the_plan_is_exhausted(store: VaultStore, tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    _files(root, {"first": 10, "second": 20})
    files = [e for e in walk_tree(root) if isinstance(e, LocalFile)]
    counting = Counting(store)
    seen_upload_before_last = threading.Event()

    def slow_plan(journal: JournalWriter) -> Iterator[Action]:
        yield from plan_sync(files[:1], journal.state, SyncOptions(part_size=MIB))
        deadline = time.monotonic() + 10
        while "upload_archive" not in counting.calls and time.monotonic() < deadline:
            time.sleep(0.01)
        if "upload_archive" in counting.calls:
            seen_upload_before_last.set()
        yield from plan_sync(files[1:], journal.state, SyncOptions(part_size=MIB))

    with JournalWriter.open(tmp_path / "j", fsync=False) as journal, Executor(
        counting, VAULT, journal, concurrency=2, part_size=MIB
    ) as executor:
        report = executor.run(slow_plan(journal))
    assert report.uploaded == 2
    assert seen_upload_before_last.is_set()


def test_file_changed_during_multipart_upload_is_not_recorded(
    store: VaultStore, tmp_path: Path, local_server: LocalServer
) -> None:
    root = tmp_path / "data"
    root.mkdir()
    _files(root, {"moving": 3 * MIB, "steady": 2 * MIB + 1})
    counting = Counting(store)
    touched = threading.Event()

    def grow() -> None:
        if not touched.is_set():
            touched.set()
            with open(root / "moving", "ab") as handle:
                handle.write(b"more")

    counting.on_part.append(grow)
    files = sorted((e for e in walk_tree(root) if isinstance(e, LocalFile)), key=lambda f: f.rel)
    with JournalWriter.open(tmp_path / "j", fsync=False) as journal:
        actions = plan_sync(files, journal.state, SyncOptions(part_size=MIB))
        with Executor(counting, VAULT, journal, concurrency=1, part_size=MIB) as executor:
            report = executor.run(actions)
        names = {e.name for e in journal.state.archives.values()}
    assert report.changed == ("moving",)
    assert not report.ok
    assert names == {"steady"}
    assert "abort" in counting.calls
    vault = local_server.control.state()["vaults"][VAULT]
    assert len(vault["archives"]) == 1
    assert vault["uploads"] == []


def test_small_file_changed_before_upload_is_never_sent(store: VaultStore, tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    _files(root, {"small": 100})
    stale = next(e for e in walk_tree(root) if isinstance(e, LocalFile))
    (root / "small").write_bytes(b"y" * 101)
    counting = Counting(store)
    with JournalWriter.open(tmp_path / "j", fsync=False) as journal, Executor(
        counting, VAULT, journal, concurrency=2, part_size=MIB
    ) as executor:
        report = executor.run([Upload(stale, "mt2 x", MIB)])
        assert len(journal.state.archives) == 0
    assert report.changed == ("small",)
    assert counting.calls == []
