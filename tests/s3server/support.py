"""Helpers for S3 face tests: clients, error codes and bodies sent as current botocore can."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from glacierlib.localserver import LocalServer

_SESSION = botocore.session.get_session()
MIB = 1 << 20


def make_s3_client(server: LocalServer, *, region: str | None = None, **config: Any) -> Any:
    """A path-style botocore s3 client for ``server`` (retries off unless asked for)."""
    options: dict[str, Any] = {"retries": {"max_attempts": 0, "mode": "standard"},
                               "s3": {"addressing_style": "path"}}
    options.update(config)
    kwargs = server.client_kwargs()
    if region is not None:
        kwargs["region_name"] = region
    return _SESSION.create_client("s3", config=Config(**options), **kwargs)


def error_of(call: Any, *args: Any, **kwargs: Any) -> tuple[int, str, dict[str, Any]]:
    """Run a botocore call that must fail: (HTTP status, error code, response)."""
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    response = info.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response


def force_trailer(client: Any, operation: str) -> None:
    """Make botocore send ``aws-chunked`` with a trailing checksum over plain HTTP, exactly as
    it does by default over TLS (STREAMING-UNSIGNED-PAYLOAD-TRAILER, Transfer-Encoding
    chunked, x-amz-trailer, x-amz-decoded-content-length)."""

    def flip(params: Any, **_: Any) -> None:
        algorithm = params["context"].get("checksum", {}).get("request_algorithm")
        if isinstance(algorithm, dict):
            algorithm["in"] = "trailer"

    client.meta.events.register(f"before-call.s3.{operation}", flip)


def corrupt_trailer(client: Any, operation: str) -> None:
    """After signing, replace the trailing checksum's value with a wrong one."""

    def swap(request: Any, **_: Any) -> None:
        body = request.body.read() if hasattr(request.body, "read") else bytes(request.body)
        head, sep, _tail = body.rpartition(b"x-amz-checksum-crc32:")
        assert sep, "no trailer in the body"
        request.body = head + sep + b"AAAAAA==\r\n\r\n"

    client.meta.events.register(f"before-send.s3.{operation}", swap)


def pattern(size: int, seed: int = 0) -> bytes:
    block = bytes((i * 31 + seed) % 251 for i in range(4096))
    return (block * (size // len(block) + 1))[:size]
