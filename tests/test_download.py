"""Segmented, verified, resumable downloads (restore-completed) against the local server.

Corruption the server cannot produce is injected by wrapping the real store (botocore over
loopback) that ``restore-completed`` uses, flipping one byte of the chosen segments' bodies.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
from restore_support import (
    VAULT,
    files_in,
    pattern,
    run_cli,
    seed_vault,
    server_store,
)

import glacierlib.operations.restore_completed as restore_completed_module
from glacierlib.download import PARTIAL_PREFIX
from glacierlib.journal import JournalWriter
from glacierlib.localserver import LocalServer
from glacierlib.operations._store import store_for as real_store_for
from glacierlib.restore_plan import choose_segment_size, plan_segments
from glacierlib.storage import JobOutput
from glacierlib.treehash import ByteRange, TreeHash

MIB = 1 << 20
SIZE = 4 * MIB + 777  # five 1 MiB segments, the last one short


class CorruptingStore:
    """Forwards to a real store; flips a byte in the body of chosen segments."""

    def __init__(self, inner: Any, bad_starts: set[int], times: int) -> None:
        self._inner = inner
        self.bad_starts = bad_starts
        self.remaining = {start: times for start in bad_starts}
        self.fetched: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_job_output(self, vault: str, job_id: str,
                       byte_range: ByteRange | None = None) -> JobOutput:
        out = self._inner.get_job_output(vault, job_id, byte_range)
        start = 0 if byte_range is None else byte_range.start
        self.fetched.append(start)
        if self.remaining.get(start, 0) > 0:
            self.remaining[start] -= 1
            data = bytearray(out.body.read())
            out.close()
            data[len(data) // 2] ^= 0xFF
            return attrs.evolve(out, body=io.BytesIO(bytes(data)))
        return out


@pytest.fixture
def corrupt(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Set ``state["bad"]`` (segment starts) and ``state["times"]`` before running the CLI."""
    state: dict[str, Any] = {"bad": set(), "times": 0, "stores": []}

    @contextmanager
    def wrapped(settings: Any, on_event: Any = None) -> Iterator[Any]:
        with real_store_for(settings, on_event) as store:
            wrapper = CorruptingStore(store, set(state["bad"]), state["times"])
            state["stores"].append(wrapper)
            yield wrapper

    monkeypatch.setattr(restore_completed_module, "store_for", wrapped)
    yield state


def _prepare(server: LocalServer, tmp_path: Path, size: int = SIZE) -> tuple[Path, Path, bytes]:
    journal = tmp_path / "journal"
    root = tmp_path / "out"
    data = pattern(size, 42)
    seed_vault(server, journal, {"dir/file.bin": data})
    result = run_cli(server, "restore", "--dir", root, "--vault", VAULT, "--journal", journal,
                     "--max-number-of-files", "1")
    assert result.code == 0, result.err
    return journal, root, data


def _completed(server: LocalServer, root: Path, journal: Path, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli(server, "restore-completed", "--dir", root, "--vault", VAULT,
                   "--journal", journal, *extra)


def _get_requests(server: LocalServer) -> int:
    return int(server.control.stats()["requests"].get("GetJobOutput", 0))


def test_segment_planner_is_aligned_and_automatic() -> None:
    assert plan_segments(SIZE, MIB) == tuple(
        ByteRange(s, min(s + MIB, SIZE)) for s in range(0, SIZE, MIB))
    assert plan_segments(SIZE, 0) == (ByteRange(0, SIZE),)
    assert plan_segments(0, MIB) == ()
    assert choose_segment_size(SIZE, None) == 0  # small: one request
    assert choose_segment_size(1 << 30, None) == 16 * MIB
    assert choose_segment_size(100 << 30, None) == 1024 * MIB
    with pytest.raises(ValueError):
        choose_segment_size(SIZE, 3 * MIB)
    for size in (1, MIB, MIB + 1, 7 * MIB + 3, 64 * MIB):
        for seg in (MIB, 2 * MIB, 4 * MIB):
            assert all(r.is_tree_hash_aligned(size) for r in plan_segments(size, seg))


@pytest.mark.parametrize(("segment", "requests"), [("0", 1), ("1", 5), ("2", 3)])
def test_whole_and_segmented_downloads_verify(
    local_server: LocalServer, tmp_path: Path, segment: str, requests: int,
) -> None:
    journal, root, data = _prepare(local_server, tmp_path)
    before = _get_requests(local_server)
    result = _completed(local_server, root, journal, "--segment-size", segment,
                        "--concurrency", "3")
    assert result.code == 0, result.err
    assert files_in(root) == {"dir/file.bin": data}
    assert _get_requests(local_server) - before == requests


def test_corrupted_segment_is_refetched(
    local_server: LocalServer, tmp_path: Path, corrupt: dict[str, Any],
) -> None:
    journal, root, data = _prepare(local_server, tmp_path)
    corrupt["bad"], corrupt["times"] = {2 * MIB}, 1
    result = _completed(local_server, root, journal, "--segment-size", "1")
    assert result.code == 0, result.err
    assert files_in(root) == {"dir/file.bin": data}
    assert corrupt["stores"][0].fetched.count(2 * MIB) == 2


def test_persistently_bad_segment_fails_then_resumes(
    local_server: LocalServer, tmp_path: Path, corrupt: dict[str, Any],
) -> None:
    journal, root, data = _prepare(local_server, tmp_path)
    corrupt["bad"], corrupt["times"] = {3 * MIB}, 99
    failed = _completed(local_server, root, journal, "--segment-size", "1")
    assert failed.code == 1
    assert "still wrong after 3 attempts" in failed.err
    assert not (root / "dir" / "file.bin").exists()
    leftovers = sorted(p.name for p in (root / "dir").iterdir())
    assert len(leftovers) == 2 and all(n.startswith(PARTIAL_PREFIX) for n in leftovers)
    assert corrupt["stores"][0].fetched.count(3 * MIB) == 3

    # The next run fetches only the segment that never verified.
    corrupt["bad"], corrupt["times"] = set(), 0
    before = _get_requests(local_server)
    resumed = _completed(local_server, root, journal, "--segment-size", "1")
    assert resumed.code == 0, resumed.err
    assert "4 resumed" in resumed.out
    assert _get_requests(local_server) - before == 1
    assert files_in(root) == {"dir/file.bin": data}


def test_resume_rehashes_segments_on_disk(
    local_server: LocalServer, tmp_path: Path, corrupt: dict[str, Any],
) -> None:
    """A recorded segment whose bytes changed on disk is fetched again, not trusted."""
    journal, root, data = _prepare(local_server, tmp_path)
    corrupt["bad"], corrupt["times"] = {0}, 99
    assert _completed(local_server, root, journal, "--segment-size", "1").code == 1
    partial = next(p for p in (root / "dir").iterdir() if p.name.endswith(".tmp"))
    with open(partial, "r+b") as handle:  # damage verified segment 1
        handle.seek(MIB + 5)
        handle.write(b"\x00\x01\x02")
    corrupt["bad"] = set()
    before = _get_requests(local_server)
    result = _completed(local_server, root, journal, "--segment-size", "1")
    assert result.code == 0, result.err
    assert _get_requests(local_server) - before == 2  # segments 0 and 1
    assert files_in(root) == {"dir/file.bin": data}


def test_truncated_body_is_recovered(local_server: LocalServer, tmp_path: Path) -> None:
    journal, root, data = _prepare(local_server, tmp_path)
    local_server.control.inject_fault("GetJobOutput", "truncate", 2)
    result = _completed(local_server, root, journal, "--segment-size", "1")
    assert result.code == 0, result.err
    assert files_in(root) == {"dir/file.bin": data}


def test_journal_hash_mismatch_fails_in_segmented_mode(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    """mt-aws-glacier never compared the whole file with the journal when segmented."""
    journal = tmp_path / "journal"
    root = tmp_path / "out"
    data = pattern(3 * MIB, 8)
    with server_store(local_server) as store:
        store.create_vault(VAULT)
        from restore_support import upload

        created = upload(store, None, "f", data)
    with JournalWriter.open(journal, fsync=False) as writer:
        writer.created(created.archive_id, len(data), 1_600_000_000, TreeHash(b"\x07" * 32), "f")
    assert run_cli(local_server, "restore", "--dir", root, "--vault", VAULT, "--journal",
                   journal, "--max-number-of-files", "1").code == 0
    result = _completed(local_server, root, journal, "--segment-size", "1")
    assert result.code == 1
    assert "does not match the journal" in result.err
    assert files_in(root) == {}


def test_symlinked_directory_leading_out_is_refused(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    journal = tmp_path / "journal"
    root = tmp_path / "out"
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    os.symlink(outside, root / "link")
    seed_vault(local_server, journal, {"link/escape.txt": b"must not leave --dir",
                                       "fine.txt": b"ok"})
    restored = run_cli(local_server, "restore", "--dir", root, "--vault", VAULT, "--journal",
                       journal, "--max-number-of-files", "5")
    assert restored.code == 0
    assert "link/escape.txt" in restored.err  # reported as unsafe, never retrieved
    result = _completed(local_server, root, journal)
    assert (root / "fine.txt").read_bytes() == b"ok"
    assert list(outside.iterdir()) == []
    assert result.code == 1  # the refused file is a failure the user must see (exit 1)


def test_server_corrupted_segment_is_caught_and_refetched(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    """The server flips a byte in a segment's body but sends the true tree-hash header."""
    journal, root, data = _prepare(local_server, tmp_path)
    local_server.control.inject_fault("GetJobOutput", "corrupt", 1)
    before = _get_requests(local_server)
    result = _completed(local_server, root, journal, "--segment-size", "1", "--concurrency", "1")
    assert result.code == 0, result.err
    assert files_in(root) == {"dir/file.bin": data}
    assert _get_requests(local_server) - before == 6  # five segments, one fetched twice


def test_wrong_tree_hash_header_fails_clearly_after_bounded_refetches(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    journal, root, _data = _prepare(local_server, tmp_path)
    local_server.control.inject_fault("GetJobOutput", "header", 3,
                                      header="x-amz-sha256-tree-hash", value="ab" * 32)
    result = _completed(local_server, root, journal, "--segment-size", "0")
    assert result.code == 1
    assert "still wrong after 3 attempts" in result.err
    assert "the service says " + "ab" * 32 in result.err
    assert not (root / "dir" / "file.bin").exists()


def test_missing_tree_hash_header_is_computed_locally(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    """Without the header every segment is hashed locally; the whole-file check still holds."""
    journal, root, data = _prepare(local_server, tmp_path)
    local_server.control.inject_fault("GetJobOutput", "drop_header", 5,
                                      header="x-amz-sha256-tree-hash")
    result = _completed(local_server, root, journal, "--segment-size", "1")
    assert result.code == 0, result.err
    assert files_in(root) == {"dir/file.bin": data}


@pytest.mark.parametrize("stop_at", ["_unlink_quietly", "_fsync_dir"])
def test_a_stop_while_finishing_leaves_nothing_after_the_rerun(
    local_server: LocalServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stop_at: str,
) -> None:
    """Issue 11, item 12: a stop (SIGTERM arrives as an interrupt) at each step of putting a
    finished download in place; the rerun must leave exactly the file, no partial, no state."""
    import glacierlib.download as download_module

    journal, root, data = _prepare(local_server, tmp_path)
    real = getattr(download_module, stop_at)
    calls = {"n": 0}

    def stop_once(path: Path) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt
        real(path)

    monkeypatch.setattr(download_module, stop_at, stop_once)
    stopped = _completed(local_server, root, journal, "--segment-size", "1")
    assert stopped.code == 130, stopped.err
    assert calls["n"] == 1
    monkeypatch.setattr(download_module, stop_at, real)
    result = _completed(local_server, root, journal, "--segment-size", "1")
    assert result.code == 0, result.err
    assert sorted(p.name for p in (root / "dir").iterdir()) == ["file.bin"]
    assert files_in(root) == {"dir/file.bin": data}
