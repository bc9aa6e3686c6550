"""``mtglacier upload-file``: a file by --dir or --set-rel-filename, and standard input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer
from glacierlib.metadata import decode_description
from glacierlib.treehash import tree_hash_bytes
from glacierlib_cli.main import main

VAULT = "uploads"
MIB = 1 << 20


def connection(server: LocalServer) -> list[str]:
    return ["--endpoint-url", server.endpoint_url, "--key", server.access_key,
            "--secret", server.secret_key, "--region", server.region, "--protocol", "http"]


@pytest.fixture
def server(local_server: LocalServer) -> LocalServer:
    assert main(["create-vault", VAULT, *connection(local_server)]) == 0
    return local_server


def vault_by_id(server: LocalServer) -> dict[str, dict[str, object]]:
    return {a["archive_id"]: a for a in server.control.state()["vaults"][VAULT]["archives"]}


def assert_vault_matches_journal(server: LocalServer, journal: Path) -> None:
    live = read_journal(journal).archives
    archives = vault_by_id(server)
    assert set(archives) == set(live)
    for aid, archive in archives.items():
        assert decode_description(str(archive["description"])).name == live[aid].name
        assert archive["tree_hash"] == live[aid].tree_hash.hex


def test_upload_file_with_dir(server: LocalServer, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "d" / "sub").mkdir(parents=True)
    target = tmp_path / "d" / "sub" / "report 2024.pdf"
    target.write_bytes(b"%PDF" * 1000)
    os.utime(target, (1_650_000_000, 1_650_000_000))
    journal = tmp_path / "j.log"
    code = main(["upload-file", "--vault", VAULT, "--journal", str(journal), "--filename",
                 str(target), "--dir", str(tmp_path / "d"), *connection(server)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[-1] == "OK DONE"
    entry = read_journal(journal).latest("sub/report 2024.pdf")
    assert entry is not None
    assert entry.mtime == 1_650_000_000
    assert entry.tree_hash == tree_hash_bytes(b"%PDF" * 1000)
    assert_vault_matches_journal(server, journal)

    # The same name again is refused, and nothing is sent.
    server.control.reset_stats()
    code = main(["upload-file", "--vault", VAULT, "--journal", str(journal), "--filename",
                 str(target), "--set-rel-filename", "sub/report 2024.pdf", *connection(server)])
    err = capsys.readouterr().err
    assert code == 1
    assert "already in the journal" in err
    assert server.control.stats()["requests"] == {}


def test_upload_file_outside_dir_is_refused(server: LocalServer, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "d").mkdir()
    outside = tmp_path / "elsewhere.txt"
    outside.write_bytes(b"x")
    code = main(["upload-file", "--vault", VAULT, "--journal", str(tmp_path / "j"),
                 "--filename", str(outside), "--dir", str(tmp_path / "d"), *connection(server)])
    assert code == 2
    assert "is not inside" in capsys.readouterr().err


def test_upload_multipart_file_with_set_rel_filename(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = os.urandom(2 * MIB + 777)
    source = tmp_path / "blob"
    source.write_bytes(data)
    journal = tmp_path / "j.log"
    code = main(["upload-file", "--vault", VAULT, "--journal", str(journal), "--filename",
                 str(source), "--set-rel-filename", "backups/blob.bin", "--partsize", "1",
                 *connection(server)])
    assert code == 0, capsys.readouterr()
    entry = read_journal(journal).latest("backups/blob.bin")
    assert entry is not None and entry.size == len(data)
    assert entry.tree_hash == tree_hash_bytes(data)
    assert server.control.stats()["requests"]["UploadMultipartPart"] == 3
    assert_vault_matches_journal(server, journal)


@pytest.mark.parametrize("size", [1000, 2 * MIB + 12345])
def test_upload_from_stdin(server: LocalServer, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    journal = tmp_path / "j.log"
    proc = subprocess.run(
        [sys.executable, "-m", "glacierlib_cli", "upload-file", "--stdin",
         "--set-rel-filename", "dump/db.tar", "--vault", VAULT, "--journal", str(journal),
         "--partsize", "1", "--concurrency", "2", *connection(server)],
        input=data, capture_output=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().splitlines()[-1] == "OK DONE"
    entry = read_journal(journal).latest("dump/db.tar")
    assert entry is not None
    assert entry.size == size
    assert entry.tree_hash == tree_hash_bytes(data)
    requests = server.control.stats()["requests"]
    if size > MIB:
        assert requests["UploadMultipartPart"] == 3
    else:
        assert requests["UploadArchive"] == 1
    assert_vault_matches_journal(server, journal)


def test_empty_stdin_is_refused(server: LocalServer, tmp_path: Path) -> None:
    journal = tmp_path / "j.log"
    proc = subprocess.run(
        [sys.executable, "-m", "glacierlib_cli", "upload-file", "--stdin",
         "--set-rel-filename", "nothing", "--vault", VAULT, "--journal", str(journal),
         *connection(server)],
        input=b"", capture_output=True, timeout=60, check=False,
    )
    assert proc.returncode == 1
    assert b"empty" in proc.stderr
    assert vault_by_id(server) == {}
    assert read_journal(journal).archives == {}


def test_multipart_only_uploads_a_small_file_in_three_idempotent_requests(
    server: LocalServer, tmp_path: Path
) -> None:
    """``--multipart-only``: Initiate, one part, Complete, never UploadArchive (whose retry
    after a lost reply could store a second copy)."""
    target = tmp_path / "small.txt"
    target.write_bytes(b"tiny" * 10)
    journal = tmp_path / "j.log"
    server.control.reset_stats()
    assert main(["upload-file", "--vault", VAULT, "--journal", str(journal), "--filename",
                 str(target), "--dir", str(tmp_path), "--multipart-only",
                 *connection(server)]) == 0
    requests = server.control.stats()["requests"]
    assert requests.get("UploadArchive", 0) == 0
    assert (requests["InitiateMultipartUpload"], requests["UploadMultipartPart"],
            requests["CompleteMultipartUpload"]) == (1, 1, 1)
    assert_vault_matches_journal(server, journal)
    entry = read_journal(journal).latest("small.txt")
    assert entry is not None and entry.tree_hash == tree_hash_bytes(b"tiny" * 10)


def _stdin_victim(server: LocalServer, journal: Path) -> subprocess.Popen[bytes]:
    """``upload-file --stdin`` with 1 MiB parts, fed 2.5 MiB and then nothing (stdin open)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "glacierlib_cli", "upload-file", "--stdin", "--set-rel-filename",
         "stream.bin", "--partsize", "1", "--vault", VAULT, "--journal", str(journal),
         *connection(server)],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(os.urandom(5 * MIB // 2))
    proc.stdin.flush()
    deadline = time.monotonic() + 60
    while not any(u["parts"] for u in server.control.state()["vaults"][VAULT]["uploads"]):
        assert proc.poll() is None and time.monotonic() < deadline, "no part was sent"
        time.sleep(0.02)
    return proc


@pytest.mark.parametrize("next_command", ["upload-file", "sync"])
def test_a_killed_stdin_upload_is_recorded_and_aborted_by_the_next_run(
    server: LocalServer, tmp_path: Path, next_command: str,
) -> None:
    """SIGKILL mid-stream leaves a multipart upload on the service: ``<journal>.uploads``
    records it, and the next upload-file or sync on that journal aborts it."""
    journal = tmp_path / "j.log"
    proc = _stdin_victim(server, journal)
    proc.kill()
    proc.wait(timeout=30)
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.close()
    proc.stderr.close()
    stale = server.control.state()["vaults"][VAULT]["uploads"]
    assert len(stale) == 1
    recorded = [json.loads(line) for line in
                Path(str(journal) + ".uploads").read_text().splitlines()]
    assert [(r["upload_id"], r["stream"]) for r in recorded] == [(stale[0]["upload_id"], True)]

    other = tmp_path / "d" / "other.txt"
    other.parent.mkdir()
    other.write_bytes(b"another file")
    if next_command == "upload-file":
        args = ["upload-file", "--filename", str(other), "--dir", str(other.parent)]
    else:
        args = ["sync", "--dir", str(other.parent), "--max-number-of-files", "5"]
    assert main([*args, "--vault", VAULT, "--journal", str(journal), *connection(server)]) == 0
    assert server.control.state()["vaults"][VAULT]["uploads"] == []
    assert not Path(str(journal) + ".uploads").exists()
    assert_vault_matches_journal(server, journal)


def test_sigterm_mid_stdin_aborts_the_upload_at_once(server: LocalServer,
                                                      tmp_path: Path) -> None:
    """A stopped stream can never be resumed: SIGTERM aborts its upload before exiting 143,
    with one line saying why, and nothing is journaled."""
    journal = tmp_path / "j.log"
    proc = _stdin_victim(server, journal)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.stdin is not None and proc.stderr is not None
    proc.stdin.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.returncode == 143, err
    assert "ERROR: stopped by SIGTERM" in err and "Traceback" not in err
    assert server.control.state()["vaults"][VAULT]["uploads"] == []
    assert not Path(str(journal) + ".uploads").exists()
    assert read_journal(journal).archives == {}


def test_a_failed_upload_is_one_error_line(server: LocalServer, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 11: upload-file printed the same ERROR line twice (progress, then the exit)."""
    target = tmp_path / "f.txt"
    target.write_bytes(b"data" * 10)
    server.control.inject_fault("UploadArchive", "error", 1, status=400,
                                code="InvalidParameterValueException")
    capsys.readouterr()
    code = main(["upload-file", "--vault", VAULT, "--journal", str(tmp_path / "j.log"),
                 "--filename", str(target), "--dir", str(tmp_path), *connection(server)])
    out, err = capsys.readouterr()
    assert code == 1
    errors = [line for line in (out + err).splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "f.txt" in errors[0], out + err
