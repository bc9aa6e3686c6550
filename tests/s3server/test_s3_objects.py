"""Object calls of the S3 face: bodies, checksums, limits, ranges, listings, deletes.

Everything goes through botocore over HTTP; ``force_trailer`` makes botocore send the
``aws-chunked`` body with a trailing checksum it sends by default over TLS.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

import pytest

from glacierlib.localserver.s3.checksums import checksum

from .support import corrupt_trailer, error_of, force_trailer, make_s3_client, pattern

ALL_CLASSES = ["STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA",
               "INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR",
               "EXPRESS_ONEZONE"]


def test_put_head_get_with_metadata(s3_client: Any, bucket: str) -> None:
    data = pattern(100_000)
    put = s3_client.put_object(Bucket=bucket, Key="dir/ü file.bin", Body=data,
                               Metadata={"mtime": "1500000000.25"}, ContentType="text/plain")
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    head = s3_client.head_object(Bucket=bucket, Key="dir/ü file.bin")
    assert head["ContentLength"] == len(data)
    assert head["Metadata"] == {"mtime": "1500000000.25"}
    assert head["ContentType"] == "text/plain"
    assert "StorageClass" not in head  # S3 omits STANDARD
    got = s3_client.get_object(Bucket=bucket, Key="dir/ü file.bin")
    assert got["Body"].read() == data


@pytest.mark.parametrize("storage_class", ALL_CLASSES)
def test_every_storage_class_is_accepted(mem_client: Any, storage_class: str) -> None:
    mem_client.put_object(Bucket="test-bucket", Key="k", Body=b"x", StorageClass=storage_class)
    head = mem_client.head_object(Bucket="test-bucket", Key="k")
    assert head.get("StorageClass", "STANDARD") == storage_class


def test_storage_class_typo_is_invalid(mem_client: Any) -> None:
    status, code, _ = error_of(mem_client.put_object, Bucket="test-bucket", Key="k",
                               Body=b"x", StorageClass="GLACEIR")
    assert (status, code) == (400, "InvalidStorageClass")
    status, code, _ = error_of(mem_client.create_multipart_upload, Bucket="test-bucket",
                               Key="k", StorageClass="DEEP_ARCHIVES")
    assert (status, code) == (400, "InvalidStorageClass")


def test_key_longer_than_1024_bytes_is_refused(mem_client: Any) -> None:
    ok = "é" * 512  # 1024 bytes of UTF-8
    mem_client.put_object(Bucket="test-bucket", Key=ok, Body=b"x")
    status, code, _ = error_of(mem_client.put_object, Bucket="test-bucket", Key=ok + "a",
                               Body=b"x")
    assert (status, code) == (400, "KeyTooLongError")


def test_user_metadata_over_2kb_is_refused(mem_client: Any) -> None:
    mem_client.put_object(Bucket="test-bucket", Key="k", Body=b"x",
                          Metadata={"a": "v" * 2047})
    status, code, _ = error_of(mem_client.put_object, Bucket="test-bucket", Key="k",
                               Body=b"x", Metadata={"a": "v" * 2048})
    assert (status, code) == (400, "MetadataTooLarge")


def test_content_md5_mismatch_is_bad_digest(s3_client: Any, bucket: str) -> None:
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    status, code, _ = error_of(s3_client.put_object, Bucket=bucket, Key="k", Body=b"data",
                               ContentMD5=wrong)
    assert (status, code) == (400, "BadDigest")
    assert "Contents" not in s3_client.list_objects_v2(Bucket=bucket)


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_checksums_validated_stored_and_returned(s3_client: Any, bucket: str,
                                                 algorithm: str) -> None:
    data = pattern(70_000)
    field = f"Checksum{algorithm}"
    status, code, _ = error_of(s3_client.put_object, Bucket=bucket, Key="k", Body=data,
                               **{field: checksum(algorithm, data + b"!")})
    assert (status, code) == (400, "BadDigest")
    value = checksum(algorithm, data)
    put = s3_client.put_object(Bucket=bucket, Key="k", Body=data, **{field: value})
    assert put[field] == value
    head = s3_client.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert (head[field], head["ChecksumType"]) == (value, "FULL_OBJECT")
    assert field not in s3_client.head_object(Bucket=bucket, Key="k")
    got = s3_client.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got[field] == value and got["Body"].read() == data


def test_known_crc_values() -> None:
    # The check values of the CRC catalogue, so the table code is the standard CRC.
    assert base64.b64decode(checksum("CRC32C", b"123456789")).hex() == "e3069283"
    assert base64.b64decode(checksum("CRC64NVME", b"123456789")).hex() == "ae8b14860a799888"
    assert base64.b64decode(checksum("CRC32", b"123456789")).hex() == "cbf43926"


def test_default_botocore_checksum_is_validated(s3_client: Any, bucket: str) -> None:
    """botocore adds x-amz-checksum-crc32 by default; a body changed after signing fails."""
    s3_client.put_object(Bucket=bucket, Key="k", Body=b"payload")
    head = s3_client.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    crc = zlib.crc32(b"payload").to_bytes(4, "big")
    assert head["ChecksumCRC32"] == base64.b64encode(crc).decode()


def test_signed_payload_mismatch(s3_client: Any, bucket: str) -> None:
    def tamper(request: Any, **_: Any) -> None:
        request.body = b"PAYLOAD"

    s3_client.meta.events.register("before-send.s3.PutObject", tamper)
    status, code, _ = error_of(s3_client.put_object, Bucket=bucket, Key="k", Body=b"payload")
    assert (status, code) == (400, "XAmzContentSHA256Mismatch")


def test_aws_chunked_with_trailing_checksum(s3_client: Any, bucket: str) -> None:
    seen: list[dict[str, str]] = []
    force_trailer(s3_client, "PutObject")
    s3_client.meta.events.register(
        "before-send.s3.PutObject", lambda request, **_: seen.append(dict(request.headers)))
    data = pattern(3 << 20)  # several aws-chunked chunks
    s3_client.put_object(Bucket=bucket, Key="k", Body=data)
    headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v)
               for k, v in seen[0].items()}
    assert headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert headers["x-amz-trailer"] == "x-amz-checksum-crc32"
    assert headers["transfer-encoding"] == "chunked"
    assert s3_client.get_object(Bucket=bucket, Key="k")["Body"].read() == data


def test_aws_chunked_wrong_trailer_is_bad_digest(s3_client: Any, bucket: str) -> None:
    force_trailer(s3_client, "PutObject")
    corrupt_trailer(s3_client, "PutObject")
    status, code, _ = error_of(s3_client.put_object, Bucket=bucket, Key="k", Body=b"data")
    assert (status, code) == (400, "BadDigest")


def test_unsigned_payload_is_accepted(s3_server: Any) -> None:
    client = make_s3_client(s3_server, s3={"addressing_style": "path",
                                           "payload_signing_enabled": False})
    seen: list[str] = []
    client.meta.events.register("before-send.s3.PutObject", lambda request, **_: seen.append(
        request.headers["x-amz-content-sha256"]))
    client.create_bucket(Bucket="test-bucket")
    client.put_object(Bucket="test-bucket", Key="k", Body=b"unsigned body")
    assert seen == [b"UNSIGNED-PAYLOAD"] or seen == ["UNSIGNED-PAYLOAD"]
    assert client.get_object(Bucket="test-bucket", Key="k")["Body"].read() == b"unsigned body"


def test_ranged_get(s3_client: Any, bucket: str) -> None:
    data = pattern(10_000)
    s3_client.put_object(Bucket=bucket, Key="k", Body=data)
    for rng, expect, content_range in [
        ("bytes=0-99", data[:100], "bytes 0-99/10000"),
        ("bytes=9990-", data[9990:], "bytes 9990-9999/10000"),
        ("bytes=-10", data[-10:], "bytes 9990-9999/10000"),
        ("bytes=5000-99999", data[5000:], "bytes 5000-9999/10000"),
    ]:
        got = s3_client.get_object(Bucket=bucket, Key="k", Range=rng)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["ContentRange"] == content_range
        assert got["Body"].read() == expect
    status, code, _ = error_of(s3_client.get_object, Bucket=bucket, Key="k",
                               Range="bytes=10000-")
    assert (status, code) == (416, "InvalidRange")


def test_missing_key_is_no_such_key(mem_client: Any) -> None:
    status, code, _ = error_of(mem_client.get_object, Bucket="test-bucket", Key="nope")
    assert (status, code) == (404, "NoSuchKey")


def test_list_objects_v2_pagination(s3_client: Any, bucket: str) -> None:
    keys = sorted([f"a/{i:03d}" for i in range(7)] + ["b/x", "b/y/z", "c", "a b/+%"])
    for key in keys:
        s3_client.put_object(Bucket=bucket, Key=key, Body=b"x")
    pages = list(s3_client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 3}))
    assert [len(p.get("Contents", [])) for p in pages] == [3, 3, 3, 2]
    assert [o["Key"] for p in pages for o in p["Contents"]] == keys
    first = s3_client.list_objects_v2(Bucket=bucket, MaxKeys=2)
    assert first["IsTruncated"] and first["KeyCount"] == 2
    second = s3_client.list_objects_v2(Bucket=bucket, MaxKeys=2,
                                       ContinuationToken=first["NextContinuationToken"])
    assert [o["Key"] for o in second["Contents"]] == keys[2:4]
    after = s3_client.list_objects_v2(Bucket=bucket, StartAfter="a/005")
    assert [o["Key"] for o in after["Contents"]] == [k for k in keys if k > "a/005"]
    prefixed = s3_client.list_objects_v2(Bucket=bucket, Prefix="b/")
    assert [o["Key"] for o in prefixed["Contents"]] == ["b/x", "b/y/z"]
    top = s3_client.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a b/", "a/", "b/"]
    assert [o["Key"] for o in top["Contents"]] == ["c"]
    paged = list(s3_client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1}))
    assert [x["Prefix"] for p in paged for x in p.get("CommonPrefixes", [])] == [
        "a b/", "a/", "b/"]


def test_delete_object_and_objects(s3_client: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        s3_client.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3_client.delete_object(Bucket=bucket, Key="a")
    s3_client.delete_object(Bucket=bucket, Key="never-there")  # S3: 204 all the same
    result = s3_client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"},
                                                                         {"Key": "zz"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["b", "zz"]
    assert [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]] == ["c"]
