"""Multipart uploads: the part-size, Content-Range, ordering and completion rules."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from glacierlib.localserver import LocalServer
from glacierlib.treehash import MIB, TreeHasher, combine_tree_hashes, tree_hash_bytes

from .support import error_message, pattern, upload_multipart

E_HASH = "c9e0c11a00161b193e0a1b3692ec553d4033a887f2086a7cadd4cd722d87f09f"


def _initiate(client: Any, vault: str, part_size: int = MIB) -> str:
    return str(client.initiate_multipart_upload(vaultName=vault, partSize=str(part_size))[
        "uploadId"])


def _part(client: Any, vault: str, upload_id: str, start: int, chunk: bytes) -> Any:
    return client.upload_multipart_part(
        vaultName=vault, uploadId=upload_id,
        range=f"bytes {start}-{start + len(chunk) - 1}/*", body=chunk,
    )


def _complete(client: Any, vault: str, upload_id: str, data: bytes) -> Any:
    """Complete the upload as the archive ``data`` (its size and tree hash)."""
    return client.complete_multipart_upload(
        vaultName=vault, uploadId=upload_id, archiveSize=str(len(data)),
        checksum=TreeHasher(data).hexdigest())


def _download(client: Any, vault: str, archive_id: str) -> bytes:
    job = client.initiate_job(
        vaultName=vault, jobParameters={"Type": "archive-retrieval", "ArchiveId": archive_id}
    )
    return bytes(client.get_job_output(vaultName=vault, jobId=job["jobId"])["body"].read())


@pytest.mark.parametrize("part_size", [MIB, 2 * MIB, 4 * MIB])
def test_vector_e_in_parts(client: Any, vault: str, part_size: int) -> None:
    data = pattern(3 * MIB + 5)
    done = upload_multipart(client, vault, data, part_size, description="vector e")
    assert done["checksum"] == E_HASH
    assert len(done["archiveId"]) == 138
    assert done["location"].endswith(f"/vaults/{vault}/archives/{done['archiveId']}")
    assert _download(client, vault, done["archiveId"]) == data


def test_parts_out_of_order_and_in_parallel(client: Any, vault: str) -> None:
    data = pattern(6 * MIB + 123)
    upload_id = _initiate(client, vault)
    starts = list(range(0, len(data), MIB))
    random.Random(3).shuffle(starts)
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda s: _part(client, vault, upload_id, s,
                                                data[s : s + MIB]), starts))
    for start, reply in zip(starts, replies, strict=True):
        assert reply["checksum"] == tree_hash_bytes(data[start : start + MIB]).hex
    parts = client.list_parts(vaultName=vault, uploadId=upload_id)["Parts"]
    assert [p["RangeInBytes"] for p in parts] == [
        f"{s}-{min(s + MIB, len(data)) - 1}" for s in range(0, len(data), MIB)
    ]
    done = _complete(client, vault, upload_id, data)
    assert _download(client, vault, done["archiveId"]) == data


def test_overwritten_part_last_write_wins(client: Any, vault: str) -> None:
    data = pattern(2 * MIB)
    upload_id = _initiate(client, vault)
    _part(client, vault, upload_id, 0, b"\x00" * MIB)
    _part(client, vault, upload_id, MIB, data[MIB:])
    _part(client, vault, upload_id, 0, data[:MIB])
    parts = client.list_parts(vaultName=vault, uploadId=upload_id)["Parts"]
    assert parts[0]["SHA256TreeHash"] == tree_hash_bytes(data[:MIB]).hex
    done = _complete(client, vault, upload_id, data)
    assert _download(client, vault, done["archiveId"]) == data


def test_gap_fails_complete_and_upload_survives(client: Any, vault: str) -> None:
    data = pattern(3 * MIB)
    upload_id = _initiate(client, vault)
    _part(client, vault, upload_id, 0, data[:MIB])
    _part(client, vault, upload_id, 2 * MIB, data[2 * MIB :])
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        _complete(client, vault, upload_id, data)
    assert "Missing content range" in error_message(err)
    _part(client, vault, upload_id, MIB, data[MIB : 2 * MIB])
    done = _complete(client, vault, upload_id, data)
    assert _download(client, vault, done["archiveId"]) == data


def test_short_middle_part_is_accepted_then_complete_fails(client: Any, vault: str) -> None:
    upload_id = _initiate(client, vault)
    _part(client, vault, upload_id, 0, pattern(MIB))
    _part(client, vault, upload_id, MIB, pattern(1000))  # short, but not the last part
    _part(client, vault, upload_id, 2 * MIB, pattern(MIB))
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.complete_multipart_upload(
            vaultName=vault, uploadId=upload_id, archiveSize=str(2 * MIB + 1000),
            checksum=combine_tree_hashes([tree_hash_bytes(pattern(MIB)),
                                          tree_hash_bytes(pattern(1000)),
                                          tree_hash_bytes(pattern(MIB))]).hex)
    assert client.list_parts(vaultName=vault, uploadId=upload_id)["Parts"]


def test_part_10001_is_refused(client: Any, vault: str) -> None:
    upload_id = _initiate(client, vault)
    _part(client, vault, upload_id, 9999 * MIB, b"last allowed")
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        _part(client, vault, upload_id, 10000 * MIB, b"one too many")
    assert error_message(err) == (
        "This is part number 10001 for the current multipart upload. It exceeds the limit "
        "of 10000 parts."
    )


def test_wrong_complete_hash_keeps_upload_alive(client: Any, vault: str) -> None:
    data = pattern(MIB + 7)
    upload_id = _initiate(client, vault)
    _part(client, vault, upload_id, 0, data[:MIB])
    _part(client, vault, upload_id, MIB, data[MIB:])
    wrong = "0" * 64
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.complete_multipart_upload(vaultName=vault, uploadId=upload_id,
                                         archiveSize=str(len(data)), checksum=wrong)
    assert error_message(err) == f"Invalid x-amz-sha256-tree-hash: {wrong}"
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.complete_multipart_upload(vaultName=vault, uploadId=upload_id,
                                         archiveSize=str(len(data) + 1),
                                         checksum=TreeHasher(data).hexdigest())
    assert "x-amz-archive-size" in error_message(err)
    ids = [u["MultipartUploadId"] for u in
           client.list_multipart_uploads(vaultName=vault)["UploadsList"]]
    assert ids == [upload_id]


def test_idempotent_complete(client: Any, vault: str) -> None:
    data = pattern(MIB + 1)
    upload_id = _initiate(client, vault)
    _part(client, vault, upload_id, 0, data[:MIB])
    _part(client, vault, upload_id, MIB, data[MIB:])
    args = {"vaultName": vault, "uploadId": upload_id, "archiveSize": str(len(data)),
            "checksum": TreeHasher(data).hexdigest()}
    first = client.complete_multipart_upload(**args)
    second = client.complete_multipart_upload(**args)
    assert first["archiveId"] == second["archiveId"]
    assert client.list_multipart_uploads(vaultName=vault)["UploadsList"] == []
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.list_parts(vaultName=vault, uploadId=upload_id)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.abort_multipart_upload(vaultName=vault, uploadId=upload_id)


def test_abort_twice(client: Any, vault: str, server: LocalServer) -> None:
    upload_id = _initiate(client, vault)
    _part(client, vault, upload_id, 0, b"x" * 10)
    client.abort_multipart_upload(vaultName=vault, uploadId=upload_id)
    client.abort_multipart_upload(vaultName=vault, uploadId=upload_id)
    with pytest.raises(client.exceptions.ResourceNotFoundException) as err:
        _part(client, vault, upload_id, 0, b"x" * 10)
    assert error_message(err) == f"The upload ID was not found: {upload_id}"
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.complete_multipart_upload(vaultName=vault, uploadId=upload_id,
                                         archiveSize="10", checksum="0" * 64)
    server.control.advance_clock(2 * 3600)  # past the grace period
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.abort_multipart_upload(vaultName=vault, uploadId=upload_id)


def test_part_tree_hash_mismatch_stores_nothing(client: Any, vault: str) -> None:
    upload_id = _initiate(client, vault)
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.upload_multipart_part(vaultName=vault, uploadId=upload_id,
                                     range="bytes 0-9/*", body=b"0123456789",
                                     checksum="1" * 64)
    assert error_message(err).startswith(f"Checksum mismatch: expected {'1' * 64}, computed ")
    assert client.list_parts(vaultName=vault, uploadId=upload_id)["Parts"] == []


@pytest.mark.parametrize(
    ("size", "ok"),
    [("1048576", True), ("4294967296", True), ("0", False), ("1048575", False),
     ("3145728", False), ("8589934592", False)],
)
def test_part_size_rule(client: Any, vault: str, size: str, ok: bool) -> None:
    if ok:
        client.initiate_multipart_upload(vaultName=vault, partSize=size)
        return
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.initiate_multipart_upload(vaultName=vault, partSize=size)
    assert error_message(err) == (
        f"Invalid part size: {size}. Part size must not be null, must be a power of two and "
        "be between 1048576 and 4294967296 bytes."
    )


@pytest.mark.parametrize(
    ("content_range", "fragment"),
    [
        ("bytes 0-4/*", "is incompatible with Content-Length: 10"),
        ("bytes 9-0/*", "Invalid Content-Range"),
        ("bytes=0-9", "Invalid Content-Range"),
        ("bytes 10-19/*", "not aligned"),
    ],
)
def test_content_range_rules(client: Any, vault: str, content_range: str,
                             fragment: str) -> None:
    upload_id = _initiate(client, vault)
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.upload_multipart_part(vaultName=vault, uploadId=upload_id,
                                     range=content_range, body=b"0123456789")
    assert fragment in error_message(err)


def test_part_longer_than_part_size(client: Any, vault: str) -> None:
    upload_id = _initiate(client, vault)
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        _part(client, vault, upload_id, 0, pattern(MIB + 1))


def test_list_parts_and_uploads_pagination(client: Any, vault: str) -> None:
    upload_ids = [_initiate(client, vault) for _ in range(5)]
    for i in range(5):
        _part(client, vault, upload_ids[0], i * MIB, b"p" * 10 if i == 4 else b"p" * MIB)
    seen, marker, markers = [], None, []
    while True:
        kwargs = {"vaultName": vault, "uploadId": upload_ids[0], "limit": "2"}
        if marker:
            kwargs["marker"] = marker
        page = client.list_parts(**kwargs)
        assert len(page["Parts"]) <= 2
        seen += [p["RangeInBytes"] for p in page["Parts"]]
        marker = page.get("Marker")
        if not marker:
            break
        assert marker not in markers
        markers.append(marker)
    assert len(seen) == 5 and len(set(seen)) == 5
    paginator = client.get_paginator("list_multipart_uploads")
    listed = [u["MultipartUploadId"]
              for page in paginator.paginate(vaultName=vault, limit="2")
              for u in page["UploadsList"]]
    assert sorted(listed) == sorted(upload_ids)


def test_upload_to_unknown_upload_id(client: Any, vault: str) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        _part(client, vault, "nope", 0, b"abc")


def test_upload_expires_after_a_day_of_inactivity(client: Any, vault: str,
                                                   server: LocalServer) -> None:
    upload_id = _initiate(client, vault)
    server.control.advance_clock(23 * 3600)
    _part(client, vault, upload_id, 0, b"abc")  # activity resets the timer
    server.control.advance_clock(23 * 3600)
    assert client.list_parts(vaultName=vault, uploadId=upload_id)["Parts"]
    server.control.advance_clock(2 * 3600)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.list_parts(vaultName=vault, uploadId=upload_id)
