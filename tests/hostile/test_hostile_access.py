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

import contextlib
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from hostile_support import Result, assert_no_traceback, assert_one_error
from test_hostile_walk import FILES, Tree, tree  # noqa: F401 - the fixture

from glacierlib.config import Settings
from glacierlib.journal import INDEX_MIN_RECORDS, read_journal
from glacierlib.localserver.config import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY
from glacierlib.operations._store import store_for
from glacierlib.upload import PendingUpload, ResumeState, resume_path
from glacierlib_cli.main import main


@pytest.fixture
def backed_up(request: pytest.FixtureRequest) -> Iterator[Tree]:
    """The hostile-walk suite's tree, backed up; modes this suite takes away are restored."""
    t: Tree = request.getfixturevalue("tree")
    yield t
    for path in (t.base, t.base / "glacier", t.base / "jd"):
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


def _listening_ports_of_this_process() -> list[int]:
    """Loopback TCP ports this process listens on (its sockets, matched in /proc/net/tcp)."""
    mine = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                mine.add(target[8:-1])
    ports = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[3] == "0A" and fields[9] in mine:  # LISTEN
            ports.append(int(fields[1].split(":")[1], 16))
    return ports


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_local_run_server_refuses_the_public_default_key(tmp_path: Path) -> None:
    """Another local user who finds a ``--local`` run's port cannot sign requests to it."""
    settings = Settings(local_dir=tmp_path / "glacier", vault="v", journal=tmp_path / "j")
    before = set(_listening_ports_of_this_process())
    with store_for(settings) as store:
        store.create_vault("v")
        (port,) = set(_listening_ports_of_this_process()) - before
        intruder = botocore.session.get_session().create_client(
            "glacier", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}",
            aws_access_key_id=DEFAULT_ACCESS_KEY, aws_secret_access_key=DEFAULT_SECRET_KEY,
            config=Config(retries={"max_attempts": 0}))
        with pytest.raises(ClientError):
            intruder.delete_vault(vaultName="v")
        assert [v.name for v in store.list_vaults()] == ["v"]


def _children_cmdlines() -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == os.getpid():
                found.append(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"))
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_local_server_child_keeps_its_secret_off_the_command_line(tmp_path: Path) -> None:
    settings = Settings(local_dir=tmp_path / "glacier", vault="v", journal=tmp_path / "j")
    with store_for(settings, upload_processes=2) as store:
        store.create_vault("v")
        cmdlines = _children_cmdlines()
        assert any("glacierlib" in c for c in cmdlines), cmdlines
        assert not any("key_pairs" in c for c in cmdlines), cmdlines


def test_local_data_directory_inside_dir_is_not_backed_up(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--local src/glacier --dir src``: the server's own copies never become archives.

    They used to: every run stored the previous run's blobs and change log again, so the
    vault grew with each sync of an unchanged tree.
    """
    src = tmp_path / "src"
    src.mkdir()
    files = {f"f{i}": os.urandom(1000 + i) for i in range(3)}
    for name, data in files.items():
        (src / name).write_bytes(data)
    args = ["sync", "--local", str(src / "glacier"), "--dir", str(src), "--vault", "v",
            "--journal", str(tmp_path / "journal")]
    for _ in range(2):
        assert main([*args, "--new", "--replace-modified", "--delete-removed"]) == 0, (
            capsys.readouterr())
    assert sorted(read_journal(tmp_path / "journal").latest_by_name()) == sorted(files)


def test_upload_file_stdin_closed_is_one_line(tmp_path: Path) -> None:
    """``mtglacier upload-file --stdin ... <&-`` (a cron line gone wrong): one clear line."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run(
        [sys.executable, "-m", "glacierlib_cli", "upload-file", "--stdin", "--set-rel-filename",
         "s", "--local", str(tmp_path / "glacier"), "--vault", "v", "--journal",
         str(tmp_path / "journal")],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60, env=env, check=False,
        encoding="utf-8", errors="surrogateescape",
        preexec_fn=lambda: os.close(0))  # the closed descriptor is the test
    result = Result(proc.returncode, proc.stdout, proc.stderr)
    assert_one_error(result, 2, "--stdin", "standard input is closed")


@pytest.mark.parametrize("where", ["closed", "/dev/full"])
def test_sync_with_unwritable_standard_output(tmp_path: Path, where: str) -> None:
    """``sync ... >&-`` or ``>/dev/full``: the files are still backed up and journaled; a
    closed standard output drops the report (as ``print`` does), a full one is one clear line.
    It used to end in "unexpected AttributeError" or "unexpected OSError"."""
    if where != "closed" and not os.path.exists(where):
        pytest.skip(f"no {where} here")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_bytes(b"data")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    with open(os.devnull if where == "closed" else where, "w") as out:
        proc = subprocess.run(
            [sys.executable, "-m", "glacierlib_cli", "sync", "--local", str(tmp_path / "g"),
             "--dir", str(src), "--vault", "v", "--journal", str(tmp_path / "journal")],
            stdout=out, stderr=subprocess.PIPE, timeout=60, env=env, check=False,
            encoding="utf-8", errors="surrogateescape",
            preexec_fn=(lambda: os.close(1)) if where == "closed" else None)
    result = Result(proc.returncode, "", proc.stderr)
    if where == "closed":
        assert_no_traceback(result)
        assert proc.returncode == 0, result.text()
    else:
        assert_one_error(result, 1, "standard output", "No space left on device")
    assert list(read_journal(tmp_path / "journal").latest_by_name()) == ["a"]


def test_local_directory_and_its_missing_parents_are_created_private(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--local a/b/c``: every directory the run creates is 0700 (``mkdir -p`` made the
    parents 0755); a directory the user made keeps its own mode."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_bytes(b"x")
    tmp_path.chmod(0o755)
    local = tmp_path / "a" / "b" / "glacier"
    assert main(["sync", "--dir", str(tmp_path / "d"), "--vault", "v", "--journal",
                 str(tmp_path / "j"), "--local", str(local)]) == 0, capsys.readouterr()
    for path in (local, local.parent, local.parent.parent):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


@pytest.mark.parametrize(("option", "command"), [
    ("--local", ["create-vault", "v"]),
    ("--data-dir", ["local-server"]),
])
def test_a_file_as_local_directory_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str,
        command: list[str]) -> None:
    target = tmp_path / "not-a-dir"
    target.write_bytes(b"mine")
    code = main([*command, option, str(target)])
    result = Result(code, *capsys.readouterr())
    assert_one_error(result, 2, f"{target}: not a directory (check {option})")
    assert target.read_bytes() == b"mine"
