"""Hostile journals through the CLI: sync --dry-run, sync, check-local-hash, restore.

A journal that cannot be read as it is ends the run with exit 2 and one ERROR line naming
the journal and the line at fault; the journal is byte-identical afterwards, nothing is
uploaded and nothing is written next to it or under ``--dir``. The one documented change is
the torn-line repair of a writer: an unterminated last line is moved into
``<journal>.torn-<stamp>`` and the journal is cut to its last complete line.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable

import pytest
from hostile_support import (
    AID,
    HASH,
    VAULT,
    Result,
    Snapshot,
    Workspace,
    assert_no_traceback,
    assert_one_error,
    connection,
    run,
    run_subprocess,
)

from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer
from glacierlib.localserver.storage_disk import lock_data_dir

MIB = 1 << 20


def _created(name: bytes, *, version: bytes = b"B", aid: bytes = AID.encode(),
             size: bytes = b"5", tree_hash: bytes = HASH.encode(),
             mtime: bytes = b"1600000000") -> bytes:
    return b"\t".join([version, b"1600000000", b"CREATED", aid, size, mtime,
                       tree_hash, name]) + b"\n"


#: name -> (how to spoil a valid two-record journal, the line number the error must name)
SPOILERS: dict[str, tuple[Callable[[bytes], bytes], int]] = {
    "garbage": (lambda j: j + b"this is not a journal line\n", 3),
    "garbage-binary": (lambda j: b"\x00\x01\x02garbage\xff\n" + j, 1),
    "future-version-D": (lambda j: j + _created(b"x.txt", version=b"D"), 3),
    "future-version-Z": (lambda j: j + _created(b"x.txt", version=b"Z"), 3),
    "duplicate-created-different-data": (
        lambda j: j + _created(b"other.txt", aid=j.split(b"\t")[3], size=b"999"), 3),
    "huge-line": (lambda j: j + _created(b"h" * (MIB + 100)), 3),
    "invalid-utf8": (lambda j: j + _created(b"bad\xff\xfename"), 3),
    "blank-line": (lambda j: j.replace(b"\n", b"\n\n", 1), 2),
    "unsafe-name": (lambda j: j + _created(b"../escape"), 3),
    "bad-tree-hash": (lambda j: j + _created(b"y", tree_hash=b"zz" * 32), 3),
    # Issue 11, item 7: numbers that crashed later commands (OverflowError in os.utime).
    "mtime-20-digits": (lambda j: j + _created(b"m.txt", aid=b"M" * 20, mtime=b"9" * 20), 3),
    "size-26-digits": (lambda j: j + _created(b"s.txt", aid=b"S" * 20, size=b"9" * 26), 3),
}

#: Spoilers whose error must say the number is out of range (not "not a decimal number").
OUT_OF_RANGE = {"mtime-20-digits", "size-26-digits"}


def _commands(ws: Workspace, server: LocalServer) -> dict[str, list[object]]:
    journal = ["--journal", ws.journal]
    return {
        "sync-dry-run": ["sync", "--dir", ws.root, "--vault", VAULT, *journal, "--dry-run",
                         *connection(server)],
        "sync": ["sync", "--dir", ws.root, "--vault", VAULT, *journal, *connection(server)],
        "check-local-hash": ["check-local-hash", "--dir", ws.root, *journal],
        "restore": ["restore", "--dir", ws.root, "--vault", VAULT, *journal,
                    "--max-number-of-files", "10", *connection(server)],
    }


@pytest.fixture
def synced(ws: Workspace, local_server: LocalServer,
           capsys: pytest.CaptureFixture[str]) -> bytes:
    """A real two-file sync: returns the valid journal's bytes."""
    assert run(capsys, "create-vault", VAULT, *connection(local_server)).code == 0
    result = run(capsys, "sync", "--dir", ws.root, "--vault", VAULT, "--journal", ws.journal,
                 *connection(local_server))
    assert result.code == 0, result.text()
    data = ws.journal.read_bytes()
    assert data.count(b"\n") == 2 and len(read_journal(ws.journal).archives) == 2
    return data


def _archive_count(server: LocalServer) -> int:
    return len(server.control.state()["vaults"][VAULT]["archives"])


@pytest.mark.parametrize("spoiler", sorted(SPOILERS))
def test_unreadable_journal_exit_2_and_untouched(
    ws: Workspace, local_server: LocalServer, synced: bytes, capsys: pytest.CaptureFixture[str],
    spoiler: str,
) -> None:
    spoil, lineno = SPOILERS[spoiler]
    hostile = spoil(synced)
    ws.journal.write_bytes(hostile)
    (ws.root / "new.txt").write_bytes(b"a new file a sync would upload")
    (ws.root / "a.txt").unlink()  # a restore would retrieve it
    snapshot = Snapshot(ws.base)
    archives = _archive_count(local_server)

    for command, args in _commands(ws, local_server).items():
        result = run(capsys, *args)

        line = assert_one_error(result, 2, str(ws.journal), f"line {lineno}")
        assert len(line) < 1000, f"{command}: the error line echoes a huge journal line"
        if spoiler in OUT_OF_RANGE:
            assert "out of range" in line, line
        assert ws.journal.read_bytes() == hostile, f"{command} modified the journal"
        assert snapshot.changes() == {}, command
        assert _archive_count(local_server) == archives, f"{command} uploaded something"
        assert local_server.control.stats()["requests"].get("InitiateJob", 0) == 0, command


def _torn(synced: bytes) -> tuple[bytes, bytes]:
    torn = _created(b"torn.txt")[:40]
    return synced + torn, torn


@pytest.mark.parametrize("command", ["sync-dry-run", "check-local-hash"])
def test_torn_last_line_readers_warn_and_leave_it(
    ws: Workspace, local_server: LocalServer, synced: bytes, capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    hostile, _ = _torn(synced)
    ws.journal.write_bytes(hostile)
    snapshot = Snapshot(ws.base)

    result = run(capsys, *_commands(ws, local_server)[command])

    assert_no_traceback(result)
    assert result.code == 0, result.text()
    assert "not fully written" in result.err and str(ws.journal) in result.err
    assert ws.journal.read_bytes() == hostile
    assert snapshot.changes() == {}


@pytest.mark.parametrize("command", ["sync", "restore"])
def test_torn_last_line_writers_move_it_aside(
    ws: Workspace, local_server: LocalServer, synced: bytes, capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    hostile, torn = _torn(synced)
    ws.journal.write_bytes(hostile)
    (ws.root / "a.txt").unlink()

    result = run(capsys, *_commands(ws, local_server)[command])

    assert_no_traceback(result)
    assert result.code == 0, result.text()
    aside = sorted(ws.base.glob("journal.log.torn-*"))
    assert len(aside) == 1, sorted(p.name for p in ws.base.iterdir())
    assert aside[0].read_bytes() == torn
    assert str(aside[0]) in result.err
    after = ws.journal.read_bytes()
    assert after.startswith(synced), "complete lines must be kept as they were"
    assert after.endswith(b"\n")
    for line in after[len(synced):].splitlines():
        # Only what the command documents: RETRIEVE_JOB for restore, nothing for a sync
        # with nothing new to upload.
        assert command == "restore" and line.split(b"\t")[2] == b"RETRIEVE_JOB", after
    read_journal(ws.journal, strict=True)


def test_journal_is_a_directory(ws: Workspace, local_server: LocalServer,
                                capsys: pytest.CaptureFixture[str]) -> None:
    ws.journal.mkdir()
    for name, args in _commands(ws, local_server).items():
        result = run(capsys, *args)
        assert_one_error(result, 2, str(ws.journal))
        assert ws.journal.is_dir() and not any(ws.journal.iterdir()), name


def test_unreadable_journal_in_a_real_process(
    ws: Workspace, local_server: LocalServer, synced: bytes,
) -> None:
    hostile = SPOILERS["invalid-utf8"][0](synced)
    ws.journal.write_bytes(hostile)
    result: Result = run_subprocess(*_commands(ws, local_server)["sync"])
    assert_one_error(result, 2, str(ws.journal), "line 3")
    assert ws.journal.read_bytes() == hostile


@pytest.mark.parametrize("side", ["journal", "index"])
def test_journal_or_index_that_is_a_fifo_is_refused_at_once(
    ws: Workspace, local_server: LocalServer, synced: bytes, side: str,
) -> None:
    """Issue 11, item 8: a FIFO with no writer used to hang every command for ever."""
    fifo = ws.journal if side == "journal" else ws.journal.with_name("journal.log.index")
    if side == "journal":
        ws.journal.unlink()
    os.mkfifo(fifo)
    for name, args in _commands(ws, local_server).items():
        try:
            result = run_subprocess(*args, timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} hung on a FIFO {side}")
        line = assert_one_error(result, 2, str(fifo), "FIFO", "not a regular file")
        assert len(line) < 300, line
        assert stat.S_ISFIFO(fifo.lstat().st_mode), name
    if side == "index":
        assert ws.journal.read_bytes() == synced


@pytest.mark.parametrize("command", [
    ["sync", "--dir", "{root}"],
    ["upload-file", "--filename", "{root}/a.txt", "--set-rel-filename", "a.txt"],
])
def test_run_refused_by_a_busy_local_directory_creates_no_journal(
    ws: Workspace, capsys: pytest.CaptureFixture[str], command: list[str],
) -> None:
    """A second run on a ``--local`` directory another holds is refused before the journal
    (and its side files) exist: it left an empty journal behind."""
    local = ws.base / "glacier"
    held = lock_data_dir(local)  # as another run holding it would
    try:
        snapshot = Snapshot(ws.base, ignore=[local])
        result = run(capsys, *[a.format(root=ws.root) for a in command], "--vault", VAULT,
                     "--journal", ws.journal, "--local", local)
        assert_one_error(result, 1, str(local), "in use")
        assert not ws.journal.exists()
        assert snapshot.changes() == {}
    finally:
        os.close(held)
