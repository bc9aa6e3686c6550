"""From HTTP method and path to a Glacier operation name, and the call/reply value types.

Operation names are botocore's (``UploadMultipartPart``), because fault injection and request
statistics are keyed by them and tests speak botocore.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote

import attrs

from glacierlib.localserver.blobs import ServerStorage
from glacierlib.localserver.errors import GlacierError

__all__ = ["BodyReader", "Call", "OutputStream", "Reply", "Route", "match_route"]

UPLOAD_OPERATIONS = frozenset({"UploadArchive", "UploadMultipartPart"})


class BodyReader(Protocol):
    def readinto(self, buffer: memoryview) -> int | None: ...

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes in a new object (short only at the end of the body)."""
        ...


@attrs.frozen
class Route:
    operation: str
    account: str
    vault: str | None = None
    item: str | None = None


@attrs.frozen
class Call:
    """One authenticated request, as the service sees it."""

    route: Route
    region: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    reader: BodyReader | None = None
    content_length: int | None = None


@attrs.frozen
class OutputStream:
    """A window ``[start, end)`` over the concatenation of blob segments (job output)."""

    storage: ServerStorage
    segments: tuple[tuple[str, int], ...]
    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start

    def _spans(self) -> Iterator[tuple[str, int, int]]:
        offset = 0
        for key, size in self.segments:
            lo = max(self.start, offset)
            hi = min(self.end, offset + size)
            if lo < hi:
                yield key, lo - offset, hi - offset
            offset += size

    def chunks(self) -> Iterator[memoryview]:
        for key, lo, hi in self._spans():
            yield from self.storage.read(key, lo, hi)

    def file_spans(self) -> list[tuple[Path, int, int]] | None:
        """(file, offset, count) per segment when every blob is a file, for ``sendfile``."""
        spans = []
        for key, lo, hi in self._spans():
            path = self.storage.file_path(key)
            if path is None:
                return None
            spans.append((path, lo, hi - lo))
        return spans


@attrs.frozen
class Reply:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    stream: OutputStream | None = None


_VAULT_SUB: dict[tuple[str, str], str] = {
    ("POST", "archives"): "UploadArchive",
    ("POST", "multipart-uploads"): "InitiateMultipartUpload",
    ("GET", "multipart-uploads"): "ListMultipartUploads",
    ("POST", "jobs"): "InitiateJob",
    ("GET", "jobs"): "ListJobs",
    ("PUT", "notification-configuration"): "SetVaultNotifications",
    ("GET", "notification-configuration"): "GetVaultNotifications",
    ("DELETE", "notification-configuration"): "DeleteVaultNotifications",
    ("GET", "tags"): "ListTagsForVault",
    ("POST", "lock-policy"): "InitiateVaultLock",
    ("GET", "lock-policy"): "GetVaultLock",
    ("DELETE", "lock-policy"): "AbortVaultLock",
    ("PUT", "access-policy"): "SetVaultAccessPolicy",
    ("GET", "access-policy"): "GetVaultAccessPolicy",
    ("DELETE", "access-policy"): "DeleteVaultAccessPolicy",
}

_VAULT_ITEM: dict[tuple[str, str], str] = {
    ("DELETE", "archives"): "DeleteArchive",
    ("PUT", "multipart-uploads"): "UploadMultipartPart",
    ("POST", "multipart-uploads"): "CompleteMultipartUpload",
    ("DELETE", "multipart-uploads"): "AbortMultipartUpload",
    ("GET", "multipart-uploads"): "ListParts",
    ("GET", "jobs"): "DescribeJob",
    ("POST", "lock-policy"): "CompleteVaultLock",
}

_VAULT: dict[str, str] = {
    "PUT": "CreateVault",
    "GET": "DescribeVault",
    "DELETE": "DeleteVault",
}


def _unknown(method: str, path: str) -> GlacierError:
    return GlacierError(400, "BadRequest", f"No operation matches {method} {path[:200]}")


def match_route(method: str, path: str, query: Mapping[str, str]) -> Route:
    """Map a request to its operation; raise 400 BadRequest when nothing matches."""
    parts = [unquote(p) for p in path.split("/")]
    if len(parts) < 3 or parts[0] != "":
        raise _unknown(method, path)
    account, rest = parts[1], parts[2:]
    if rest == ["policies", "data-retrieval"]:
        op = {"PUT": "SetDataRetrievalPolicy", "GET": "GetDataRetrievalPolicy"}.get(method)
        if op:
            return Route(op, account)
    elif rest == ["provisioned-capacity"]:
        op = {"GET": "ListProvisionedCapacity", "POST": "PurchaseProvisionedCapacity"}.get(method)
        if op:
            return Route(op, account)
    elif rest[0] == "vaults":
        if len(rest) == 1 and method == "GET":
            return Route("ListVaults", account)
        if len(rest) == 2 and method in _VAULT:
            return Route(_VAULT[method], account, rest[1])
        if len(rest) == 3:
            if rest[2] == "tags" and method == "POST":
                op = {"add": "AddTagsToVault", "remove": "RemoveTagsFromVault"}.get(
                    query.get("operation", "")
                )
                if op:
                    return Route(op, account, rest[1])
            elif (method, rest[2]) in _VAULT_SUB:
                return Route(_VAULT_SUB[method, rest[2]], account, rest[1])
        if len(rest) == 4 and (method, rest[2]) in _VAULT_ITEM:
            return Route(_VAULT_ITEM[method, rest[2]], account, rest[1], rest[3])
        if len(rest) == 5 and method == "GET" and rest[2] == "jobs" and rest[4] == "output":
            return Route("GetJobOutput", account, rest[1], rest[3])
    raise _unknown(method, path)
