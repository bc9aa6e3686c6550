"""Hostile server responses, scripted with the local server's reply faults.

Missing headers, wrong tree-hash headers, bodies of the wrong length or cut short, invalid
JSON: the CLI exits non-zero with one ERROR line naming what failed, never records what it
could not verify (the journal is byte-identical, or holds only the files that did succeed),
and a rerun without the fault completes.
"""

from __future__ import annotations

import os

import pytest
from hostile_support import (
    VAULT,
    Result,
    Snapshot,
    Workspace,
    assert_no_traceback,
    assert_one_error,
    connection,
    raw_client,
    run,
)

from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer

MIB = 1 << 20
#: Enough to outlast every retry layer: the fault must be what the user sees.
MANY = 50


@pytest.fixture
def server(local_server: LocalServer, capsys: pytest.CaptureFixture[str]) -> LocalServer:
    assert run(capsys, "create-vault", VAULT, *connection(local_server)).code == 0
    return local_server


def _sync(capsys: pytest.CaptureFixture[str], ws: Workspace, server: LocalServer,
          *extra: object) -> Result:
    return run(capsys, "sync", "--dir", ws.root, "--vault", VAULT, "--journal", ws.journal,
               "--partsize", "1", "--concurrency", "2", *extra, *connection(server))


def _vault_ids(server: LocalServer) -> set[str]:
    return {a["archive_id"] for a in server.control.state()["vaults"][VAULT]["archives"]}


# ------------------------------------------------------------------------------- listings

_LISTINGS = {
    "ListVaults": ["list-vaults"],
    "ListJobs": ["list-jobs", "--vault", VAULT],
}


@pytest.mark.parametrize("operation", sorted(_LISTINGS))
@pytest.mark.parametrize("payload", [b"{not json", b"", b"[1, 2"])
def test_listing_with_invalid_json_fails(
    server: LocalServer, capsys: pytest.CaptureFixture[str], operation: str, payload: bytes,
) -> None:
    server.control.inject_fault(operation, "body", MANY, payload=payload)
    result = run(capsys, *_LISTINGS[operation], *connection(server))
    assert_one_error(result, 1, operation)


@pytest.mark.parametrize("operation", sorted(_LISTINGS))
def test_listing_with_wrong_types_fails_cleanly(
    server: LocalServer, capsys: pytest.CaptureFixture[str], operation: str,
) -> None:
    key = "VaultList" if operation == "ListVaults" else "JobList"
    server.control.inject_fault(operation, "body", MANY, payload=b'{"%s": 5}' % key.encode())
    result = run(capsys, *_LISTINGS[operation], *connection(server))
    assert_one_error(result, 1, operation)


def test_reply_faults_are_consumed(server: LocalServer,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The guard of the tests above: a scripted fault is seen once, then the vault lists."""
    server.control.inject_fault("ListVaults", "body", 1, payload=b'{"VaultList": []}')
    first = run(capsys, "list-vaults", *connection(server))
    second = run(capsys, "list-vaults", *connection(server))
    assert first.code == second.code == 0
    assert VAULT not in first.out and VAULT in second.out
    assert server.control.state()["faults"] == {}


# ------------------------------------------------------------------------------- uploads


@pytest.mark.parametrize(("operation", "big"), [("UploadArchive", False),
                                                ("CompleteMultipartUpload", True)])
@pytest.mark.parametrize(("kind", "header", "value", "needle"), [
    ("drop_header", "x-amz-archive-id", "", "archive id"),
    ("header", "x-amz-sha256-tree-hash", "0" * 64, "tree hash"),
    ("header", "x-amz-archive-id", "", "archive id"),
])
def test_upload_reply_without_valid_headers(
    ws: Workspace, server: LocalServer, capsys: pytest.CaptureFixture[str],
    operation: str, big: bool, kind: str, header: str, value: str, needle: str,
) -> None:
    assert _sync(capsys, ws, server).code == 0
    journal = ws.journal.read_bytes()
    name = "new-big.bin" if big else "new-small.txt"
    (ws.root / name).write_bytes(os.urandom(3 * MIB if big else 1000))
    server.control.inject_fault(operation, kind, MANY, header=header, value=value)

    result = _sync(capsys, ws, server)

    line = assert_one_error(result, 1, name, needle)
    assert operation in line or "tree hash" in line
    assert ws.journal.read_bytes() == journal, "a failed upload must not be journaled"
    server.control.clear_faults()
    rerun = _sync(capsys, ws, server)
    assert rerun.code == 0, rerun.text()
    assert name in {e.name for e in read_journal(ws.journal).archives.values()}
    # The archive stored before the bad reply is an orphan the journal does not know:
    # allowed, and visible to check-remote; the journal's archives are all in the vault.
    assert set(read_journal(ws.journal).archives) <= _vault_ids(server)


@pytest.mark.slow  # retries with backoff until the budget (--retry-timeout 1) is spent
@pytest.mark.parametrize("operation", ["UploadMultipartPart"])
def test_upload_reply_cut_short(
    ws: Workspace, server: LocalServer, capsys: pytest.CaptureFixture[str], operation: str,
) -> None:
    (ws.root / "big.bin").write_bytes(os.urandom(2 * MIB))
    server.control.inject_fault(operation, "truncate", MANY)
    result = _sync(capsys, ws, server, "--retry-timeout", "1")
    assert_no_traceback(result)
    assert result.code == 1, result.text()
    assert 1 <= len(result.errors) <= 3, result.text()  # one line per failed file
    journal = ws.journal.read_bytes() if ws.journal.exists() else b""
    read_journal(ws.journal, strict=True)
    assert journal.count(b"\n") == 3 - len(result.errors)


# ------------------------------------------------------------------------------- jobs


@pytest.fixture
def synced(ws: Workspace, server: LocalServer, capsys: pytest.CaptureFixture[str]) -> bytes:
    assert _sync(capsys, ws, server).code == 0
    return ws.journal.read_bytes()


def test_initiate_job_without_job_id(
    ws: Workspace, server: LocalServer, synced: bytes, capsys: pytest.CaptureFixture[str],
) -> None:
    (ws.root / "a.txt").unlink()
    server.control.inject_fault("InitiateJob", "drop_header", MANY, header="x-amz-job-id")
    result = run(capsys, "restore", "--dir", ws.root, "--vault", VAULT, "--journal",
                 ws.journal, "--max-number-of-files", "1", *connection(server))
    assert_one_error(result, 1, "a.txt")
    assert ws.journal.read_bytes() == synced, "no RETRIEVE_JOB without a job id"


@pytest.mark.parametrize(("kind", "payload", "header", "value", "needle"), [
    ("corrupt", b"", "", "", "tree hash"),
    ("header", b"", "x-amz-sha256-tree-hash", "1" * 64, "tree hash"),
    ("body", b"short", "", "", "5 bytes"),
    ("body", b"", "", "", "0 bytes"),
])
def test_restore_completed_with_bad_job_output(
    ws: Workspace, server: LocalServer, synced: bytes, capsys: pytest.CaptureFixture[str],
    kind: str, payload: bytes, header: str, value: str, needle: str,
) -> None:
    wanted = (ws.root / "sub" / "b.bin").read_bytes()
    (ws.root / "sub" / "b.bin").unlink()
    restore = run(capsys, "restore", "--dir", ws.root, "--vault", VAULT, "--journal",
                  ws.journal, "--max-number-of-files", "5", *connection(server))
    assert restore.code == 0, restore.text()
    journal = ws.journal.read_bytes()
    outside = Snapshot(ws.base, ignore=[ws.root])
    server.control.inject_fault("GetJobOutput", kind, MANY, payload=payload, header=header,
                                value=value)

    result = run(capsys, "restore-completed", "--dir", ws.root, "--vault", VAULT, "--journal",
                 ws.journal, *connection(server))

    assert_one_error(result, 1, "sub/b.bin", needle)
    assert not (ws.root / "sub" / "b.bin").exists(), "unverified data under the real name"
    assert ws.journal.read_bytes() == journal
    assert outside.changes() == {}
    server.control.clear_faults()
    rerun = run(capsys, "restore-completed", "--dir", ws.root, "--vault", VAULT, "--journal",
                ws.journal, *connection(server))
    assert rerun.code == 0, rerun.text()
    assert (ws.root / "sub" / "b.bin").read_bytes() == wanted
    assert not [p for p in ws.root.rglob("*") if "partial" in p.name]


# ------------------------------------------------------------------------------- inventory


@pytest.mark.parametrize(("fmt", "kind", "payload", "header", "value", "needle"), [
    ("json", "body", b'{"ArchiveList": [', "", "", "inventory JSON"),
    ("json", "body", b"{not json", "", "", "inventory JSON"),
    ("json", "body", b'{"ArchiveList": [{"ArchiveId": 5}]}', "", "", "ArchiveId"),
    ("json", "body", b"", "", "", "inventory"),
    ("json", "corrupt", b"", "", "", "inventory"),
    ("json", "truncate", b"", "", "", "job output"),
    ("json", "header", b"", "Content-Type", "text/csv", "CSV"),
    ("csv", "body", b"ArchiveId,Size\n1,2\n", "", "", "CSV line 1"),
    ("csv", "body", b"ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n"
                    b"x,d,2020-01-01T00:00:00Z,-1,zz\n", "", "", "CSV line 2"),
    ("csv", "corrupt", b"", "", "", "inventory"),
])
def test_download_inventory_with_bad_output(
    ws: Workspace, server: LocalServer, synced: bytes, capsys: pytest.CaptureFixture[str],
    fmt: str, kind: str, payload: bytes, header: str, value: str, needle: str,
) -> None:
    server.control.take_inventory(VAULT)
    assert run(capsys, "retrieve-inventory", "--vault", VAULT, "--request-inventory-format",
               fmt, *connection(server)).code == 0
    new_journal = ws.base / "rebuilt" / "journal.log"
    snapshot = Snapshot(ws.base)
    server.control.inject_fault("GetJobOutput", kind, MANY, payload=payload, header=header,
                                value=value)

    result = run(capsys, "download-inventory", "--vault", VAULT, "--new-journal", new_journal,
                 "--retry-timeout", "1", *connection(server))

    assert_one_error(result, 1, needle)
    assert not new_journal.exists(), "a journal from a broken inventory"
    assert {k: v for k, v in snapshot.changes().items() if k != "rebuilt"} == {}
    server.control.clear_faults()
    again = run(capsys, "download-inventory", "--vault", VAULT, "--new-journal", new_journal,
                *connection(server))
    assert again.code == 0, again.text()
    assert set(read_journal(new_journal).archives) == set(read_journal(ws.journal).archives)


def test_faults_script_is_validated(server: LocalServer) -> None:
    from glacierlib.exceptions import InvalidRequest

    with pytest.raises(InvalidRequest, match="header"):
        server.control.inject_fault("ListVaults", "drop_header")
    with pytest.raises(InvalidRequest, match="CR, LF"):
        server.control.inject_fault("ListVaults", "header", header="x", value="a\r\nb: c")
    assert server.control.state()["faults"] == {}


def test_reply_faults_on_a_streamed_job_output(server: LocalServer) -> None:
    """``corrupt`` flips exactly the middle byte; ``body`` replaces it (length follows)."""
    client = raw_client(server)
    data = bytes(range(10))
    archive_id = client.upload_archive(vaultName=VAULT, body=data)["archiveId"]
    job_id = client.initiate_job(vaultName=VAULT, jobParameters={
        "Type": "archive-retrieval", "ArchiveId": archive_id})["jobId"]
    server.control.complete_job(VAULT, job_id)

    server.control.inject_fault("GetJobOutput", "corrupt")
    corrupted = client.get_job_output(vaultName=VAULT, jobId=job_id)["body"].read()
    assert [i for i in range(10) if corrupted[i] != data[i]] == [5]
    assert corrupted[5] == data[5] ^ 0xFF

    server.control.inject_fault("GetJobOutput", "body", payload=b"abc")
    reply = client.get_job_output(vaultName=VAULT, jobId=job_id)
    assert reply["body"].read() == b"abc"
    assert reply["ResponseMetadata"]["HTTPHeaders"]["content-length"] == "3"

    server.control.inject_fault("GetJobOutput", "drop_header", header="x-amz-sha256-tree-hash")
    assert "checksum" not in client.get_job_output(vaultName=VAULT, jobId=job_id)
    assert client.get_job_output(vaultName=VAULT, jobId=job_id)["body"].read() == data
