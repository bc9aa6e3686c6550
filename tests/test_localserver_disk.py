"""Disk storage: state and bodies survive a restart; crashes leave nothing behind."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import botocore.session
from botocore.config import Config

from glacierlib.localserver import DiskStorage, LocalServer, ServerConfig, running_server
from glacierlib.treehash import MIB, TreeHasher

_SESSION = botocore.session.get_session()


def _client(server: LocalServer) -> Any:
    return _SESSION.create_client("glacier", config=Config(retries={"max_attempts": 0}),
                                  **server.client_kwargs())


def test_everything_survives_a_restart(tmp_path: Path) -> None:
    data = bytes(range(256)) * (9 * 4096 + 3)  # 9 MiB + 768 bytes
    config = ServerConfig(standard_delay=3600)
    with running_server(tmp_path, config=config) as server:
        client = _client(server)
        client.create_vault(vaultName="v")
        archive = client.upload_archive(vaultName="v", body=data[:5000],
                                        archiveDescription="small")["archiveId"]
        upload_id = client.initiate_multipart_upload(vaultName="v", partSize=str(4 * MIB))[
            "uploadId"]
        client.upload_multipart_part(vaultName="v", uploadId=upload_id,
                                     range=f"bytes 0-{4 * MIB - 1}/*", body=data[: 4 * MIB])
        job_id = client.initiate_job(vaultName="v", jobParameters={
            "Type": "archive-retrieval", "ArchiveId": archive})["jobId"]
        server.control.take_inventory("v")
        client.add_tags_to_vault(vaultName="v", Tags={"k": "v"})
        server.control.advance_clock(1800)
    assert not list((tmp_path / "tmp").iterdir())
    with running_server(tmp_path, config=config) as server:
        client = _client(server)
        assert client.describe_vault(vaultName="v")["NumberOfArchives"] == 1
        assert client.list_tags_for_vault(vaultName="v")["Tags"] == {"k": "v"}
        # The clock offset persisted: 1800 s more and the one-hour job is done.
        assert client.describe_job(vaultName="v", jobId=job_id)["StatusCode"] == "InProgress"
        server.control.advance_clock(1801)
        out = client.get_job_output(vaultName="v", jobId=job_id)
        assert out["body"].read() == data[:5000]
        for start in range(4 * MIB, len(data), 4 * MIB):
            chunk = data[start : start + 4 * MIB]
            client.upload_multipart_part(vaultName="v", uploadId=upload_id,
                                         range=f"bytes {start}-{start + len(chunk) - 1}/*",
                                         body=chunk)
        done = client.complete_multipart_upload(
            vaultName="v", uploadId=upload_id, archiveSize=str(len(data)),
            checksum=TreeHasher(data).hexdigest())
    with running_server(tmp_path, config=ServerConfig()) as server:
        client = _client(server)
        job_id = client.initiate_job(vaultName="v", jobParameters={
            "Type": "archive-retrieval", "ArchiveId": done["archiveId"],
            "RetrievalByteRange": f"{8 * MIB}-{len(data) - 1}"})["jobId"]
        out = client.get_job_output(vaultName="v", jobId=job_id)
        assert out["body"].read() == data[8 * MIB :]
        assert out["checksum"] == TreeHasher(data[8 * MIB :]).hexdigest()


def test_bodies_are_files_and_metadata_is_json(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        client = _client(server)
        client.create_vault(vaultName="v.1")
        client.upload_archive(vaultName="v.1", body=b"x" * 3000)
    # Each write is one JSON line appended to the vault's change log.
    lines = (tmp_path / "meta" / "vault-v.1.log").read_text().splitlines()
    assert [json.loads(line)["h"]["name"] for line in lines] == ["v.1", "v.1"]
    storage = DiskStorage(tmp_path)
    doc = storage.load_documents()["vault-v.1"]
    storage.close()
    (archive,) = doc["archives"]
    key, size = archive["segments"][0]
    assert size == 3000
    assert (tmp_path / "blobs" / key).read_bytes() == b"x" * 3000
    # One leaf needs no leaves file: its digest is the body's SHA-256.
    assert not (tmp_path / "blobs" / f"{key}.leaves").exists()
    storage = DiskStorage(tmp_path)
    assert storage.leaves(key) == hashlib.sha256(b"x" * 3000).digest()
    storage.close()


def test_orphans_and_partial_bodies_are_swept(tmp_path: Path) -> None:
    storage = DiskStorage(tmp_path)
    orphan = storage.put_bytes(b"never referenced")
    storage.close()
    (tmp_path / "tmp" / "half-written").write_bytes(b"...")
    with running_server(tmp_path) as server:
        _client(server).list_vaults()
    assert not (tmp_path / "blobs" / orphan).exists()
    assert not (tmp_path / "tmp" / "half-written").exists()


def test_deleting_a_vault_frees_its_blobs(tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        client = _client(server)
        client.create_vault(vaultName="v")
        archive = client.upload_archive(vaultName="v", body=b"abc")["archiveId"]
        client.delete_archive(vaultName="v", archiveId=archive)
        server.control.take_inventory("v")
        client.delete_vault(vaultName="v")
    assert list((tmp_path / "blobs").iterdir()) == []
    assert not (tmp_path / "meta" / "vault-v.json").exists()
