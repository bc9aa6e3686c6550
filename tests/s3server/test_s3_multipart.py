"""Multipart uploads on the S3 face: part rules, ETags, COMPOSITE and FULL_OBJECT checksums."""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

from glacierlib.localserver.s3.checksums import checksum

from .support import MIB, error_of, pattern

PART = 5 * MIB


def _upload(client: Any, bucket: str, key: str, parts: list[bytes], **create: Any
            ) -> tuple[str, list[dict[str, Any]]]:
    upload_id = client.create_multipart_upload(Bucket=bucket, Key=key, **create)["UploadId"]
    done = []
    algorithm = create.get("ChecksumAlgorithm")
    for number, data in enumerate(parts, 1):
        extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
        reply = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id,
                                   PartNumber=number, Body=data, **extra)
        entry = {"PartNumber": number, "ETag": reply["ETag"]}
        if algorithm:
            entry[f"Checksum{algorithm}"] = reply[f"Checksum{algorithm}"]
        done.append(entry)
    return upload_id, done


def test_composite_sha256(s3_client: Any, bucket: str) -> None:
    parts = [pattern(PART, 1), pattern(1000, 2)]
    upload_id, done = _upload(s3_client, bucket, "big", parts, ChecksumAlgorithm="SHA256",
                              StorageClass="DEEP_ARCHIVE", Metadata={"mtime": "7"})
    listed = s3_client.list_parts(Bucket=bucket, Key="big", UploadId=upload_id)
    assert [p["ChecksumSHA256"] for p in listed["Parts"]] == [
        checksum("SHA256", p) for p in parts]
    assert listed["ChecksumAlgorithm"] == "SHA256"
    assert listed["StorageClass"] == "DEEP_ARCHIVE"
    result = s3_client.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=upload_id, MultipartUpload={"Parts": done})
    digests = b"".join(hashlib.sha256(p).digest() for p in parts)
    expected = base64.b64encode(hashlib.sha256(digests).digest()).decode() + "-2"
    assert result["ChecksumSHA256"] == expected
    assert result["ChecksumType"] == "COMPOSITE"
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    assert result["ETag"] == f'"{hashlib.md5(md5s).hexdigest()}-2"'
    head = s3_client.head_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert (head["ChecksumSHA256"], head["ChecksumType"]) == (expected, "COMPOSITE")
    assert head["StorageClass"] == "DEEP_ARCHIVE" and head["Metadata"] == {"mtime": "7"}
    assert head["ContentLength"] == PART + 1000


def test_full_object_crc32(s3_client: Any, bucket: str) -> None:
    parts = [pattern(PART, 3), pattern(77, 4)]
    upload_id, done = _upload(s3_client, bucket, "k", parts, ChecksumAlgorithm="CRC32",
                              ChecksumType="FULL_OBJECT")
    whole = base64.b64encode(zlib.crc32(b"".join(parts)).to_bytes(4, "big")).decode()
    wrong = base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode()
    status, code, _ = error_of(
        s3_client.complete_multipart_upload, Bucket=bucket, Key="k", UploadId=upload_id,
        MultipartUpload={"Parts": done}, ChecksumCRC32=wrong, ChecksumType="FULL_OBJECT")
    assert (status, code) == (400, "BadDigest")
    result = s3_client.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": done},
        ChecksumCRC32=whole, ChecksumType="FULL_OBJECT")
    assert (result["ChecksumCRC32"], result["ChecksumType"]) == (whole, "FULL_OBJECT")
    got = s3_client.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == whole and got["Body"].read() == b"".join(parts)


def test_sha_cannot_be_full_object(mem_client: Any) -> None:
    status, code, _ = error_of(mem_client.create_multipart_upload, Bucket="test-bucket",
                               Key="k", ChecksumAlgorithm="SHA256", ChecksumType="FULL_OBJECT")
    assert (status, code) == (400, "InvalidRequest")


def test_part_checksum_mismatch_is_bad_digest(mem_client: Any) -> None:
    upload_id = mem_client.create_multipart_upload(Bucket="test-bucket", Key="k",
                                                   ChecksumAlgorithm="SHA1")["UploadId"]
    status, code, _ = error_of(mem_client.upload_part, Bucket="test-bucket", Key="k",
                               UploadId=upload_id, PartNumber=1, Body=b"abc",
                               ChecksumSHA1=checksum("SHA1", b"abd"))
    assert (status, code) == (400, "BadDigest")


def test_small_part_not_last_is_entity_too_small(mem_client: Any) -> None:
    upload_id, done = _upload(mem_client, "test-bucket", "k", [b"a" * 100, b"b" * 100])
    status, code, _ = error_of(mem_client.complete_multipart_upload, Bucket="test-bucket",
                               Key="k", UploadId=upload_id, MultipartUpload={"Parts": done})
    assert (status, code) == (400, "EntityTooSmall")
    # A single small part is the last part: allowed.
    result = mem_client.complete_multipart_upload(
        Bucket="test-bucket", Key="k", UploadId=upload_id,
        MultipartUpload={"Parts": done[:1]})
    assert result["ETag"].endswith('-1"')
    assert mem_client.get_object(Bucket="test-bucket", Key="k")["Body"].read() == b"a" * 100


def test_complete_validates_the_part_list(mem_client: Any) -> None:
    upload_id, done = _upload(mem_client, "test-bucket", "k", [b"a" * PART, b"b"],
                              ChecksumAlgorithm="CRC32")
    bad_etag = [dict(done[0], ETag='"' + "0" * 32 + '"'), done[1]]
    bad_sum = [done[0], dict(done[1], ChecksumCRC32="AAAAAA==")]
    missing = [done[0], {k: v for k, v in done[1].items() if k != "ChecksumCRC32"}]
    for parts, expect in [(bad_etag, "InvalidPart"), (done[::-1], "InvalidPartOrder"),
                          (bad_sum, "InvalidPart"), (missing, "InvalidRequest"),
                          ([*done, {"PartNumber": 3, "ETag": done[0]["ETag"]}],
                           "InvalidPart")]:
        status, code, _ = error_of(mem_client.complete_multipart_upload, Bucket="test-bucket",
                                   Key="k", UploadId=upload_id,
                                   MultipartUpload={"Parts": parts})
        assert (status, code) == (400, expect)


def test_abort_and_list_uploads(s3_client: Any, bucket: str) -> None:
    first = s3_client.create_multipart_upload(Bucket=bucket, Key="a",
                                              StorageClass="GLACIER")["UploadId"]
    second = s3_client.create_multipart_upload(Bucket=bucket, Key="b")["UploadId"]
    s3_client.upload_part(Bucket=bucket, Key="a", UploadId=first, PartNumber=1, Body=b"x")
    listed = s3_client.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"], u["StorageClass"]) for u in listed] == [
        ("a", first, "GLACIER"), ("b", second, "STANDARD")]
    page = s3_client.list_multipart_uploads(Bucket=bucket, MaxUploads=1)
    assert page["IsTruncated"] and page["NextKeyMarker"] == "a"
    s3_client.abort_multipart_upload(Bucket=bucket, Key="a", UploadId=first)
    status, code, _ = error_of(s3_client.list_parts, Bucket=bucket, Key="a", UploadId=first)
    assert (status, code) == (404, "NoSuchUpload")
    assert [u["Key"] for u in s3_client.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [
        "b"]


def test_part_number_out_of_range(mem_client: Any) -> None:
    upload_id = mem_client.create_multipart_upload(Bucket="test-bucket", Key="k")["UploadId"]
    status, code, _ = error_of(mem_client.upload_part, Bucket="test-bucket", Key="k",
                               UploadId=upload_id, PartNumber=10001, Body=b"x")
    assert (status, code) == (400, "InvalidArgument")


def test_get_and_head_by_part_number(s3_client: Any, bucket: str) -> None:
    parts = [pattern(PART, 5), pattern(300, 6)]
    upload_id, done = _upload(s3_client, bucket, "k", parts)
    s3_client.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                        MultipartUpload={"Parts": done})
    got = s3_client.get_object(Bucket=bucket, Key="k", PartNumber=2)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert (got["PartsCount"], got["ContentRange"]) == (2, f"bytes {PART}-{PART + 299}/"
                                                           f"{PART + 300}")
    assert got["Body"].read() == parts[1]
    head = s3_client.head_object(Bucket=bucket, Key="k", PartNumber=1)
    assert (head["ContentLength"], head["PartsCount"]) == (PART, 2)
    status, code, _ = error_of(s3_client.get_object, Bucket=bucket, Key="k", PartNumber=3)
    assert (status, code) == (416, "InvalidPartNumber")
