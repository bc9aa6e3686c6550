"""The S3 face on disk: objects, uploads and restores survive a restart, like vaults."""

from __future__ import annotations

from pathlib import Path

from glacierlib.localserver import ServerConfig, running_server

from .support import MIB, make_s3_client, pattern


def test_objects_uploads_and_restores_survive_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    big = pattern(5 * MIB + 3)
    with running_server(data_dir, config=ServerConfig()) as server:
        client = make_s3_client(server)
        client.create_bucket(Bucket="test-bucket")
        client.put_object(Bucket="test-bucket", Key="warm", Body=b"warm", Metadata={"m": "1"})
        client.put_object(Bucket="test-bucket", Key="cold", Body=big, StorageClass="GLACIER")
        client.put_object(Bucket="test-bucket", Key="gone", Body=b"x")
        client.delete_object(Bucket="test-bucket", Key="gone")
        client.restore_object(Bucket="test-bucket", Key="cold",
                              RestoreRequest={"Days": 3, "GlacierJobParameters": {
                                  "Tier": "Expedited"}})
        upload_id = client.create_multipart_upload(Bucket="test-bucket", Key="mp")["UploadId"]
        client.upload_part(Bucket="test-bucket", Key="mp", UploadId=upload_id, PartNumber=1,
                           Body=b"part one")
        blobs_before = set((data_dir / "s3" / "blobs").iterdir())
    with running_server(data_dir, config=ServerConfig()) as server:
        client = make_s3_client(server)
        assert [b["Name"] for b in client.list_buckets()["Buckets"]] == ["test-bucket"]
        keys = [o["Key"] for o in client.list_objects_v2(Bucket="test-bucket")["Contents"]]
        assert keys == ["cold", "warm"]
        assert client.head_object(Bucket="test-bucket", Key="warm")["Metadata"] == {"m": "1"}
        assert client.head_object(Bucket="test-bucket",
                                  Key="cold")["Restore"] == 'ongoing-request="true"'
        server.control.advance_clock(301)
        assert client.get_object(Bucket="test-bucket", Key="cold")["Body"].read() == big
        parts = client.list_parts(Bucket="test-bucket", Key="mp", UploadId=upload_id)["Parts"]
        assert [p["Size"] for p in parts] == [8]
        client.complete_multipart_upload(
            Bucket="test-bucket", Key="mp", UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": parts[0]["ETag"]}]})
        assert client.get_object(Bucket="test-bucket", Key="mp")["Body"].read() == b"part one"
    assert set((data_dir / "s3" / "blobs").iterdir()) == blobs_before  # nothing swept
