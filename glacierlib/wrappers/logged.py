"""Log every store call at DEBUG: what was asked, how long it took, how it ended.

Only safe fields are logged: vault names, ids, sizes, ranges, hashes. Bodies, descriptions
(which encode file names and may be long) and anything credential-like never are. Failures are
logged at DEBUG too: the caller decides whether an error is worth telling the user.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from glacierlib.exceptions import GlacierlibError
from glacierlib.storage import (
    ArchiveCreated,
    InventoryParameters,
    JobDescription,
    JobOutput,
    MultipartUpload,
    PartBody,
    PartInfo,
    VaultInfo,
)
from glacierlib.treehash import ByteRange, TreeHash
from glacierlib.wrappers.forwarding import ForwardingStore

__all__ = ["LoggedStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class LoggedStore(ForwardingStore):
    """Forwards every call and logs it (name, safe arguments, duration, outcome)."""

    def _run(self, name: str, detail: str, call: Callable[[], T]) -> T:
        if not logger.isEnabledFor(logging.DEBUG):
            return call()
        started = time.monotonic()
        try:
            result = call()
        except GlacierlibError as exc:
            logger.debug("%s(%s) failed after %.3fs: %s: %s", name, detail,
                         time.monotonic() - started, type(exc).__name__, exc)
            raise
        logger.debug("%s(%s) ok in %.3fs", name, detail, time.monotonic() - started)
        return result

    def _iterate(self, name: str, detail: str, items: Callable[[], Iterator[T]]) -> Iterator[T]:
        count = 0
        started = time.monotonic()
        try:
            for item in items():
                count += 1
                yield item
        except GlacierlibError as exc:
            logger.debug("%s(%s) failed after %d items: %s: %s", name, detail, count,
                         type(exc).__name__, exc)
            raise
        logger.debug("%s(%s) listed %d items in %.3fs", name, detail, count,
                     time.monotonic() - started)

    # vaults
    def create_vault(self, vault: str) -> None:
        self._run("create_vault", repr(vault), lambda: self._inner.create_vault(vault))

    def delete_vault(self, vault: str) -> None:
        self._run("delete_vault", repr(vault), lambda: self._inner.delete_vault(vault))

    def describe_vault(self, vault: str) -> VaultInfo:
        return self._run("describe_vault", repr(vault), lambda: self._inner.describe_vault(vault))

    def list_vaults(self) -> Iterator[VaultInfo]:
        return self._iterate("list_vaults", "", self._inner.list_vaults)

    # archives
    def upload_archive(self, vault: str, body: PartBody, description: str) -> ArchiveCreated:
        detail = f"{vault!r}, {body.length} bytes, tree hash {body.tree_hash.hex}"
        return self._run("upload_archive", detail,
                         lambda: self._inner.upload_archive(vault, body, description))

    def delete_archive(self, vault: str, archive_id: str) -> None:
        self._run("delete_archive", f"{vault!r}, {archive_id}",
                  lambda: self._inner.delete_archive(vault, archive_id))

    # multipart
    def initiate_multipart_upload(self, vault: str, part_size: int, description: str) -> str:
        return self._run(
            "initiate_multipart_upload", f"{vault!r}, part size {part_size}",
            lambda: self._inner.initiate_multipart_upload(vault, part_size, description),
        )

    def upload_part(self, vault: str, upload_id: str, offset: int, body: PartBody) -> TreeHash:
        detail = f"{vault!r}, {upload_id}, offset {offset}, {body.length} bytes"
        return self._run("upload_part", detail,
                         lambda: self._inner.upload_part(vault, upload_id, offset, body))

    def complete_multipart_upload(
        self, vault: str, upload_id: str, archive_size: int, tree_hash: TreeHash
    ) -> ArchiveCreated:
        detail = f"{vault!r}, {upload_id}, {archive_size} bytes, tree hash {tree_hash.hex}"
        return self._run(
            "complete_multipart_upload", detail,
            lambda: self._inner.complete_multipart_upload(vault, upload_id, archive_size,
                                                          tree_hash),
        )

    def abort_multipart_upload(self, vault: str, upload_id: str) -> None:
        self._run("abort_multipart_upload", f"{vault!r}, {upload_id}",
                  lambda: self._inner.abort_multipart_upload(vault, upload_id))

    def list_parts(self, vault: str, upload_id: str) -> Iterator[PartInfo]:
        return self._iterate("list_parts", f"{vault!r}, {upload_id}",
                             lambda: self._inner.list_parts(vault, upload_id))

    def list_multipart_uploads(self, vault: str) -> Iterator[MultipartUpload]:
        return self._iterate("list_multipart_uploads", repr(vault),
                             lambda: self._inner.list_multipart_uploads(vault))

    # jobs
    def initiate_archive_retrieval(
        self, vault: str, archive_id: str, *, tier: str | None = None,
        description: str | None = None, sns_topic: str | None = None,
        byte_range: ByteRange | None = None,
    ) -> str:
        span = byte_range.inclusive() if byte_range else "all"
        return self._run(
            "initiate_archive_retrieval", f"{vault!r}, {archive_id}, tier {tier}, bytes {span}",
            lambda: self._inner.initiate_archive_retrieval(
                vault, archive_id, tier=tier, description=description, sns_topic=sns_topic,
                byte_range=byte_range,
            ),
        )

    def initiate_inventory_retrieval(
        self, vault: str, *, format: str = "JSON", description: str | None = None,
        sns_topic: str | None = None, parameters: InventoryParameters | None = None,
    ) -> str:
        return self._run(
            "initiate_inventory_retrieval", f"{vault!r}, {format}",
            lambda: self._inner.initiate_inventory_retrieval(
                vault, format=format, description=description, sns_topic=sns_topic,
                parameters=parameters,
            ),
        )

    def describe_job(self, vault: str, job_id: str) -> JobDescription:
        return self._run("describe_job", f"{vault!r}, {job_id}",
                         lambda: self._inner.describe_job(vault, job_id))

    def list_jobs(
        self, vault: str, *, completed: bool | None = None, status_code: str | None = None
    ) -> Iterator[JobDescription]:
        return self._iterate(
            "list_jobs", f"{vault!r}, completed={completed}, status={status_code}",
            lambda: self._inner.list_jobs(vault, completed=completed, status_code=status_code),
        )

    def get_job_output(
        self, vault: str, job_id: str, byte_range: ByteRange | None = None
    ) -> JobOutput:
        span = byte_range.inclusive() if byte_range else "all"
        return self._run("get_job_output", f"{vault!r}, {job_id}, bytes {span}",
                         lambda: self._inner.get_job_output(vault, job_id, byte_range))

    # notifications
    def set_vault_notifications(self, vault: str, sns_topic: str, events: list[str]) -> None:
        self._run("set_vault_notifications", f"{vault!r}, {sns_topic}, {events}",
                  lambda: self._inner.set_vault_notifications(vault, sns_topic, events))

    def get_vault_notifications(self, vault: str) -> tuple[str, list[str]] | None:
        return self._run("get_vault_notifications", repr(vault),
                         lambda: self._inner.get_vault_notifications(vault))

    def delete_vault_notifications(self, vault: str) -> None:
        self._run("delete_vault_notifications", repr(vault),
                  lambda: self._inner.delete_vault_notifications(vault))
