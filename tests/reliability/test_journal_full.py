"""The journal's disk fills up (issue 11, item 4): nothing stored is ever silent or re-uploaded.

A small tmpfs holds the journal (this suite runs as root in CI, where ``mount`` works; without
it, the same run is made with ENOSPC injected at the journal's write). The filesystem is
filled until the journal has room for a few more lines only, then a sync of many small files
runs against the local server over loopback HTTP:

* it stops taking work after the first failed append, and exits 1 (not 2, "usage");
* every archive in the vault that the journal lacks is named on standard output, under
  POSSIBLE EXTRA COPIES, with its id, name, size and tree hash, and saved (as journal lines)
  in ``$XDG_STATE_HOME/mtglacier/`` because the journal's own directory is full;
* once space is freed, the next sync records them first, uploads nothing twice, and the vault
  matches the journal exactly.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer
from glacierlib_cli.main import main

from .support import Endpoint, assert_vault_matches_journal, vault_archive_ids, vault_state

VAULT = "fulldisk"
CONCURRENCY = 2


@contextlib.contextmanager
def _tmpfs(where: Path, size: str) -> Iterator[bool]:
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, check=False)
    try:
        yield done.returncode == 0
    finally:
        if done.returncode == 0:
            subprocess.run(["umount", "-l", str(where)], check=False)


def _fill(directory: Path) -> Path:
    """Fill the filesystem of ``directory`` to the last byte; return the filler file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def _tree(root: Path, count: int) -> dict[str, bytes]:
    files = {f"f{i:03d}.txt": f"file {i}\n".encode() * (i + 1) for i in range(count)}
    root.mkdir()
    for name, data in files.items():
        (root / name).write_bytes(data)
    return files


def _run_out_of_space(server: LocalServer, tmp_path: Path, journal: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    ep = Endpoint.of(server)
    assert main(["create-vault", VAULT, *ep.args()]) == 0
    root = tmp_path / "data"
    files = _tree(root, 60)
    args = ["sync", "--dir", str(root), "--vault", VAULT, "--journal", str(journal),
            "--concurrency", str(CONCURRENCY), *ep.args()]
    capsys.readouterr()

    code = main(args)
    out, err = capsys.readouterr()
    assert code == 1, err
    stored = vault_archive_ids(server.control, VAULT)
    journaled = read_journal(journal, strict=True).archives
    unjournaled = set(stored) - set(journaled)
    assert unjournaled, "the journal had room for every line: the test set-up is wrong"
    # It stopped: not every file was uploaded, and at most the requests in flight when the
    # first append failed stored archives the journal lacks.
    assert sum(stored.values()) < len(files)
    assert len(unjournaled) <= CONCURRENCY
    # None of them is silent: each is named with its id, name, size and tree hash.
    assert "POSSIBLE EXTRA COPIES" in out
    by_id = {a["archive_id"]: a for a in vault_state(server.control, VAULT)["archives"]}
    for archive_id in unjournaled:
        archive = by_id[archive_id]
        line = next(x for x in out.splitlines() if archive_id in x)
        assert f"{archive['size']} bytes" in line and str(archive["tree_hash"]) in line
        assert line.strip().split(":")[0] in files
    assert "Traceback" not in err and "unexpected" not in err


def _rerun_matches(server: LocalServer, tmp_path: Path, journal: Path,
                   capsys: pytest.CaptureFixture[str]) -> None:
    ep = Endpoint.of(server)
    root = tmp_path / "data"
    assert main(["sync", "--dir", str(root), "--vault", VAULT, "--journal", str(journal),
                 "--concurrency", str(CONCURRENCY), *ep.args()]) == 0
    capsys.readouterr()
    assert_vault_matches_journal(server.control, VAULT, journal)
    assert len(read_journal(journal).archives) == len(list(root.iterdir()))


def test_journal_disk_full_on_tmpfs(local_server: LocalServer, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    with _tmpfs(tmp_path / "jfs", "64k") as mounted:
        if not mounted:
            pytest.skip("cannot mount a tmpfs here (the injected-ENOSPC test covers this)")
        journal = tmp_path / "jfs" / "journal.log"
        journal.write_bytes(b"")
        filler = _fill(journal.parent)
        # Room for a few lines: the journal grows into the space freed here, then fails.
        with open(filler, "r+b") as f:
            f.truncate(max(0, os.path.getsize(filler) - 4096))
        _run_out_of_space(local_server, tmp_path, journal, capsys)
        saved = list((state / "mtglacier").glob("unrecorded-journal.log-*.log"))
        assert len(saved) == 1
        assert not Path(str(journal) + ".unrecorded").exists()
        assert saved[0].read_text().count("\tCREATED\t") >= 1
        filler.unlink()
        _rerun_matches(local_server, tmp_path, journal, capsys)
        assert not saved[0].exists()


def test_journal_write_fails_with_enospc_injected(local_server: LocalServer, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The same, with ENOSPC raised by the journal's append after ten lines (no tmpfs)."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    journal = tmp_path / "journal.log"
    real_write = os.write
    full = {"on": True, "left": 10}

    def write(fd: int, data: bytes) -> int:
        if full["on"] and os.path.realpath(f"/proc/self/fd/{fd}") == str(journal):
            if full["left"] <= 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            full["left"] -= 1
        return real_write(fd, data)

    monkeypatch.setattr("glacierlib.journal.os.write", write)
    _run_out_of_space(local_server, tmp_path, journal, capsys)
    side = Path(str(journal) + ".unrecorded")  # the journal's directory is not full here
    assert side.exists()
    full["on"] = False
    _rerun_matches(local_server, tmp_path, journal, capsys)
    assert not side.exists()
