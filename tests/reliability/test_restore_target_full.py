"""The restore target's disk fills up: one clear line per file, no re-download, no litter.

Found by attacking the merged product: ``restore-completed`` into a full filesystem treated
the local ``ENOSPC`` as a bad transfer, fetched each segment three times (retrieval traffic
for nothing) and reported ``bytes 0-699999 still wrong after 3 attempts``; a state file that
could not be written left a ``.state.new`` behind. The rule: a local write error is never
retried and names the file it could not write; once space is freed, the next run restores
the rest and leaves no temporary file.

A small tmpfs is the target (this suite runs as root in CI, where ``mount`` works; elsewhere
the test is skipped); everything else is the CLI against a ``--local`` server.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from glacierlib_cli.main import main

from .test_journal_full import _tmpfs

SIZE = 700_000


def test_full_restore_target_is_not_retried_and_resumes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    files = {f"g{i}": os.urandom(SIZE) for i in range(4)}
    for name, data in files.items():
        (src / name).write_bytes(data)
    common = ["--local", str(tmp_path / "glacier"), "--vault", "v",
              "--journal", str(tmp_path / "journal")]
    assert main(["sync", *common, "--dir", str(src)]) == 0
    with _tmpfs(tmp_path / "target", "2m") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here")
        target = tmp_path / "target"
        assert main(["restore", *common, "--dir", str(target),
                     "--max-number-of-files", "10"]) == 0
        capsys.readouterr()
        assert main(["restore-completed", *common, "--dir", str(target), "--verbose"]) == 1
        out, err = capsys.readouterr()
        errors = [line for line in err.splitlines() if line.startswith("ERROR:")]
        assert errors, err
        for line in errors:
            assert "cannot write " in line and "No space left on device" in line, err
        assert "still wrong" not in out + err and "attempt" not in out + err, err
        assert not list(target.glob("*.new")), sorted(os.listdir(target))

        subprocess.run(["mount", "-o", "remount,size=8m", str(target)], check=True)
        assert main(["restore-completed", *common, "--dir", str(target)]) == 0
        assert {p.name: p.read_bytes() for p in target.iterdir()} == files
