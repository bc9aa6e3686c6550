"""Paths the system refuses, and files other local users must not read.

Found by attacking the merged product (after issue #11):

* a journal whose directory cannot be searched, or a ``--local`` directory that cannot be
  read, ended in ``unexpected PermissionError`` (the wording for a bug) instead of one line
  naming the path. The rule: an ``OSError`` that names a path is worded as that path and the
  system's reason, wherever it comes from.
* a journal its owner made private (``chmod 600``) leaked every file name and archive id
  through side files created ``0644``: ``<journal>.index``, ``<journal>.uploads`` and a torn
  line moved aside. The rule: a side file is created with the journal's own permission bits
  (``journal_files.side_mode``), never wider.

Permission cases run the CLI as a child process without ``CAP_DAC_OVERRIDE`` (root ignores
file modes), through the hostile-walk suite's ``Tree``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile_support import assert_one_error
from test_hostile_walk import FILES, Tree

from glacierlib.journal import INDEX_MIN_RECORDS, read_journal
from glacierlib.upload import PendingUpload, ResumeState, resume_path
from glacierlib_cli.main import main


@pytest.fixture
def backed_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Tree]:
    t = Tree(tmp_path)
    for rel, size in FILES.items():
        path = t.src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    assert main(t.args()) == 0, capsys.readouterr()
    yield t
    for path in (tmp_path, tmp_path / "glacier", tmp_path / "jd"):
        if path.exists():
            path.chmod(0o755)


def test_unsearchable_journal_directory_is_one_line(backed_up: Tree) -> None:
    folder = backed_up.base / "jd"
    folder.mkdir()
    journal = folder / "journal.log"
    journal.write_bytes(backed_up.journal.read_bytes())
    folder.chmod(0)
    result = backed_up.sync_unprivileged("--journal", str(journal))
    assert_one_error(result, 2, str(journal), "Permission denied")


def test_unreadable_local_directory_is_one_line(backed_up: Tree) -> None:
    (backed_up.base / "glacier").chmod(0)
    result = backed_up.sync_unprivileged()
    assert_one_error(result, 1, str(backed_up.base / "glacier"), "Permission denied")
    assert backed_up.live() == FILES


def _private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode & 0o077 == 0, f"{path.name} is {mode:o}: readable by others, its journal is not"


def test_torn_line_moved_aside_is_as_private_as_the_journal(
        backed_up: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    with backed_up.journal.open("ab") as f:
        f.write(b"A\t1700000000\tCREATED\tsecret-name-half-writ")
    backed_up.journal.chmod(0o600)
    assert main(backed_up.args()) == 0, capsys.readouterr()
    (aside,) = backed_up.base.glob("journal.log.torn-*")
    _private(aside)


def test_index_is_as_private_as_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "journal.log"
    line = "A\t1700000000\tCREATED\t{:0>138}\t1\t1700000000\t{}\tdir/f{}\n"
    with journal.open("w") as f:
        for i in range(INDEX_MIN_RECORDS):
            f.write(line.format(i, "0" * 64, i))
    journal.chmod(0o600)
    assert len(read_journal(journal).latest_by_name()) == INDEX_MIN_RECORDS
    index = tmp_path / "journal.log.index"
    assert index.exists()
    _private(index)


def test_pending_uploads_are_as_private_as_the_journal(tmp_path: Path) -> None:
    journal = tmp_path / "journal.log"
    journal.touch(mode=0o600)
    state = ResumeState.open(resume_path(journal), fsync=False)
    state.started(PendingUpload("upload-id", "private/name", 10, 1, 2, 1 << 20, "desc"))
    _private(resume_path(journal))
    state.close()  # still pending: rewritten through a temporary file
    _private(resume_path(journal))
