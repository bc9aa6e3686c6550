"""Interrupted multipart uploads are resumed by the next sync (issue 7, resume section).

The first run is interrupted by a fault injected (through the local server's control API)
right after the first part of the big file went through: the part after it fails with a
non-retryable error, so the file fails and its upload stays on the server, recorded in
``<journal>.uploads``. The rerun, through the CLI, resumes it.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path

import pytest

from glacierlib.config import Settings
from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer
from glacierlib.operations.sync import sync
from glacierlib.progress import BytesMoved, ProgressEvent
from glacierlib.treehash import tree_hash_bytes
from glacierlib.upload import resume_path
from glacierlib_cli.main import main

VAULT = "resume"
MIB = 1 << 20


def connection(server: LocalServer) -> list[str]:
    return ["--endpoint-url", server.endpoint_url, "--key", server.access_key,
            "--secret", server.secret_key, "--region", server.region, "--protocol", "http"]


def settings(server: LocalServer, root: Path, journal: Path) -> Settings:
    return Settings(endpoint_url=server.endpoint_url, region=server.region,
                    access_key=server.access_key, secret_key=server.secret_key,
                    protocol="http", vault=VAULT, journal=journal, dir=root,
                    part_size=MIB, concurrency=1)


def interrupted_first_run(server: LocalServer, tmp_path: Path) -> tuple[Path, Path, bytes]:
    root = tmp_path / "data"
    root.mkdir()
    data = os.urandom(4 * MIB + 100)  # 5 parts of 1 MiB
    (root / "big.bin").write_bytes(data)
    (root / "small.txt").write_bytes(b"small")
    journal = tmp_path / "j.log"
    assert main(["create-vault", VAULT, *connection(server)]) == 0
    injected = []

    def on_event(event: ProgressEvent) -> None:
        if isinstance(event, BytesMoved) and event.path == "big.bin" and not injected:
            injected.append(True)
            server.control.inject_fault("UploadMultipartPart", "error", status=400,
                                        code="InvalidParameterValueException")

    report = sync(settings(server, root, journal), on_event)
    assert [f.display for f in report.result.failed] == ["big.bin"]
    assert {e.name for e in read_journal(journal).archives.values()} == {"small.txt"}
    uploads = server.control.state()["vaults"][VAULT]["uploads"]
    assert len(uploads) == 1
    assert resume_path(journal).exists()
    return root, journal, data


def assert_consistent(server: LocalServer, journal: Path) -> None:
    vault = server.control.state()["vaults"][VAULT]
    ids = collections.Counter(a["archive_id"] for a in vault["archives"])
    assert set(ids) == set(read_journal(journal).archives)
    assert max(ids.values()) == 1
    assert vault["uploads"] == []


def test_rerun_resumes_and_sends_only_missing_parts(
    local_server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, journal, data = interrupted_first_run(local_server, tmp_path)
    local_server.control.reset_stats()
    code = main(["sync", "--dir", str(root), "--vault", VAULT, "--journal", str(journal),
                 "--partsize", "1", "--concurrency", "2", *connection(local_server)])
    assert code == 0, capsys.readouterr()
    requests = local_server.control.stats()["requests"]
    assert requests.get("InitiateMultipartUpload", 0) == 0
    assert requests["ListParts"] == 1
    assert requests["UploadMultipartPart"] == 4  # part 0 was kept, 4 of 5 sent
    entry = read_journal(journal).latest("big.bin")
    assert entry is not None and entry.tree_hash == tree_hash_bytes(data)
    assert not resume_path(journal).exists()
    assert_consistent(local_server, journal)


def test_changed_file_restarts_its_upload(local_server: LocalServer, tmp_path: Path) -> None:
    root, journal, _ = interrupted_first_run(local_server, tmp_path)
    new = os.urandom(3 * MIB)
    (root / "big.bin").write_bytes(new)
    local_server.control.reset_stats()
    report = sync(settings(local_server, root, journal))
    assert report.ok
    requests = local_server.control.stats()["requests"]
    assert requests["AbortMultipartUpload"] == 1
    assert requests["InitiateMultipartUpload"] == 1
    assert requests["UploadMultipartPart"] == 3
    entry = read_journal(journal).latest("big.bin")
    assert entry is not None and entry.tree_hash == tree_hash_bytes(new)
    assert_consistent(local_server, journal)


def test_upload_of_a_removed_file_is_aborted(local_server: LocalServer, tmp_path: Path) -> None:
    root, journal, _ = interrupted_first_run(local_server, tmp_path)
    (root / "big.bin").unlink()
    report = sync(settings(local_server, root, journal))
    assert report.ok
    assert local_server.control.stats()["requests"]["AbortMultipartUpload"] == 1
    assert not resume_path(journal).exists()
    assert_consistent(local_server, journal)
