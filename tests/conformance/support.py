"""Helpers shared by the conformance tests (imported relatively: ``from .support import``)."""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import botocore.session
import pytest
from botocore.config import Config

from glacierlib.localserver import LocalServer
from glacierlib.treehash import MIB, TreeHasher

#: One session for all clients: it caches the loaded service model.
_SESSION = botocore.session.get_session()


#: Hashes of bodies the tests upload again and again (keyed by content), so botocore does not
#: recompute them on every call: the suite then spends its time in the server.
_KNOWN_HASHES: dict[bytes, tuple[str, str]] = {}


def remember_hashes(body: bytes) -> bytes:
    if body not in _KNOWN_HASHES:
        _KNOWN_HASHES[body] = (hashlib.sha256(body).hexdigest(), TreeHasher(body).hexdigest())
    return body


def _supply_known_hashes(params: dict[str, Any], **_: Any) -> None:
    body = params.get("body")
    known = _KNOWN_HASHES.get(body) if isinstance(body, bytes) else None
    if known is not None:
        params["headers"].setdefault("x-amz-content-sha256", known[0])
        params["headers"].setdefault("x-amz-sha256-tree-hash", known[1])


def make_client(server: LocalServer, **config: Any) -> Any:
    """A botocore glacier client for ``server``; no retries unless asked for."""
    return client_for(server.client_kwargs(), **config)


def client_for(kwargs: dict[str, str], **config: Any) -> Any:
    """A botocore glacier client from ``create_client`` keyword arguments."""
    options: dict[str, Any] = {"retries": {"max_attempts": 0, "mode": "standard"}}
    options.update(config)
    client = _SESSION.create_client("glacier", config=Config(**options), **kwargs)
    for operation in ("UploadArchive", "UploadMultipartPart"):
        client.meta.events.register_first(
            f"before-call.glacier.{operation}", _supply_known_hashes
        )
    return client


@functools.lru_cache(maxsize=16)
def pattern(n: int) -> bytes:
    """``P(n)`` of the reference: ``bytes(i % 251 for i in range(n))``, built fast."""
    block = bytes(range(251))
    return (block * (n // 251 + 1))[:n]


def error_code(exc_info: pytest.ExceptionInfo[Any]) -> str:
    return str(exc_info.value.response["Error"]["Code"])


def error_message(exc_info: pytest.ExceptionInfo[Any]) -> str:
    return str(exc_info.value.response["Error"]["Message"])


def upload_multipart(client: Any, vault: str, data: bytes, part_size: int = MIB,
                     description: str | None = None) -> dict[str, Any]:
    """Upload ``data`` in parts in order and complete; returns the Complete response."""
    kwargs: dict[str, Any] = {"vaultName": vault, "partSize": str(part_size)}
    if description is not None:
        kwargs["archiveDescription"] = description
    upload_id = client.initiate_multipart_upload(**kwargs)["uploadId"]
    for start in range(0, len(data), part_size):
        chunk = remember_hashes(data[start : start + part_size])
        client.upload_multipart_part(
            vaultName=vault, uploadId=upload_id,
            range=f"bytes {start}-{start + len(chunk) - 1}/*", body=chunk,
        )
    return dict(
        client.complete_multipart_upload(
            vaultName=vault, uploadId=upload_id, archiveSize=str(len(data)),
            checksum=_whole_hash(data),
        )
    )


@functools.lru_cache(maxsize=16)
def _whole_hash(data: bytes) -> str:
    return TreeHasher(data).hexdigest()
