"""Concurrency suite (issue 7): two runs on one journal at once.

A sync runs in a ``python -m glacierlib_cli`` subprocess against the local server (in this
process, loopback HTTP, real signatures), slowed by real server-side ``delay`` faults so that
it is certainly still running while the other commands start:

* a second sync on the same journal is refused at once: exit 2 (``JournalLockedError`` is a
  ``JournalError``), one clear line on stderr, no traceback, while the first goes on and
  completes with a vault matching its journal;
* a ``restore`` (which writes RETRIEVE_JOB records) on the same journal is refused the same
  way, while ``restore-completed`` and ``check-local-hash`` (readers) run during the sync and
  succeed, restoring byte-identical files.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer, ServerConfig, running_server
from glacierlib_cli.main import main

from .support import (
    Endpoint,
    assert_vault_matches_journal,
    cli_command,
    cli_env,
    make_tree,
    read_tree,
    run_cli,
)

pytestmark = pytest.mark.slow

VAULT = "together"
#: Server-side pause per UploadArchive: 24 files at concurrency 1 take about 7 s.
PACE = 0.3
PACED_FILES = 24


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with running_server(config=ServerConfig()) as srv:
        yield srv


def _start_slow_sync(server: LocalServer, ep: Endpoint, root: Path,
                     journal: Path) -> subprocess.Popen[str]:
    """A sync subprocess, returned once its first upload reached the server."""
    server.control.inject_fault("UploadArchive", "delay", PACED_FILES + 5, delay=PACE)
    before = server.control.stats()["requests"].get("UploadArchive", 0)
    proc = subprocess.Popen(
        cli_command(["sync", "--dir", str(root), "--vault", VAULT, "--journal", str(journal),
                     "--concurrency", "1", *ep.args()]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    deadline = time.monotonic() + 60
    while server.control.stats()["requests"].get("UploadArchive", 0) == before:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return proc


def _finish(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def _assert_refused(result: subprocess.CompletedProcess[str], started: float,
                    proc: subprocess.Popen[str]) -> None:
    elapsed = time.monotonic() - started
    assert proc.poll() is None, "the first sync ended before the second was refused"
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2, result.stderr  # the error, and at most its hint
    assert "in use by another mtglacier process" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert elapsed < 15, elapsed  # at once: it did not wait for the first to finish


def test_second_sync_on_one_journal_is_refused_at_once(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ep = Endpoint.of(server)
    root, journal = tmp_path / "data", tmp_path / "journal.log"
    make_tree(root, small=PACED_FILES, big_sizes=(), seed=21)
    assert main(["create-vault", VAULT, *ep.args()]) == 0
    first = _start_slow_sync(server, ep, root, journal)
    started = time.monotonic()
    second = run_cli(["sync", "--dir", str(root), "--vault", VAULT, "--journal", str(journal),
                      *ep.args()])
    _assert_refused(second, started, first)
    code, _out, err = _finish(first)
    assert code == 0, err
    assert len(read_journal(journal, strict=True).archives) == PACED_FILES
    assert_vault_matches_journal(server.control, VAULT, journal)
    capsys.readouterr()


def test_restore_while_sync_runs(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ep = Endpoint.of(server)
    root, journal = tmp_path / "data", tmp_path / "journal.log"
    first_files = make_tree(root, small=10, big_sizes=(3 << 19,), seed=22)
    assert main(["create-vault", VAULT, *ep.args()]) == 0
    sync_args = ["sync", "--dir", str(root), "--vault", VAULT, "--journal", str(journal),
                 "--partsize", "1", *ep.args()]
    assert main(sync_args) == 0
    restored = tmp_path / "restored"
    restored.mkdir()
    into = ["--dir", str(restored), "--vault", VAULT, "--journal", str(journal), *ep.args()]
    assert main(["restore", "--max-number-of-files", "100", *into]) == 0

    # New files for the slow sync; the restore below concerns the first ones only.
    new_files = make_tree(root / "new", small=PACED_FILES, big_sizes=(), seed=23)
    sync = _start_slow_sync(server, ep, root, journal)

    # A restore writes the journal: refused at once, like a second sync.
    started = time.monotonic()
    refused = run_cli(["restore", "--max-number-of-files", "100", *into])
    _assert_refused(refused, started, sync)

    # Readers run alongside the sync: restore-completed and check-local-hash.
    capsys.readouterr()
    assert main(["restore-completed", *into]) == 0
    assert main(["check-local-hash", "--dir", str(root), "--journal", str(journal)]) == 0
    assert sync.poll() is None, "the sync finished before the readers: no overlap proven"
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    # Restored files: exactly the first tree (the sync's files were not journaled yet when
    # the restore was planned), byte for byte.
    restored_tree = read_tree(restored)
    assert {k: v for k, v in restored_tree.items() if not k.startswith("new/")} == first_files

    code, _out, err = _finish(sync)
    assert code == 0, err
    names = {e.name for e in read_journal(journal, strict=True).archives.values()}
    assert names == set(first_files) | {f"new/{k}" for k in new_files}
    assert_vault_matches_journal(server.control, VAULT, journal)
