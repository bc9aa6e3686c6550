"""Cross-check the S3 face against moto's S3 in server mode, where moto is faithful.

One scenario runs against both servers through the same botocore client code and the
observations must be equal. Left out, because moto is not faithful there (so those checks
run against our server only, in test_s3_objects/test_s3_multipart/test_s3_restore):
moto validates no checksum (BadDigest) and no Content-MD5, finishes a restore at once, never
answers 409 RestoreAlreadyInProgress, accepts Expedited for DEEP_ARCHIVE, ignores
RestoreStatus in listings, and lacks checksum fields on Complete and ListParts. CRC32C and
CRC64NVME are not compared either: ``awscrt`` and ``crc32c`` are not installed here, and
without them moto computes CRC32 under those names.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from glacierlib.localserver import LocalServer

from .support import MIB, make_s3_client, pattern

moto_server = pytest.importorskip("moto.server")

pytestmark = pytest.mark.moto


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[Any]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        urllib.request.urlopen(urllib.request.Request(
            f"http://{host}:{port}/moto-api/reset", method="POST"), timeout=10).close()

        class _Endpoint:
            def client_kwargs(self) -> dict[str, str]:
                return {"endpoint_url": f"http://{host}:{port}", "region_name": "us-east-1",
                        "aws_access_key_id": "AKIDMOTO", "aws_secret_access_key": "moto"}

        yield make_s3_client(_Endpoint())  # type: ignore[arg-type]
    finally:
        server.stop()


def _code(call: Any, **kwargs: Any) -> tuple[int, str]:
    try:
        call(**kwargs)
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"], exc.response["Error"]["Code"]
    return 200, "OK"


def _scenario(c: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    c.create_bucket(Bucket="cross-bucket")
    data = pattern(10_000)
    put = c.put_object(Bucket="cross-bucket", Key="dir/a.bin", Body=data,
                       Metadata={"mtime": "1500000000.25"}, StorageClass="STANDARD_IA")
    out["put"] = {k: put.get(k) for k in ("ETag", "ChecksumCRC32")}
    head = c.head_object(Bucket="cross-bucket", Key="dir/a.bin", ChecksumMode="ENABLED")
    out["head"] = {k: head.get(k) for k in ("ContentLength", "ETag", "Metadata",
                                            "StorageClass", "ChecksumCRC32")}
    rng = c.get_object(Bucket="cross-bucket", Key="dir/a.bin", Range="bytes=100-199")
    out["range"] = (rng["ResponseMetadata"]["HTTPStatusCode"], rng["ContentRange"],
                    rng["Body"].read() == data[100:200])
    out["bad_class"] = _code(c.put_object, Bucket="cross-bucket", Key="x", Body=b"x",
                             StorageClass="GLACEIR")
    for key in ("dir/b", "dir/c/d", "e", "f"):
        c.put_object(Bucket="cross-bucket", Key=key, Body=b"x")
    page = c.list_objects_v2(Bucket="cross-bucket", MaxKeys=2)
    nxt = c.list_objects_v2(Bucket="cross-bucket", MaxKeys=2,
                            ContinuationToken=page["NextContinuationToken"])
    out["pages"] = ([o["Key"] for o in page["Contents"]], page["IsTruncated"],
                    [o["Key"] for o in nxt["Contents"]])
    after = c.list_objects_v2(Bucket="cross-bucket", StartAfter="dir/b")
    out["after"] = [o["Key"] for o in after["Contents"]]
    top = c.list_objects_v2(Bucket="cross-bucket", Delimiter="/")
    out["delimiter"] = ([p["Prefix"] for p in top["CommonPrefixes"]],
                        [o["Key"] for o in top["Contents"]])
    out["classes"] = sorted((o["Key"], o["StorageClass"]) for o in
                            c.list_objects_v2(Bucket="cross-bucket")["Contents"])
    c.put_object(Bucket="cross-bucket", Key="cold", Body=b"cold", StorageClass="GLACIER")
    out["cold_get"] = _code(c.get_object, Bucket="cross-bucket", Key="cold")
    first = c.restore_object(Bucket="cross-bucket", Key="cold", RestoreRequest={
        "Days": 1, "GlacierJobParameters": {"Tier": "Standard"}})
    out["restore_first"] = first["ResponseMetadata"]["HTTPStatusCode"]
    out["warm_restore"] = _code(c.restore_object, Bucket="cross-bucket", Key="e",
                                RestoreRequest={"Days": 1})
    parts = [pattern(5 * MIB, 1), pattern(10, 2)]
    upload = c.create_multipart_upload(Bucket="cross-bucket", Key="mp",
                                       StorageClass="DEEP_ARCHIVE")["UploadId"]
    done = [{"PartNumber": n, "ETag": c.upload_part(
        Bucket="cross-bucket", Key="mp", UploadId=upload, PartNumber=n, Body=p)["ETag"]}
        for n, p in enumerate(parts, 1)]
    out["uploads"] = [u["Key"] for u in c.list_multipart_uploads(
        Bucket="cross-bucket")["Uploads"]]
    out["list_parts"] = [(p["PartNumber"], p["Size"], p["ETag"]) for p in c.list_parts(
        Bucket="cross-bucket", Key="mp", UploadId=upload)["Parts"]]
    complete = c.complete_multipart_upload(Bucket="cross-bucket", Key="mp", UploadId=upload,
                                           MultipartUpload={"Parts": done})
    out["mp_etag"] = complete["ETag"]
    mp_head = c.head_object(Bucket="cross-bucket", Key="mp")
    out["mp_head"] = (mp_head["ContentLength"], mp_head["StorageClass"], mp_head["ETag"])
    out["no_key"] = _code(c.get_object, Bucket="cross-bucket", Key="nope")
    out["no_bucket"] = _code(c.list_objects_v2, Bucket="no-such-bucket-x")
    out["not_empty"] = _code(c.delete_bucket, Bucket="cross-bucket")
    deleted = c.delete_objects(Bucket="cross-bucket", Delete={"Objects": [
        {"Key": "e"}, {"Key": "f"}]})
    out["deleted"] = sorted(d["Key"] for d in deleted["Deleted"])
    out["too_small"] = _too_small(c)
    return out


def _too_small(c: Any) -> tuple[int, str]:
    upload = c.create_multipart_upload(Bucket="cross-bucket", Key="small")["UploadId"]
    done = [{"PartNumber": n, "ETag": c.upload_part(
        Bucket="cross-bucket", Key="small", UploadId=upload, PartNumber=n, Body=b"x")["ETag"]}
        for n in (1, 2)]
    return _code(c.complete_multipart_upload, Bucket="cross-bucket", Key="small",
                 UploadId=upload, MultipartUpload={"Parts": done})


def test_same_story_as_moto(memory_s3_server: LocalServer, moto_s3: Any) -> None:
    ours = _scenario(make_s3_client(memory_s3_server))
    theirs = _scenario(moto_s3)
    assert ours == theirs
