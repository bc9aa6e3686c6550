"""A store that forwards every ``VaultStore`` call to an inner store.

Wrappers subclass this and override only the calls they change. Every method is spelled out
(no ``__getattr__``) so that mypy checks the whole interface, and a method added to
``VaultStore`` later fails type checking here until it is forwarded on purpose.
"""

from __future__ import annotations

from collections.abc import Iterator

from glacierlib.storage import (
    ArchiveCreated,
    InventoryParameters,
    JobDescription,
    JobOutput,
    MultipartUpload,
    PartBody,
    PartInfo,
    RetrievalPolicy,
    StoreCapabilities,
    VaultInfo,
    VaultStore,
)
from glacierlib.treehash import ByteRange, TreeHash

__all__ = ["ForwardingStore"]


class ForwardingStore:
    """Forwards to ``inner``; ``close()`` closes the inner store when it can be closed."""

    def __init__(self, inner: VaultStore) -> None:
        self._inner = inner

    @property
    def inner(self) -> VaultStore:
        return self._inner

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._inner!r})"

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> ForwardingStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def capabilities(self) -> StoreCapabilities:
        return self._inner.capabilities

    # vaults
    def create_vault(self, vault: str) -> None:
        self._inner.create_vault(vault)

    def delete_vault(self, vault: str) -> None:
        self._inner.delete_vault(vault)

    def describe_vault(self, vault: str) -> VaultInfo:
        return self._inner.describe_vault(vault)

    def list_vaults(self) -> Iterator[VaultInfo]:
        return self._inner.list_vaults()

    # archives
    def upload_archive(self, vault: str, body: PartBody, description: str) -> ArchiveCreated:
        return self._inner.upload_archive(vault, body, description)

    def delete_archive(self, vault: str, archive_id: str) -> None:
        self._inner.delete_archive(vault, archive_id)

    # multipart
    def initiate_multipart_upload(self, vault: str, part_size: int, description: str) -> str:
        return self._inner.initiate_multipart_upload(vault, part_size, description)

    def upload_part(self, vault: str, upload_id: str, offset: int, body: PartBody) -> TreeHash:
        return self._inner.upload_part(vault, upload_id, offset, body)

    def complete_multipart_upload(
        self, vault: str, upload_id: str, archive_size: int, tree_hash: TreeHash
    ) -> ArchiveCreated:
        return self._inner.complete_multipart_upload(vault, upload_id, archive_size, tree_hash)

    def abort_multipart_upload(self, vault: str, upload_id: str) -> None:
        self._inner.abort_multipart_upload(vault, upload_id)

    def list_parts(self, vault: str, upload_id: str) -> Iterator[PartInfo]:
        return self._inner.list_parts(vault, upload_id)

    def list_multipart_uploads(self, vault: str) -> Iterator[MultipartUpload]:
        return self._inner.list_multipart_uploads(vault)

    # jobs
    def initiate_archive_retrieval(
        self, vault: str, archive_id: str, *, tier: str | None = None,
        description: str | None = None, sns_topic: str | None = None,
        byte_range: ByteRange | None = None,
    ) -> str:
        return self._inner.initiate_archive_retrieval(
            vault, archive_id, tier=tier, description=description, sns_topic=sns_topic,
            byte_range=byte_range,
        )

    def initiate_inventory_retrieval(
        self, vault: str, *, format: str = "JSON", description: str | None = None,
        sns_topic: str | None = None, parameters: InventoryParameters | None = None,
    ) -> str:
        return self._inner.initiate_inventory_retrieval(
            vault, format=format, description=description, sns_topic=sns_topic,
            parameters=parameters,
        )

    def describe_job(self, vault: str, job_id: str) -> JobDescription:
        return self._inner.describe_job(vault, job_id)

    def list_jobs(
        self, vault: str, *, completed: bool | None = None, status_code: str | None = None
    ) -> Iterator[JobDescription]:
        return self._inner.list_jobs(vault, completed=completed, status_code=status_code)

    def get_job_output(
        self, vault: str, job_id: str, byte_range: ByteRange | None = None
    ) -> JobOutput:
        return self._inner.get_job_output(vault, job_id, byte_range)

    # notifications
    def set_vault_notifications(self, vault: str, sns_topic: str, events: list[str]) -> None:
        self._inner.set_vault_notifications(vault, sns_topic, events)

    def get_vault_notifications(self, vault: str) -> tuple[str, list[str]] | None:
        return self._inner.get_vault_notifications(vault)

    def delete_vault_notifications(self, vault: str) -> None:
        self._inner.delete_vault_notifications(vault)

    # account
    def get_data_retrieval_policy(self) -> RetrievalPolicy:
        return self._inner.get_data_retrieval_policy()
