"""One ``--local DIR`` data directory, several processes (issue 11 items 3, 11 and 15).

Two processes serving one directory each kept their own picture of the vaults and overwrote
the other's (last writer wins), and the next start swept the other's bodies. The directory is
now held by one process at a time: a second user is refused at once, in one line, exit 1.
The lock dies with its holder, and a killed server loses no acknowledged archive.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config

from glacierlib.exceptions import DataDirectoryInUse
from glacierlib.localserver import LocalServer, ServerConfig, running_server
from glacierlib.treehash import TreeHasher

from .support import cli_command, cli_env, journal_ids, run_cli

VAULT = "v"
_SESSION = botocore.session.get_session()


def _client(endpoint: str, key: str, secret: str) -> Any:
    return _SESSION.create_client(
        "glacier", region_name="us-east-1", endpoint_url=endpoint, aws_access_key_id=key,
        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 0}))


def _server_client(server: LocalServer) -> Any:
    return _client(server.endpoint_url, server.access_key, server.secret_key)


def _start_local_server(data: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``mtglacier local-server --data-dir DATA`` as a process; its printed settings."""
    proc = subprocess.Popen(cli_command(["local-server", "--data-dir", str(data)]),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env())
    assert proc.stdout is not None
    shown: dict[str, str] = {}
    while len(shown) < 5:
        line = proc.stdout.readline()
        assert line, f"local-server ended early: {proc.stderr.read() if proc.stderr else ''}"
        name, _, value = line.strip().partition(" ")
        shown[name] = value
    return proc, shown


def _tree(root: Path, count: int, tag: str) -> dict[str, bytes]:
    files = {f"{tag}/f{i:03d}.txt": f"{tag} {i}\n".encode() * (i + 1) for i in range(count)}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


def test_a_second_command_on_a_busy_directory_is_refused_at_once(tmp_path: Path) -> None:
    """While one process serves DIR, ``sync --local DIR`` stops at once with one line and
    exit 1, and the first process's state is untouched."""
    data = tmp_path / "glacier"
    src = tmp_path / "src"
    _tree(src, 3, "b")
    with running_server(data) as server:
        client = _server_client(server)
        client.create_vault(vaultName=VAULT)
        kept = client.upload_archive(vaultName=VAULT, body=b"first user")["archiveId"]
        started = time.monotonic()
        result = run_cli(["sync", "--local", str(data), "--vault", VAULT, "--dir", str(src),
                          "--journal", str(tmp_path / "j")], timeout=60)
        elapsed = time.monotonic() - started
        assert result.returncode == 1, result.stderr
        errors = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(errors) == 1, result.stderr
        assert "in use by another process" in errors[0] and str(data) in errors[0]
        assert f"pid {os.getpid()}" in errors[0]
        assert "OK DONE" not in result.stdout
        assert elapsed < 30  # refused at once, not after a timeout (generous for a busy box)
        state = server.control.state()["vaults"][VAULT]
        assert [a["archive_id"] for a in state["archives"]] == [kept]
        assert not (tmp_path / "j").exists() or not (tmp_path / "j").read_text().strip()
    with running_server(data) as server:
        body = _server_client(server).initiate_job(
            vaultName=VAULT, jobParameters={"Type": "archive-retrieval", "ArchiveId": kept})
        assert body["jobId"]


def test_two_syncs_at_once_never_lose_each_others_archives(tmp_path: Path) -> None:
    """The scenario of the report: two syncs of different trees into one DIR at the same
    time. Whatever the interleaving, each run either finishes with its archives stored or is
    refused; a refused run changes nothing, and a rerun after it stores its tree."""
    data = tmp_path / "glacier"
    trees = {tag: _tree(tmp_path / f"src-{tag}", 40, tag) for tag in ("a", "b")}
    procs = {
        tag: subprocess.Popen(
            cli_command(["sync", "--local", str(data), "--vault", VAULT, "--dir",
                         str(tmp_path / f"src-{tag}"), "--journal", str(tmp_path / f"j-{tag}")]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
        for tag in trees
    }
    results = {tag: (p.wait(timeout=120), p.stderr.read() if p.stderr else "")
               for tag, p in procs.items()}
    for proc in procs.values():
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    for tag, (code, err) in results.items():
        if code != 0:
            assert code == 1 and "in use by another process" in err, err
            rerun = run_cli(["sync", "--local", str(data), "--vault", VAULT, "--dir",
                             str(tmp_path / f"src-{tag}"), "--journal",
                             str(tmp_path / f"j-{tag}")])
            assert rerun.returncode == 0, rerun.stderr
    # Every journaled archive of both runs is in the vault, and restores.
    with running_server(data) as server:
        state = server.control.state()["vaults"][VAULT]
        archives = {a["archive_id"] for a in state["archives"]}
    for tag, files in trees.items():
        out = tmp_path / f"restored-{tag}"
        for command in (["restore", "--max-number-of-files", "1000"], ["restore-completed"]):
            result = run_cli([*command, "--local", str(data), "--vault", VAULT, "--dir",
                              str(out), "--journal", str(tmp_path / f"j-{tag}")])
            assert result.returncode == 0, result.stderr
        restored = {p.relative_to(out).as_posix(): p.read_bytes()
                    for p in out.rglob("*") if p.is_file()}
        assert restored == files
        journaled = journal_ids(tmp_path / f"j-{tag}")
        assert len(journaled) == len(files) and journaled <= archives


def test_a_killed_server_keeps_every_acknowledged_archive_and_frees_the_directory(
    tmp_path: Path,
) -> None:
    """SIGKILL a ``local-server`` right after acknowledged uploads: a new process gets the
    directory at once (the lock died with its holder) and finds every archive."""
    data = tmp_path / "glacier"
    proc, shown = _start_local_server(data)
    try:
        client = _client(shown["endpoint-url"], shown["key"], shown["secret"])
        client.create_vault(vaultName=VAULT)
        bodies = {}
        for i in range(60):
            body = os.urandom(100 + i)
            bodies[client.upload_archive(vaultName=VAULT, body=body)["archiveId"]] = body
        upload = client.initiate_multipart_upload(vaultName=VAULT, partSize=str(1 << 20))
        part = os.urandom(1 << 20)
        client.upload_multipart_part(vaultName=VAULT, uploadId=upload["uploadId"],
                                     range=f"bytes 0-{len(part) - 1}/*", body=part)
        done = client.complete_multipart_upload(
            vaultName=VAULT, uploadId=upload["uploadId"], archiveSize=str(len(part)),
            checksum=TreeHasher(part).hexdigest())
        bodies[done["archiveId"]] = part
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    with running_server(data, config=ServerConfig()) as server:
        client = _server_client(server)
        archives = server.control.state()["vaults"][VAULT]["archives"]
        assert {a["archive_id"] for a in archives} == set(bodies)
        for archive_id in (done["archiveId"], next(iter(bodies))):
            job = client.initiate_job(vaultName=VAULT, jobParameters={
                "Type": "archive-retrieval", "ArchiveId": archive_id})["jobId"]
            out = client.get_job_output(vaultName=VAULT, jobId=job)["body"].read()
            assert out == bodies[archive_id]


def test_a_torn_last_change_is_dropped_and_later_writes_load(tmp_path: Path) -> None:
    """A process killed in the middle of appending leaves a torn line: it was never
    acknowledged, so it is dropped, and writes after it are not buried behind it."""
    data = tmp_path / "glacier"
    with running_server(data) as server:
        client = _server_client(server)
        client.create_vault(vaultName=VAULT)
        first = client.upload_archive(vaultName=VAULT, body=b"one")["archiveId"]
    log = data / "meta" / f"vault-{VAULT}.log"
    with open(log, "ab") as f:
        f.write(b'{"h":{"name":"v"},"p":[["archives","torn"')
    for body in (b"two", b"three"):
        with running_server(data) as server:
            _server_client(server).upload_archive(vaultName=VAULT, body=body)
    with running_server(data) as server:
        archives = server.control.state()["vaults"][VAULT]["archives"]
    assert len(archives) == 3 and first in {a["archive_id"] for a in archives}


def test_a_directory_written_by_the_old_format_loads_and_keeps_working(tmp_path: Path) -> None:
    """Data directories from before the change log (one whole JSON document per vault)
    still load: their archives restore, and new writes land next to them."""
    data = tmp_path / "glacier"
    for sub in ("meta", "blobs", "tmp"):
        (data / sub).mkdir(parents=True)
    body = b"written by the old server\n" * 10
    key = "0123456789abcdef0123456789abcdef"
    (data / "blobs" / key).write_bytes(body)
    (data / "blobs" / f"{key}.leaves").write_bytes(bytes.fromhex(TreeHasher(body).hexdigest()))
    archive_id = "A" * 138
    old_doc = {  # exactly what the old GlacierService._save wrote (Vault.to_dict then)
        "name": VAULT, "created": 1_700_000_000.0,
        "archives": [{"archive_id": archive_id, "description": "old", "created": 1_700_000_100.0,
                      "size": len(body), "tree_hash": TreeHasher(body).hexdigest(),
                      "segments": [[key, len(body)]]}],
        "retained": [], "uploads": [], "finished_uploads": {}, "jobs": [],
        "notifications": None, "tags": {"k": "v"}, "access_policy": None, "lock": None,
        "snapshot": None, "dirty": True, "next_inventory_at": 1_700_086_500.0,
    }
    (data / "meta" / f"vault-{VAULT}.json").write_text(json.dumps(old_doc))
    (data / "meta" / "account.json").write_text(json.dumps(
        {"retrieval_policy": {"Rules": [{"Strategy": "None"}]}, "capacity": [],
         "clock_offset": 0.0}))
    with running_server(data) as server:
        client = _server_client(server)
        assert client.list_tags_for_vault(vaultName=VAULT)["Tags"] == {"k": "v"}
        new = client.upload_archive(vaultName=VAULT, body=b"new")["archiveId"]
    with running_server(data) as server:
        client = _server_client(server)
        ids = {a["archive_id"] for a in server.control.state()["vaults"][VAULT]["archives"]}
        assert ids == {archive_id, new}
        job = client.initiate_job(vaultName=VAULT, jobParameters={
            "Type": "archive-retrieval", "ArchiveId": archive_id})["jobId"]
        out = client.get_job_output(vaultName=VAULT, jobId=job)
        assert out["body"].read() == body
        assert out["checksum"] == TreeHasher(body).hexdigest()


def test_compaction_keeps_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once the change log is as long as the vault it is folded into the document; a
    restart after several compactions sees the same state as the live server."""
    from glacierlib.localserver import service

    monkeypatch.setattr(service, "_MIN_LOG", 5)
    data = tmp_path / "glacier"
    with running_server(data) as server:
        client = _server_client(server)
        client.create_vault(vaultName=VAULT)
        ids = [client.upload_archive(vaultName=VAULT, body=bytes([i]) * 10)["archiveId"]
               for i in range(40)]
        for archive_id in ids[::3]:
            client.delete_archive(vaultName=VAULT, archiveId=archive_id)
        client.add_tags_to_vault(vaultName=VAULT, Tags={"t": "1"})
        live = server.control.state()["vaults"][VAULT]
    log_lines = (data / "meta" / f"vault-{VAULT}.log").read_text().splitlines()
    assert len(log_lines) < 40  # compacted at least once
    with running_server(data) as server:
        again = server.control.state()["vaults"][VAULT]
    assert again == live


def test_the_data_directory_is_private(tmp_path: Path) -> None:
    """Bodies and vault state are readable by their owner only: 0700 directories, 0600
    files, whatever the umask."""
    data = tmp_path / "glacier"
    old = os.umask(0o022)
    try:
        with running_server(data) as server:
            client = _server_client(server)
            client.create_vault(vaultName=VAULT)
            archive = client.upload_archive(vaultName=VAULT, body=b"secret data")["archiveId"]
            client.initiate_job(vaultName=VAULT, jobParameters={
                "Type": "archive-retrieval", "ArchiveId": archive})
            server.control.take_inventory(VAULT)
            client.initiate_job(vaultName=VAULT, jobParameters={"Type": "inventory-retrieval"})
    finally:
        os.umask(old)
    paths = [data, *data.rglob("*")]
    assert len([p for p in paths if p.is_file()]) >= 4
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_the_exception_is_typed(tmp_path: Path) -> None:
    with running_server(tmp_path / "d"), pytest.raises(DataDirectoryInUse, match="in use"):
        running_server(tmp_path / "d").__enter__()


def test_local_takes_an_inventory_of_a_vault_written_by_local_server(tmp_path: Path) -> None:
    """``local-server`` schedules the next snapshot a simulated day after a write; a later
    ``--local`` run (where inventories follow every write) must not wait for it."""
    data = tmp_path / "glacier"
    with running_server(data, config=ServerConfig()) as server:  # the daily interval
        client = _server_client(server)
        client.create_vault(vaultName=VAULT)
        archive = client.upload_archive(vaultName=VAULT, body=b"x" * 100)["archiveId"]
    retrieve = run_cli(["retrieve-inventory", "--local", str(data), "--vault", VAULT])
    assert retrieve.returncode == 0, retrieve.stderr
    journal = tmp_path / "journal"
    download = run_cli(["download-inventory", "--local", str(data), "--vault", VAULT,
                        "--new-journal", str(journal)])
    assert download.returncode == 0, download.stderr
    assert journal_ids(journal) == {archive}


def test_download_inventory_says_the_only_inventory_job_failed(tmp_path: Path) -> None:
    """A failed job will never become ready: exit 1 naming the failure, not 75 "wait"."""
    data = tmp_path / "glacier"
    with running_server(data) as server:
        _server_client(server).create_vault(vaultName=VAULT)  # never written: no inventory
    retrieve = run_cli(["retrieve-inventory", "--local", str(data), "--vault", VAULT])
    assert retrieve.returncode == 0, retrieve.stderr
    download = run_cli(["download-inventory", "--local", str(data), "--vault", VAULT,
                        "--new-journal", str(tmp_path / "journal")])
    assert download.returncode == 1, (download.returncode, download.stderr)
    assert "inventory job failed" in download.stderr
    assert "No inventory is available" in download.stderr
    assert "later" not in download.stderr


def test_every_kind_of_change_survives_a_restart(tmp_path: Path) -> None:
    """Each write reaches the change log: a restart sees exactly the live state (parts of an
    upload in progress, finished and failed jobs, retained and deleted archives, tags,
    policies, notifications, the snapshot)."""
    data = tmp_path / "glacier"
    config = ServerConfig(standard_delay=60)
    with running_server(data, config=config) as server:
        client = _server_client(server)
        client.create_vault(vaultName=VAULT)
        ids = [client.upload_archive(vaultName=VAULT, body=bytes([i]) * 50)["archiveId"]
               for i in range(4)]
        upload = client.initiate_multipart_upload(vaultName=VAULT, partSize=str(1 << 20))
        client.upload_multipart_part(vaultName=VAULT, uploadId=upload["uploadId"],
                                     range=f"bytes 0-{(1 << 20) - 1}/*", body=b"p" * (1 << 20))
        jobs = [client.initiate_job(vaultName=VAULT, jobParameters={
            "Type": "archive-retrieval", "ArchiveId": a})["jobId"] for a in ids[:3]]
        server.control.advance_clock(61)
        client.delete_archive(vaultName=VAULT, archiveId=ids[0])  # retained: a job serves it
        client.initiate_job(vaultName=VAULT, jobParameters={
            "Type": "archive-retrieval", "ArchiveId": ids[3]})
        client.delete_archive(vaultName=VAULT, archiveId=ids[3])  # fails the pending job
        server.control.fail_job(VAULT, jobs[2])
        client.add_tags_to_vault(vaultName=VAULT, Tags={"t": "1"})
        client.set_vault_notifications(vaultName=VAULT, vaultNotificationConfig={
            "SNSTopic": "arn:aws:sns:us-east-1:123456789012:t",
            "Events": ["ArchiveRetrievalCompleted"]})
        client.describe_vault(vaultName=VAULT)  # builds the due snapshot
        live = server.control.state()["vaults"]
    with running_server(data, config=config) as server:
        assert server.control.state()["vaults"] == live


def test_a_killed_local_sync_leaves_no_server_behind(tmp_path: Path) -> None:
    """A bulk ``--local`` run serves from a child process; SIGKILL the command and the
    child stops too (its pipe ends), freeing the directory, with the acknowledged archives
    loadable."""
    data = tmp_path / "glacier"
    src = tmp_path / "src"
    _tree(src, 400, "k")
    proc = subprocess.Popen(
        cli_command(["sync", "--local", str(data), "--vault", VAULT, "--dir", str(src),
                     "--journal", str(tmp_path / "j"), "--concurrency", "4"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=cli_env())
    journal = tmp_path / "j"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (
            not journal.exists() or journal.read_text().count("\n") < 20):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    if proc.stderr is not None:
        proc.stderr.close()
    deadline = time.monotonic() + 30
    while True:
        try:
            with running_server(data) as server:
                archives = server.control.state()["vaults"][VAULT]["archives"]
            break
        except DataDirectoryInUse:
            assert time.monotonic() < deadline, "the child server outlived its parent"
            time.sleep(0.1)
    assert journal_ids(journal) <= {a["archive_id"] for a in archives}
