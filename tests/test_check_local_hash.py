"""``mtglacier check-local-hash``: offline, no credentials; mt-aws-glacier's report and totals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from glacierlib_cli.main import main

MIB = 1 << 20


def _synced_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, Path]:
    """Back a small tree up under --local so the journal holds real entries."""
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_bytes(b"alpha")
    (root / "sub" / "b c.txt").write_bytes(b"beta")
    (root / "big.bin").write_bytes(os.urandom(2 * MIB + 3))
    (root / "m.txt").write_bytes(b"mtime only")
    for p in (root / "a.txt", root / "sub" / "b c.txt", root / "big.bin", root / "m.txt"):
        os.utime(p, (1_600_000_000, 1_600_000_000))
    journal = tmp_path / "j.log"
    assert main(["sync", "--local", str(tmp_path / "g"), "--vault", "v", "--journal",
                 str(journal), "--dir", str(root), "--partsize", "1"]) == 0
    capsys.readouterr()
    return root, journal


def _check(root: Path, journal: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    # A subprocess with no AWS variables at all: proves no credentials or region are needed.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    return subprocess.run(
        [sys.executable, "-m", "glacierlib_cli", "check-local-hash", "--dir", str(root),
         "--journal", str(journal), *extra],
        capture_output=True, text=True, env=env, timeout=120, check=False)


def test_clean_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, journal = _synced_tree(tmp_path, capsys)
    proc = _check(root, journal)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert sorted(line.split(" ")[1] for line in lines
                  if line.startswith("OK ") and line != "OK DONE") == [
        "a.txt", "big.bin", "m.txt", "sub/b"]
    assert any(line.startswith("OK a.txt 5 ") for line in lines)
    totals = lines[lines.index("TOTALS:"):]
    assert totals == ["TOTALS:", "4 OK", "0 MODIFICATION TIME MISSMATCHES",
                      "0 TREEHASH MISSMATCH", "0 SIZE MISSMATCH", "0 ZERO SIZE", "0 MISSED",
                      "0 ERRORS", "OK DONE"]


def test_corruption_and_friends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, journal = _synced_tree(tmp_path, capsys)
    big = bytearray((root / "big.bin").read_bytes())
    big[MIB + 5] ^= 0xFF  # same size, one bit flipped in the second MiB
    (root / "big.bin").write_bytes(bytes(big))
    os.utime(root / "big.bin", (1_600_000_000, 1_600_000_000))
    (root / "a.txt").write_bytes(b"alpha, longer")
    os.utime(root / "a.txt", (1_600_000_000, 1_600_000_000))
    (root / "sub" / "b c.txt").unlink()
    os.utime(root / "m.txt", (1_600_000_500, 1_600_000_500))
    proc = _check(root, journal)
    assert proc.returncode == 1
    out = proc.stdout.splitlines()
    assert "TREEHASH MISSMATCH big.bin" in out
    assert "SIZE MISSMATCH a.txt" in out
    assert "MISSED sub/b c.txt" in out
    assert "MTIME missmatch m.txt 1600000000 != 1600000500" in out
    assert any(line.startswith("OK m.txt ") for line in out)
    assert "OK DONE" not in out
    assert "1 MODIFICATION TIME MISSMATCHES" in out and "1 TREEHASH MISSMATCH" in out
    assert "check-local-hash reported errors" in proc.stderr


def test_mtime_mismatch_alone_does_not_fail(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    root, journal = _synced_tree(tmp_path, capsys)
    os.utime(root / "a.txt", (1_700_000_000, 1_700_000_000))
    proc = _check(root, journal)
    assert proc.returncode == 0
    assert "MTIME missmatch a.txt 1600000000 != 1700000000" in proc.stdout
    assert "1 MODIFICATION TIME MISSMATCHES" in proc.stdout


def test_zero_size_and_filters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root, journal = _synced_tree(tmp_path, capsys)
    (root / "a.txt").write_bytes(b"")
    proc = _check(root, journal)
    assert proc.returncode == 1
    assert "ZERO SIZE a.txt" in proc.stdout.splitlines()
    proc = _check(root, journal, "--exclude", "a.txt")
    assert proc.returncode == 0, proc.stdout
    assert "a.txt" not in proc.stdout


def test_missing_journal_is_a_usage_error(tmp_path: Path) -> None:
    proc = _check(tmp_path, tmp_path / "nope.log")
    assert proc.returncode == 2
    assert "nope.log" in proc.stderr
