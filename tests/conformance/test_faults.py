"""Every injected fault kind, seen through botocore (with and without its retries)."""

from __future__ import annotations

import socket
import time
import urllib.parse
from typing import Any

import botocore.exceptions
import pytest

from glacierlib.localserver import LocalServer, ServerConfig
from glacierlib.treehash import MIB

from .support import error_code, make_client, pattern


def _retrying(server: LocalServer, **extra: Any) -> Any:
    return make_client(server, retries={"max_attempts": 4, "mode": "standard"}, **extra)


def _part_upload(client: Any, vault: str) -> tuple[str, bytes]:
    upload_id = client.initiate_multipart_upload(vaultName=vault, partSize=str(MIB))["uploadId"]
    return str(upload_id), pattern(MIB)


def test_error_fault_then_success(server: LocalServer, client: Any, vault: str) -> None:
    upload_id, data = _part_upload(client, vault)
    server.control.inject_fault("UploadMultipartPart", "error", count=2, status=500,
                                code="ServiceUnavailableException")
    with pytest.raises(client.exceptions.ServiceUnavailableException) as err:
        client.upload_multipart_part(vaultName=vault, uploadId=upload_id,
                                     range=f"bytes 0-{MIB - 1}/*", body=data)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    reply = _retrying(server).upload_multipart_part(
        vaultName=vault, uploadId=upload_id, range=f"bytes 0-{MIB - 1}/*", body=data)
    assert reply["ResponseMetadata"]["RetryAttempts"] == 1
    assert server.control.stats()["requests"]["UploadMultipartPart"] == 3
    assert server.control.stats()["bytes_received"]["UploadMultipartPart"] == 3 * MIB


@pytest.mark.parametrize(
    ("status", "code", "retried"),
    [
        (400, "ThrottlingException", True),
        (408, "RequestTimeoutException", True),
        (503, "InsufficientCapacityException", True),
        (400, "NoLongerSupportedException", False),
        (404, "ResourceNotFoundException", False),
    ],
)
def test_error_codes_and_botocore_retry(server: LocalServer, vault: str, status: int,
                                        code: str, retried: bool) -> None:
    server.control.inject_fault("DescribeVault", "error", status=status, code=code)
    client = _retrying(server)
    if retried:
        reply = client.describe_vault(vaultName=vault)
        assert reply["ResponseMetadata"]["RetryAttempts"] == 1
    else:
        with pytest.raises(client.exceptions.ClientError) as err:
            client.describe_vault(vaultName=vault)
        assert error_code(err) == code
        assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_faults_only_hit_their_operation(server: LocalServer, client: Any, vault: str) -> None:
    server.control.inject_fault("ListJobs", "error", count=3)
    client.describe_vault(vaultName=vault)
    assert server.control.state()["faults"] == {"ListJobs": 3}
    server.control.clear_faults()
    client.list_jobs(vaultName=vault)


def test_reset_fault(server: LocalServer, client: Any, vault: str) -> None:
    upload_id, data = _part_upload(client, vault)
    server.control.inject_fault("UploadMultipartPart", "reset")
    with pytest.raises((botocore.exceptions.ConnectionError,
                        botocore.exceptions.HTTPClientError)):
        client.upload_multipart_part(vaultName=vault, uploadId=upload_id,
                                     range=f"bytes 0-{MIB - 1}/*", body=data)
    assert client.list_parts(vaultName=vault, uploadId=upload_id)["Parts"] == []
    server.control.inject_fault("UploadMultipartPart", "reset")
    reply = _retrying(server).upload_multipart_part(
        vaultName=vault, uploadId=upload_id, range=f"bytes 0-{MIB - 1}/*", body=data)
    assert reply["ResponseMetadata"]["RetryAttempts"] == 1
    assert len(client.list_parts(vaultName=vault, uploadId=upload_id)["Parts"]) == 1


def test_truncated_job_output(server: LocalServer, client: Any, vault: str) -> None:
    data = pattern(2 * MIB)
    archive = client.upload_archive(vaultName=vault, body=data)["archiveId"]
    job_id = client.initiate_job(vaultName=vault, jobParameters={
        "Type": "archive-retrieval", "ArchiveId": archive})["jobId"]
    server.control.inject_fault("GetJobOutput", "truncate")
    out = client.get_job_output(vaultName=vault, jobId=job_id)
    with pytest.raises((botocore.exceptions.IncompleteReadError,
                        botocore.exceptions.ResponseStreamingError)):
        out["body"].read()
    assert client.get_job_output(vaultName=vault, jobId=job_id)["body"].read() == data


def test_truncated_bodiless_reply(server: LocalServer, client: Any, vault: str) -> None:
    server.control.inject_fault("CreateVault", "truncate")
    with pytest.raises((botocore.exceptions.ConnectionError,
                        botocore.exceptions.HTTPClientError)):
        client.create_vault(vaultName="second")
    # The operation itself ran: only the reply was lost.
    assert "second" in server.control.state()["vaults"]



def test_truncated_json_reply_is_short(server: LocalServer, client: Any, vault: str) -> None:
    """A truncated reply with a body declares its full length and delivers half of it.

    (botocore itself does not check non-streaming bodies against Content-Length, and with
    current urllib3 it parses the half body as an empty success; glacierlib's client retries
    such replies: ``tests/test_client.py::test_truncated_reply_is_retried_not_read_as_empty``.)
    """
    server.control.inject_fault("DescribeVault", "truncate")
    with socket.create_connection(("127.0.0.1", int(server.endpoint_url.rsplit(":", 1)[1])),
                                  timeout=10) as sock:
        raw_request = make_client(server)  # sign a real request, send it by hand
        request = _signed_describe_vault(raw_request, vault)
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    declared = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")))
    assert 0 < len(body) < declared
    assert client.describe_vault(vaultName=vault)["VaultName"] == vault  # next one is whole


def _signed_describe_vault(client: Any, vault: str) -> bytes:
    """The bytes botocore would send for DescribeVault, signed, as one HTTP/1.1 request."""
    captured: dict[str, Any] = {}

    def grab(request: Any, **_: Any) -> Any:
        captured["request"] = request
        raise _Captured

    client.meta.events.register_first("before-send.glacier.DescribeVault", grab)
    with pytest.raises(_Captured):
        client.describe_vault(vaultName=vault)
    request = captured["request"]
    url = urllib.parse.urlsplit(request.url)
    lines = [f"GET {url.path} HTTP/1.1", f"Host: {url.netloc}", "Connection: close"]
    lines += [f"{k}: {v.decode() if isinstance(v, bytes) else v}"
              for k, v in request.headers.items() if k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class _Captured(Exception):
    pass


def test_delay_fault(server: LocalServer, client: Any, vault: str) -> None:
    server.control.inject_fault("DescribeVault", "delay", delay=0.4)
    started = time.monotonic()
    client.describe_vault(vaultName=vault)
    assert time.monotonic() - started >= 0.4
    server.control.inject_fault("DescribeVault", "delay", delay=1.0)
    impatient = make_client(server, read_timeout=0.2)
    with pytest.raises(botocore.exceptions.ReadTimeoutError):
        impatient.describe_vault(vaultName=vault)


def test_bad_fault_requests(server: LocalServer) -> None:
    from glacierlib.exceptions import InvalidRequest

    with pytest.raises(InvalidRequest):
        server.control.inject_fault("DescribeVault", "explode")
    with pytest.raises(InvalidRequest):
        server.control.inject_fault("DescribeVault", "error", count=0)


class TestNoLongerSupported:
    @pytest.fixture
    def server_config(self) -> ServerConfig:
        return ServerConfig(no_longer_supported=True)

    def test_every_call_refused(self, client: Any) -> None:
        with pytest.raises(client.exceptions.NoLongerSupportedException):
            client.list_vaults()
