"""The embedding examples run as documented (README quick start tree, ``--local``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from glacierlib.journal import read_journal

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "sample"


def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, *args], input=stdin, capture_output=True,
                          timeout=120, check=False, cwd=ROOT)


def test_backup_nightly_on_the_sample_tree(tmp_path: Path) -> None:
    journal = tmp_path / "demo.journal"
    args = ("examples/backup_nightly.py", str(SAMPLE), "--local", str(tmp_path / "g"),
            "--vault", "demo", "--journal", str(journal))
    first = _run(*args)
    assert first.returncode == 0, first.stderr
    names = {e.name for e in read_journal(journal).archives.values()}
    assert names == {"README.txt", "notes/shopping.txt", "notes/2024/plans.md",
                     "photos/été 2023/lac au coucher du soleil.txt"}
    again = _run(*args)
    assert again.returncode == 0
    assert b"uploaded 0 files" in again.stderr


def test_backup_database_dump_from_a_pipe(tmp_path: Path) -> None:
    journal = tmp_path / "dumps.journal"
    args = ("examples/backup_database_dump.py", "--local", str(tmp_path / "g"), "--vault",
            "dumps", "--journal", str(journal), "--name", "db/2024-01-01.sql")
    done = _run(*args, stdin=b"CREATE TABLE t (x int);\n" * 1000)
    assert done.returncode == 0, done.stderr
    entry = read_journal(journal).latest("db/2024-01-01.sql")
    assert entry is not None and entry.size == 24_000
    refused = _run(*args, stdin=b"again")
    assert refused.returncode == 1
    assert b"already in the journal" in refused.stderr
