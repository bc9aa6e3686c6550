"""Bucket calls of the S3 face, through botocore over HTTP, in memory and on disk."""

from __future__ import annotations

from typing import Any

from glacierlib.localserver import LocalServer

from .support import error_of, make_s3_client


def test_create_head_list_delete(s3_client: Any) -> None:
    s3_client.create_bucket(Bucket="alpha-1")
    s3_client.create_bucket(Bucket="beta.2")
    head = s3_client.head_bucket(Bucket="alpha-1")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert [b["Name"] for b in s3_client.list_buckets()["Buckets"]] == ["alpha-1", "beta.2"]
    s3_client.delete_bucket(Bucket="alpha-1")
    assert [b["Name"] for b in s3_client.list_buckets()["Buckets"]] == ["beta.2"]


def test_missing_bucket_is_no_such_bucket(s3_client: Any) -> None:
    status, code, _ = error_of(s3_client.put_object, Bucket="nope-bucket", Key="k", Body=b"x")
    assert (status, code) == (404, "NoSuchBucket")
    status, code, _ = error_of(s3_client.head_bucket, Bucket="nope-bucket")
    assert status == 404  # HEAD has no body: botocore names it by the status


def test_delete_non_empty_bucket_is_409(s3_client: Any, bucket: str) -> None:
    s3_client.put_object(Bucket=bucket, Key="k", Body=b"x")
    status, code, _ = error_of(s3_client.delete_bucket, Bucket=bucket)
    assert (status, code) == (409, "BucketNotEmpty")


def test_create_twice_is_already_owned(s3_client: Any, bucket: str) -> None:
    status, code, _ = error_of(s3_client.create_bucket, Bucket=bucket)
    assert (status, code) == (409, "BucketAlreadyOwnedByYou")


def test_invalid_bucket_name(s3_client: Any) -> None:
    for name in ("ab", "Upper-Case", "-dash-first", "a..b"):
        status, code, _ = error_of(s3_client.create_bucket, Bucket=name)
        assert (status, code) == (400, "InvalidBucketName"), name


def test_location_constraint_must_match_the_signing_region(s3_server: LocalServer) -> None:
    eu = make_s3_client(s3_server, region="eu-west-1")
    status, code, _ = error_of(eu.create_bucket, Bucket="eu-bucket")
    assert (status, code) == (400, "IllegalLocationConstraintException")
    eu.create_bucket(Bucket="eu-bucket",
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert eu.head_bucket(Bucket="eu-bucket")["BucketRegion"] == "eu-west-1"


def test_other_region_bucket_answers_301_with_its_region(memory_s3_server: LocalServer
                                                          ) -> None:
    eu = make_s3_client(memory_s3_server, region="eu-west-1")
    eu.create_bucket(Bucket="eu-bucket",
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    us = make_s3_client(memory_s3_server)
    seen: list[tuple[int, str | None, bytes]] = []

    def record(response: Any, **_: Any) -> None:
        if response is not None:
            http = response[0]
            seen.append((http.status_code, http.headers.get("x-amz-bucket-region"),
                         http.content))

    us.meta.events.register_first("needs-retry.s3.PutObject", record)
    # botocore follows the redirect itself (as with real S3): the retry, signed for
    # eu-west-1, succeeds; the first answer is the 301 naming the region.
    us.put_object(Bucket="eu-bucket", Key="k", Body=b"x")
    status, region, body = seen[0]
    assert (status, region) == (301, "eu-west-1")
    assert b"<Code>PermanentRedirect</Code>" in body
    assert [s for s, _, _ in seen[1:]] == [200]


def test_access_denied_is_injectable(memory_s3_server: LocalServer) -> None:
    client = make_s3_client(memory_s3_server)
    client.create_bucket(Bucket="test-bucket")
    memory_s3_server.control.inject_fault("PutObject", "error", status=403,
                                          code="AccessDenied", message="Access Denied")
    status, code, response = error_of(client.put_object, Bucket="test-bucket", Key="k",
                                      Body=b"x")
    assert (status, code) == (403, "AccessDenied")
    assert response["Error"]["Message"] == "Access Denied"
    client.put_object(Bucket="test-bucket", Key="k", Body=b"x")  # one fault, then normal


def test_wrong_secret_is_signature_does_not_match(memory_s3_server: LocalServer) -> None:
    import botocore.session
    from botocore.config import Config

    kwargs = dict(memory_s3_server.client_kwargs(), aws_secret_access_key="wrong")
    client = botocore.session.get_session().create_client(
        "s3", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}),
        **kwargs)
    status, code, _ = error_of(client.list_buckets)
    assert (status, code) == (403, "SignatureDoesNotMatch")


def test_virtual_host_style_is_refused_clearly(memory_s3_server: LocalServer) -> None:
    # bucket.localhost does not resolve everywhere: send the Host header a virtual-hosted
    # client would send, straight to the port.
    import http.client

    port = int(memory_s3_server.endpoint_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/?list-type=2", headers={
            "Host": f"test-bucket.localhost:{port}",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/"
                             "aws4_request, SignedHeaders=host, Signature=00"})
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 400
    assert b"<Code>InvalidRequest</Code>" in body and b"path-style" in body


def test_state_lists_buckets(memory_s3_server: LocalServer) -> None:
    client = make_s3_client(memory_s3_server)
    client.create_bucket(Bucket="test-bucket")
    client.put_object(Bucket="test-bucket", Key="k", Body=b"x", StorageClass="GLACIER")
    state = memory_s3_server.control.state()
    assert state["buckets"]["test-bucket"]["objects"]["k"]["storage_class"] == "GLACIER"
    assert state["buckets"]["test-bucket"]["objects"]["k"]["restore"] == "none"
