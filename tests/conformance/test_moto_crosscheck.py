"""Cross-check against moto's Glacier mock in server mode, where moto supports the call.

moto has no multipart, ranges or inventory snapshots and hashes archives with plain SHA-256,
so the comparison stays with archives <= 1 MiB (where the tree hash equals SHA-256) and the
operations both implement. (moto also omits the Location header on UploadArchive and uses
short hex archive ids, and reports ArchiveSizeInBytes 0 in DescribeJob; those are moto's
gaps, not compared.) A disagreement points at one of the two emulators.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from server_support import moto_client_kwargs, moto_endpoint

from .support import client_for, pattern

moto_server = pytest.importorskip("moto.server")

pytestmark = pytest.mark.moto


@pytest.fixture(scope="module")
def moto_client() -> Iterator[Any]:
    with moto_endpoint() as url:
        yield client_for(moto_client_kwargs(url))


def _scenario(client: Any) -> dict[str, Any]:
    client.create_vault(vaultName="cross")
    data = pattern(1000)
    uploaded = client.upload_archive(vaultName="cross", body=data, archiveDescription="x")
    job_id = client.initiate_job(vaultName="cross", jobParameters={
        "Type": "archive-retrieval", "ArchiveId": uploaded["archiveId"], "Tier": "Expedited"})[
        "jobId"]
    deadline = time.monotonic() + 15
    while not client.describe_job(vaultName="cross", jobId=job_id)["Completed"]:
        assert time.monotonic() < deadline
        time.sleep(0.25)
    job = client.describe_job(vaultName="cross", jobId=job_id)
    output = client.get_job_output(vaultName="cross", jobId=job_id)["body"].read()
    vaults = client.list_vaults()["VaultList"]
    jobs = client.list_jobs(vaultName="cross")["JobList"]
    client.delete_archive(vaultName="cross", archiveId=uploaded["archiveId"])
    return {
        "checksum": uploaded["checksum"],
        "status": uploaded["ResponseMetadata"]["HTTPStatusCode"],
        "output": output,
        "job": {k: job.get(k) for k in ("Action", "StatusCode", "Completed", "Tier")},
        "vault_names": [v["VaultName"] for v in vaults],
        "vault_keys": {"VaultARN", "VaultName", "CreationDate"} & set(vaults[0]),
        "jobs": len(jobs),
    }


def test_same_story_as_moto(client: Any, storage_kind: str, moto_client: Any) -> None:
    if storage_kind != "memory":
        pytest.skip("one storage is enough for the cross-check")
    ours = _scenario(client)
    theirs = _scenario(moto_client)
    assert ours == theirs
