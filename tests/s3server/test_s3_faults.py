"""Fault injection on the S3 face: the vault mechanism, keyed by botocore's S3 names."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ConnectionClosedError, ResponseStreamingError
from botocore.exceptions import ConnectionError as BotoConnectionError

from glacierlib.localserver import LocalServer

from .support import error_of, make_s3_client, pattern


@pytest.fixture
def client(memory_s3_server: LocalServer) -> Any:
    client = make_s3_client(memory_s3_server)
    client.create_bucket(Bucket="test-bucket")
    return client


def test_reset_then_normal(memory_s3_server: LocalServer, client: Any) -> None:
    memory_s3_server.control.inject_fault("PutObject", "reset")
    with pytest.raises((ConnectionClosedError, BotoConnectionError)):
        client.put_object(Bucket="test-bucket", Key="k", Body=b"x")
    client.put_object(Bucket="test-bucket", Key="k", Body=b"x")
    stats = memory_s3_server.control.stats()
    assert stats["requests"]["PutObject"] == 2


def test_truncated_get(memory_s3_server: LocalServer, client: Any) -> None:
    data = pattern(100_000)
    client.put_object(Bucket="test-bucket", Key="k", Body=data)
    memory_s3_server.control.inject_fault("GetObject", "truncate")
    with pytest.raises(ResponseStreamingError):
        client.get_object(Bucket="test-bucket", Key="k")["Body"].read()
    assert client.get_object(Bucket="test-bucket", Key="k")["Body"].read() == data


def test_corrupted_get_is_caught_by_the_checksum(memory_s3_server: LocalServer,
                                                 client: Any) -> None:
    from botocore.exceptions import FlexibleChecksumError

    client.put_object(Bucket="test-bucket", Key="k", Body=pattern(1000))
    memory_s3_server.control.inject_fault("GetObject", "corrupt")
    with pytest.raises(FlexibleChecksumError):
        client.get_object(Bucket="test-bucket", Key="k")["Body"].read()


def test_injected_500_is_xml(memory_s3_server: LocalServer, client: Any) -> None:
    memory_s3_server.control.inject_fault("ListObjectsV2", "error", status=503,
                                          code="SlowDown", message="Please reduce")
    status, code, response = error_of(client.list_objects_v2, Bucket="test-bucket")
    assert (status, code) == (503, "SlowDown")
    assert response["Error"]["Message"] == "Please reduce"


def test_head_missing_object_is_bodyless_404(client: Any) -> None:
    status, code, response = error_of(client.head_object, Bucket="test-bucket", Key="nope")
    assert (status, code) == (404, "404")
    assert response["ResponseMetadata"]["HTTPHeaders"].get("content-length") == "0"
