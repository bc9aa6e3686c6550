"""HTTP-level behaviour: 100-continue, keep-alive, foreign clients, streaming memory bound."""

from __future__ import annotations

import hashlib
import socket
import tracemalloc
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from glacierlib.localserver import LocalServer, running_server
from glacierlib.treehash import MIB, tree_hash_bytes

_SESSION = botocore.session.get_session()


def _signed(server: LocalServer, method: str, path: str, body: bytes,
            headers: dict[str, str], host: str | None = None) -> dict[str, str]:
    url = urlsplit(server.endpoint_url)
    request = AWSRequest(method=method, url=f"http://{host or url.netloc}{path}", data=body,
                         headers={"x-amz-glacier-version": "2012-06-01", **headers})
    SigV4Auth(Credentials(server.access_key, server.secret_key), "glacier",
              server.region).add_auth(request)
    return {"Host": host or url.netloc, **dict(request.headers.items())}


def _connect(server: LocalServer) -> socket.socket:
    url = urlsplit(server.endpoint_url)
    return socket.create_connection((url.hostname or "", url.port or 0), timeout=10)


def _read_reply(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_expect_100_continue(local_server: LocalServer, glacier_client: Any) -> None:
    glacier_client.create_vault(vaultName="v")
    body = b"sent after 100 Continue"
    digest = hashlib.sha256(body).hexdigest()
    headers = _signed(local_server, "POST", "/-/vaults/v/archives", body, {
        "x-amz-content-sha256": digest, "x-amz-sha256-tree-hash": digest,
    })
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with _connect(local_server) as sock:
        sock.sendall(
            f"POST /-/vaults/v/archives HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        interim = _read_reply(sock)
        assert interim.startswith(b"HTTP/1.1 100")
        sock.sendall(body)
        final = _read_reply(sock)
    assert final.startswith(b"HTTP/1.1 201"), final[:200]


def test_keep_alive_many_requests_one_connection(local_server: LocalServer) -> None:
    client = _SESSION.create_client("glacier", config=Config(max_pool_connections=1),
                                    **local_server.client_kwargs())
    client.create_vault(vaultName="v")
    for _ in range(20):
        client.upload_archive(vaultName="v", body=b"x" * 100)
        client.describe_vault(vaultName="v")
    assert local_server.control.stats()["requests"]["UploadArchive"] == 20


def test_mt_aws_glacier_style_request(local_server: LocalServer, glacier_client: Any) -> None:
    """Signed for glacier.<region>.amazonaws.com, form content type, Connection: close."""
    glacier_client.create_vault(vaultName="v")
    body = b'{\n  "Type" : "inventory-retrieval"\n}\n'
    host = "glacier.us-east-1.amazonaws.com"
    headers = _signed(local_server, "POST", "/-/vaults/v/jobs", body, {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
    }, host=host)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    with _connect(local_server) as sock:
        sock.sendall(f"POST /-/vaults/v/jobs HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\n"
                     "Connection: close\r\n\r\n".encode() + body)
        reply = _read_reply(sock)
        assert reply.startswith(b"HTTP/1.1 202"), reply[:300]
        assert b"x-amz-job-id: " in reply
        sock.settimeout(5)
        assert sock.recv(100) == b""  # the server closed as asked


def test_disk_upload_is_streamed_not_buffered(tmp_path: Path) -> None:
    part = bytes(range(256)) * (32 * MIB // 256)
    checksum = tree_hash_bytes(part).hex
    content = hashlib.sha256(part).hexdigest()
    with running_server(tmp_path) as server:
        client = _SESSION.create_client("glacier", config=Config(retries={"max_attempts": 0}),
                                        **server.client_kwargs())
        client.create_vault(vaultName="v")
        upload_id = client.initiate_multipart_upload(vaultName="v", partSize=str(32 * MIB))[
            "uploadId"]

        def supply(params: dict[str, Any], **_: Any) -> None:
            params["headers"]["x-amz-content-sha256"] = content

        client.meta.events.register_first("before-call.glacier.UploadMultipartPart", supply)
        tracemalloc.start()
        try:
            client.upload_multipart_part(vaultName="v", uploadId=upload_id,
                                         range=f"bytes 0-{32 * MIB - 1}/*", body=part,
                                         checksum=checksum)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 12 * MIB, f"peak {peak / MIB:.1f} MiB for a 32 MiB part"
