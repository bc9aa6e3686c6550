"""Archive retrieval and ranged job output, with the tree-hash header rules of §3.4/§3.5."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from glacierlib.localserver import LocalServer, ServerConfig
from glacierlib.treehash import MIB

from .support import error_code, error_message, pattern, upload_multipart

SIZE = 6 * MIB + MIB // 2  # 6.5 MiB: 7 leaves, the reference's range table
WHOLE = "8bcaa7b4b8f991ca140f306627f2c4e84601364cde8e054b6e0924433ca7482f"
# (first leaf, stop leaf) -> tree hash when tree-hash aligned, None when not.
TABLE = {
    (0, 2): "bf4dff263ae686b64403208c35a3767e38453d6477e841947588d13d04e1d816",
    (2, 4): "9e217b1ceb8db81071f9c6e4a2bf0401a83491d10751ce858a2628f5d699dbdb",
    (1, 3): None,
    (4, 7): "3e997f13ddc355e8a55035672d60ba90275ece6485044b3616a0966e2b895fc1",
    (6, 7): "c9fed994db0d8e2e5b7d603f40c18613d1f545288928a52ee9d2b2e2375f7160",
    (2, 6): None,
    (0, 7): WHOLE,
}


def _bytes(p: int, q: int) -> tuple[int, int]:
    return p * MIB, min(q * MIB, SIZE) - 1


@pytest.fixture
def archive(client: Any, vault: str) -> str:
    """The 6.5 MiB archive, uploaded in 2 MiB parts (served from several part blobs)."""
    done = upload_multipart(client, vault, pattern(SIZE), 2 * MIB, description="six")
    assert done["checksum"] == WHOLE
    return str(done["archiveId"])


def test_single_upload_output(client: Any, vault: str) -> None:
    reply = client.upload_archive(vaultName=vault, body=pattern(SIZE), archiveDescription="six")
    assert reply["checksum"] == WHOLE
    job_id = _job(client, vault, reply["archiveId"])
    first, last = _bytes(2, 4)
    out = client.get_job_output(vaultName=vault, jobId=job_id, range=f"bytes={first}-{last}")
    assert out["checksum"] == TABLE[2, 4]
    assert out["body"].read() == pattern(SIZE)[first : last + 1]


def _job(client: Any, vault: str, archive_id: str, **extra: Any) -> str:
    params = {"Type": "archive-retrieval", "ArchiveId": archive_id, **extra}
    return str(client.initiate_job(vaultName=vault, jobParameters=params)["jobId"])


def test_whole_output(client: Any, vault: str, archive: str) -> None:
    job_id = _job(client, vault, archive)
    desc = client.describe_job(vaultName=vault, jobId=job_id)
    assert desc["SHA256TreeHash"] == desc["ArchiveSHA256TreeHash"] == WHOLE
    assert desc["RetrievalByteRange"] == f"0-{SIZE - 1}"
    assert desc["ArchiveSizeInBytes"] == SIZE
    out = client.get_job_output(vaultName=vault, jobId=job_id)
    assert out["status"] == 200
    assert out["checksum"] == WHOLE
    assert out["acceptRanges"] == "bytes"
    assert out["contentType"] == "application/octet-stream"
    assert out["archiveDescription"] == "six"
    assert out["body"].read() == pattern(SIZE)


@pytest.mark.parametrize(("leaves", "expected"), list(TABLE.items()))
def test_download_ranges(client: Any, vault: str, archive: str,
                         leaves: tuple[int, int], expected: str | None) -> None:
    job_id = _job(client, vault, archive)
    first, last = _bytes(*leaves)
    out = client.get_job_output(vaultName=vault, jobId=job_id, range=f"bytes={first}-{last}")
    assert out["status"] == 206
    assert out["contentRange"] == f"bytes {first}-{last}/{SIZE}"
    assert out.get("checksum") == expected
    assert out["body"].read() == pattern(SIZE)[first : last + 1]


def test_range_end_beyond_output_is_clipped(client: Any, vault: str, archive: str) -> None:
    job_id = _job(client, vault, archive)
    out = client.get_job_output(vaultName=vault, jobId=job_id,
                                range=f"bytes={6 * MIB}-{SIZE + 5000}")
    assert out["contentRange"] == f"bytes {6 * MIB}-{SIZE - 1}/{SIZE}"
    assert out["checksum"] == TABLE[6, 7]
    assert len(out["body"].read()) == SIZE - 6 * MIB


@pytest.mark.parametrize("bad", ["bytes=7000000-7000001", "bytes=5-", "bytes=-5", "pages=1-2"])
def test_bad_ranges(client: Any, vault: str, archive: str, bad: str) -> None:
    job_id = _job(client, vault, archive)
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.get_job_output(vaultName=vault, jobId=job_id, range=bad)


def test_aligned_retrieval_range(client: Any, vault: str, archive: str) -> None:
    job_id = _job(client, vault, archive, RetrievalByteRange=f"{4 * MIB}-{SIZE - 1}")
    desc = client.describe_job(vaultName=vault, jobId=job_id)
    assert desc["SHA256TreeHash"] == TABLE[4, 7]
    assert desc["ArchiveSHA256TreeHash"] == WHOLE
    assert desc["ArchiveSizeInBytes"] == SIZE
    whole = client.get_job_output(vaultName=vault, jobId=job_id)
    assert whole["checksum"] == TABLE[4, 7]
    assert whole["body"].read() == pattern(SIZE)[4 * MIB :]
    # Download range relative to the retrieval: [2 MiB, end) is leaves [6, 7) of the archive.
    tail = client.get_job_output(vaultName=vault, jobId=job_id,
                                 range=f"bytes={2 * MIB}-{SIZE - 4 * MIB - 1}")
    assert tail["checksum"] == TABLE[6, 7]
    assert tail["contentRange"] == f"bytes {2 * MIB}-{SIZE - 4 * MIB - 1}/{SIZE - 4 * MIB}"
    # [0, 1 MiB) relative is leaf 4 alone: aligned.
    head = client.get_job_output(vaultName=vault, jobId=job_id, range=f"bytes=0-{MIB - 1}")
    assert head["checksum"] is not None
    # [1 MiB, 3 MiB) relative is leaves [5, 7): not a node of the tree.
    mid = client.get_job_output(vaultName=vault, jobId=job_id,
                                range=f"bytes={MIB}-{SIZE - 4 * MIB - 1}")
    assert "checksum" not in mid


def test_unaligned_retrieval_range(client: Any, vault: str, archive: str) -> None:
    first, last = _bytes(1, 3)
    job_id = _job(client, vault, archive, RetrievalByteRange=f"{first}-{last}")
    desc = client.describe_job(vaultName=vault, jobId=job_id)
    assert "SHA256TreeHash" not in desc
    out = client.get_job_output(vaultName=vault, jobId=job_id)
    assert "checksum" not in out
    assert out["body"].read() == pattern(SIZE)[first : last + 1]
    part = client.get_job_output(vaultName=vault, jobId=job_id, range=f"bytes=0-{MIB - 1}")
    assert "checksum" not in part  # aligned in the output, but the retrieval is not


@pytest.mark.parametrize("bad", ["1-1048576", f"0-{MIB}", "abc", f"{MIB}-{MIB - 1}"])
def test_retrieval_range_must_be_megabyte_aligned(client: Any, vault: str, archive: str,
                                                  bad: str) -> None:
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        _job(client, vault, archive, RetrievalByteRange=bad)


class TestMegabyteRule:
    @pytest.fixture
    def server_config(self) -> ServerConfig:
        return ServerConfig(tree_hash_rule="megabyte")

    def test_megabyte_mode_sends_hash_for_any_mb_range(self, client: Any, vault: str,
                                                       archive: str) -> None:
        job_id = _job(client, vault, archive)
        first, last = _bytes(1, 3)
        out = client.get_job_output(vaultName=vault, jobId=job_id,
                                    range=f"bytes={first}-{last}")
        assert out["checksum"] == (
            "b75aca8a18ab725e6da28ced838ac9be59756d81fd6899b0d853849b43f7117e"
        )


def test_output_before_ready_and_tiers(server: LocalServer, client: Any, vault: str,
                                       archive: str) -> None:
    server.service.config = attrs.evolve(server.service.config, expedited_delay=300,
                                         standard_delay=4 * 3600, bulk_delay=8 * 3600)
    expedited = _job(client, vault, archive, Tier="Expedited")
    standard = _job(client, vault, archive)
    bulk = _job(client, vault, archive, Tier="Bulk", Description="slow one",
                SNSTopic="arn:aws:sns:us-east-1:123456789012:done")
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.get_job_output(vaultName=vault, jobId=standard)
    assert error_message(err) == f"The job is not currently available for download: {standard}"
    desc = client.describe_job(vaultName=vault, jobId=bulk)
    assert (desc["StatusCode"], desc["Completed"], desc["Tier"]) == ("InProgress", False, "Bulk")
    assert desc["JobDescription"] == "slow one"
    assert "CompletionDate" not in desc and "SHA256TreeHash" not in desc
    server.control.advance_clock(301)
    states = {j: client.describe_job(vaultName=vault, jobId=j)["StatusCode"]
              for j in (expedited, standard, bulk)}
    assert states == {expedited: "Succeeded", standard: "InProgress", bulk: "InProgress"}
    server.control.advance_clock(8 * 3600)
    assert client.describe_job(vaultName=vault, jobId=bulk)["StatusCode"] == "Succeeded"
    published = server.control.publications()
    assert [p["Topic"] for p in published] == ["arn:aws:sns:us-east-1:123456789012:done"]
    assert published[0]["Message"]["JobId"] == bulk


def test_fail_and_complete_through_control(server: LocalServer, client: Any, vault: str,
                                           archive: str) -> None:
    server.service.config = attrs.evolve(server.service.config, standard_delay=3600)
    first = _job(client, vault, archive)
    second = _job(client, vault, archive)
    server.control.fail_job(vault, first, "broken on purpose")
    server.control.complete_job(vault, second)
    failed = client.describe_job(vaultName=vault, jobId=first)
    assert (failed["StatusCode"], failed["StatusMessage"]) == ("Failed", "broken on purpose")
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.get_job_output(vaultName=vault, jobId=first)
    assert client.get_job_output(vaultName=vault, jobId=second)["body"].read() == pattern(SIZE)


def test_output_expires(server: LocalServer, client: Any, vault: str, archive: str) -> None:
    job_id = _job(client, vault, archive)
    server.control.advance_clock(23 * 3600)
    client.get_job_output(vaultName=vault, jobId=job_id, range="bytes=0-9")["body"].read()
    server.control.advance_clock(2 * 3600)
    with pytest.raises(client.exceptions.ResourceNotFoundException) as err:
        client.describe_job(vaultName=vault, jobId=job_id)
    assert error_message(err) == f"The job ID was not found: {job_id}"


def test_deleted_archive(server: LocalServer, client: Any, vault: str, archive: str) -> None:
    ready = _job(client, vault, archive)
    server.service.config = attrs.evolve(server.service.config, standard_delay=3600)
    pending = _job(client, vault, archive)
    client.delete_archive(vaultName=vault, archiveId=archive)
    client.delete_archive(vaultName=vault, archiveId=archive)  # idempotent
    # A prepared output can still be downloaded; a pending retrieval fails.
    assert client.get_job_output(vaultName=vault, jobId=ready)["body"].read() == pattern(SIZE)
    assert client.describe_job(vaultName=vault, jobId=pending)["StatusCode"] == "Failed"
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        _job(client, vault, archive)


def test_archive_id_of_another_vault(client: Any, vault: str, archive: str) -> None:
    client.create_vault(vaultName="other")
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.delete_archive(vaultName="other", archiveId=archive)
    assert error_message(err).startswith("Invalid vault name: arn:aws:glacier:")


def test_policy_enforced_on_standard_only(client: Any, vault: str, archive: str) -> None:
    client.set_data_retrieval_policy(
        Policy={"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": MIB}]})
    with pytest.raises(client.exceptions.PolicyEnforcedException) as err:
        _job(client, vault, archive)
    assert error_code(err) == "PolicyEnforcedException"
    _job(client, vault, archive, RetrievalByteRange=f"0-{MIB - 1}")
    _job(client, vault, archive, Tier="Bulk")
