"""Archives stored but not journaled (issue 11, item 4): the side file and its recovery."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from glacierlib.journal import JournalWriter, read_journal
from glacierlib.treehash import tree_hash_bytes
from glacierlib.unrecorded import (
    JournalWriteError,
    UnrecordedArchive,
    UnrecordedLog,
    recover_unrecorded,
    side_files,
)
from glacierlib_cli.main import exit_code_for

A1, A2, A3 = "archive-one", "archive-two", "archive-three"


def _archive(archive_id: str, name: str) -> UnrecordedArchive:
    data = name.encode()
    return UnrecordedArchive(archive_id, name, len(data), tree_hash_bytes(data), 1_700_000_000,
                             1_700_000_100)


def test_recovery_records_each_archive_once_and_never_a_deleted_one(tmp_path: Path) -> None:
    journal = tmp_path / "j.log"
    with JournalWriter.open(journal, fsync=False) as writer:
        known = _archive(A1, "known.txt")
        gone = _archive(A3, "gone.txt")
        for a in (known, gone):
            writer.created(a.archive_id, a.size, a.mtime, a.tree_hash, a.name, time=a.time)
        writer.deleted(A3, "gone.txt")
    log = UnrecordedLog(journal, tmp_path / "state")
    for archive in (known, _archive(A2, "new.txt"), gone):
        assert log.save(archive) == side_files(journal, None)[0]
    with open(log.saved_to or "", "ab") as f:
        f.write(b"not a journal line\n")

    with JournalWriter.open(journal, fsync=False) as writer:
        assert recover_unrecorded(writer, tmp_path / "state") == [log.saved_to]
    state = read_journal(journal, strict=True)
    assert sorted(e.name for e in state.archives.values()) == ["known.txt", "new.txt"]
    assert state.archives[A2].time == 1_700_000_100
    assert journal.read_text().count(A3) == 2  # its CREATED and DELETED, nothing more
    assert not side_files(journal, None)[0].exists()


def test_recovery_on_a_still_full_disk_keeps_the_file_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    journal = tmp_path / "j.log"
    journal.write_bytes(b"")
    log = UnrecordedLog(journal, None)
    log.save(_archive(A2, "new.txt"))
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        if os.path.realpath(f"/proc/self/fd/{fd}") == str(journal):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr("glacierlib.journal.os.write", full)
    with JournalWriter.open(journal, fsync=False) as writer, \
            pytest.raises(JournalWriteError) as caught:
        recover_unrecorded(writer, None)
    assert exit_code_for(caught.value) == 1
    assert [a.archive_id for a in caught.value.unrecorded] == [A2]
    assert side_files(journal, None)[0].exists()


def test_a_full_directory_falls_back_to_the_state_directory(tmp_path: Path) -> None:
    blocked = tmp_path / "journal-dir"
    blocked.mkdir()
    journal = blocked / "j.log"
    Path(str(journal) + ".unrecorded").mkdir()  # cannot be opened as a file
    log = UnrecordedLog(journal, tmp_path / "state")
    saved = log.save(_archive(A2, "new.txt"))
    assert saved is not None and saved.parent == tmp_path / "state"
    assert A2 in saved.read_text()
