"""The simulated clock's timers: jobs finish and expire, idle uploads and finished-upload
replays are dropped, retained bodies are freed, each exactly when due.

The server keeps a heap of due times instead of visiting every job and upload on each
request (#13); these tests pin the moments, including after a restart (the heap is rebuilt
from the loaded entries) and after an entry changed (its old heap entry is stale).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.config import Config

from glacierlib.localserver import LocalServer, ServerConfig, running_server

_SESSION = botocore.session.get_session()


def _client(server: LocalServer) -> Any:
    return _SESSION.create_client("glacier", config=Config(retries={"max_attempts": 0}),
                                  **server.client_kwargs())


def _status(client: Any, job_id: str) -> str | None:
    try:
        return str(client.describe_job(vaultName="v", jobId=job_id)["StatusCode"])
    except client.exceptions.ResourceNotFoundException:
        return None


def _retrieve(client: Any, archive: str) -> str:
    return str(client.initiate_job(vaultName="v", jobParameters={
        "Type": "archive-retrieval", "ArchiveId": archive})["jobId"])


def _vault_with_job(client: Any, body: bytes) -> tuple[str, str]:
    """A vault "v" with one archive of ``body`` and one retrieval job for it."""
    client.create_vault(vaultName="v")
    archive = str(client.upload_archive(vaultName="v", body=body)["archiveId"])
    return archive, _retrieve(client, archive)


def test_an_upload_kept_busy_outlives_its_first_deadline() -> None:
    with running_server(None, config=ServerConfig(upload_ttl=100)) as server:
        client = _client(server)
        client.create_vault(vaultName="v")
        upload_id = client.initiate_multipart_upload(vaultName="v", partSize=str(1 << 20))[
            "uploadId"]
        server.control.advance_clock(60)
        client.upload_multipart_part(vaultName="v", uploadId=upload_id,
                                     range=f"bytes 0-{(1 << 20) - 1}/*", body=b"x" * (1 << 20))
        server.control.advance_clock(60)  # 120 s after it began, 60 s after the part
        assert client.list_parts(vaultName="v", uploadId=upload_id)["Parts"]
        server.control.advance_clock(41)
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            client.list_parts(vaultName="v", uploadId=upload_id)


def test_jobs_finish_then_expire_in_due_order() -> None:
    config = ServerConfig(expedited_delay=10, standard_delay=100, bulk_delay=1000,
                          job_output_ttl=500)
    with running_server(None, config=config) as server:
        client = _client(server)
        client.create_vault(vaultName="v")
        archive = client.upload_archive(vaultName="v", body=b"abc")["archiveId"]
        jobs = {
            tier: [client.initiate_job(vaultName="v", jobParameters={
                "Type": "archive-retrieval", "ArchiveId": archive, "Tier": tier})["jobId"]
                for _ in range(20)]
            for tier in ("Expedited", "Standard", "Bulk")
        }
        expected = [  # seconds since start: Expedited, Standard, Bulk
            (5, "InProgress", "InProgress", "InProgress"),
            (11, "Succeeded", "InProgress", "InProgress"),
            (101, "Succeeded", "Succeeded", "InProgress"),
            (511, None, "Succeeded", "InProgress"),
            (601, None, None, "InProgress"),
            (1001, None, None, "Succeeded"),
            (1501, None, None, None),
        ]
        now = 0
        for at, *states in expected:
            server.control.advance_clock(at - now)
            now = at
            for tier, state in zip(("Expedited", "Standard", "Bulk"), states, strict=True):
                assert {_status(client, j) for j in jobs[tier]} == {state}, (at, tier)


def test_a_deleted_archive_body_lives_until_its_last_job_expires(tmp_path: Path) -> None:
    config = ServerConfig(standard_delay=10, job_output_ttl=100)
    with running_server(tmp_path, config=config) as server:
        client = _client(server)
        archive, first = _vault_with_job(client, b"kept")
        server.control.advance_clock(11)
        second = _retrieve(client, archive)
        server.control.advance_clock(11)
        client.delete_archive(vaultName="v", archiveId=archive)
    blobs = tmp_path / "blobs"
    # Restarted: the timers come back from the saved jobs.
    with running_server(tmp_path, config=config) as server:
        client = _client(server)
        assert len(list(blobs.iterdir())) == 1
        server.control.advance_clock(90)  # the first job is past its output's lifetime
        assert _status(client, first) is None
        assert client.get_job_output(vaultName="v", jobId=second)["body"].read() == b"kept"
        assert len(list(blobs.iterdir())) == 1
        server.control.advance_clock(20)
        assert _status(client, second) is None
        assert not list(blobs.iterdir())


def test_a_job_started_before_a_restart_finishes_after_it(tmp_path: Path) -> None:
    config = ServerConfig(standard_delay=100)
    with running_server(tmp_path, config=config) as server:
        _archive, job_id = _vault_with_job(_client(server), b"abc")
    with running_server(tmp_path, config=config) as server:
        client = _client(server)
        assert _status(client, job_id) == "InProgress"
        server.control.advance_clock(101)
        assert _status(client, job_id) == "Succeeded"
