"""The narrow storage interface between the planner/operations and a Glacier endpoint.

Operations talk to a ``VaultStore``: only the calls the product uses, frozen values in and out,
typed errors from :mod:`glacierlib.exceptions` (never botocore's ``ClientError``). The one real
implementation is :class:`glacierlib.client.GlacierStore` (botocore, for AWS or the local
server); wrappers in :mod:`glacierlib.wrappers` add logging and retries without the operations
knowing. Keeping the surface this small is what lets S3 storage classes become one more
implementation later instead of a second sync.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Literal, Protocol, runtime_checkable

import attrs

from glacierlib.treehash import ByteRange, PartHashes, TreeHash, hash_part

__all__ = [
    "ArchiveCreated",
    "InventoryParameters",
    "JobDescription",
    "JobOutput",
    "MultipartUpload",
    "PartBody",
    "PartInfo",
    "RetrievalPolicy",
    "StoreCapabilities",
    "VaultInfo",
    "VaultStore",
]

Tier = Literal["Expedited", "Standard", "Bulk"]
InventoryFormat = Literal["JSON", "CSV"]
JobAction = Literal["ArchiveRetrieval", "InventoryRetrieval", "Select"]
JobStatus = Literal["InProgress", "Succeeded", "Failed"]


@attrs.frozen
class StoreCapabilities:
    """What a store can do, so tests and operations branch on abilities, not target names."""

    max_connections: int = 10
    verifies_tree_hashes: bool = True
    controllable_clock: bool = False


@attrs.frozen
class PartBody:
    """An upload body read from disk once, with both hashes from that same pass.

    Bytes in memory make ``rewind`` free: a retried request re-sends the same buffer, and
    botocore never hashes it again because both checksum headers are supplied.
    """

    data: bytes | bytearray | memoryview = attrs.field(repr=False)
    sha256: bytes = attrs.field(repr=lambda d: d.hex())
    tree_hash: TreeHash

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> PartBody:
        hashes: PartHashes = hash_part(data)
        return cls(data, hashes.sha256, hashes.tree_hash)

    @property
    def length(self) -> int:
        return memoryview(self.data).nbytes

    def verify(self) -> bool:
        """Recompute both hashes (tests and paranoid callers)."""
        again = hash_part(self.data)
        return again.sha256 == self.sha256 and again.tree_hash == self.tree_hash


@attrs.frozen
class ArchiveCreated:
    """An archive the store has accepted (single upload or completed multipart).

    ``lost_replies`` counts earlier attempts of a single-request upload that failed after the
    request may have reached the service (connection dropped, reply cut off or timed out).
    UploadArchive has no idempotency token, so each such attempt may have stored a copy that
    nobody knows the id of: the caller tells the user instead of staying silent.
    """

    archive_id: str
    tree_hash: TreeHash
    size: int
    location: str = ""
    lost_replies: int = attrs.field(default=0, validator=attrs.validators.ge(0))


@attrs.frozen
class VaultInfo:
    """DescribeVault / ListVaults entry. Counts are as of the last inventory, not live."""

    name: str
    arn: str
    creation_date: str
    last_inventory_date: str | None = None
    number_of_archives: int = 0
    size_in_bytes: int = 0


@attrs.frozen
class MultipartUpload:
    """An unfinished multipart upload (ListMultipartUploads, ListParts header fields)."""

    upload_id: str
    part_size: int
    creation_date: str
    archive_description: str | None = None
    vault_arn: str = ""


@attrs.frozen
class PartInfo:
    """One uploaded part as ListParts reports it."""

    byte_range: ByteRange
    tree_hash: TreeHash


@attrs.frozen
class InventoryParameters:
    """InventoryRetrievalParameters; a "full" inventory has none of the four set."""

    start_date: str | None = None
    end_date: str | None = None
    limit: str | None = None
    marker: str | None = None

    @property
    def is_full(self) -> bool:
        return not (self.start_date or self.end_date or self.limit or self.marker)


@attrs.frozen
class JobDescription:
    """GlacierJobDescription (DescribeJob, ListJobs). Absent fields are ``None``."""

    job_id: str
    action: str
    status_code: str
    completed: bool
    creation_date: str
    completion_date: str | None = None
    status_message: str | None = None
    archive_id: str | None = None
    archive_size: int | None = None
    archive_tree_hash: TreeHash | None = None
    sha256_tree_hash: TreeHash | None = None
    retrieval_byte_range: ByteRange | None = None
    tier: str | None = None
    description: str | None = None
    sns_topic: str | None = None
    inventory_size: int | None = None
    inventory_format: str | None = None
    inventory_parameters: InventoryParameters | None = None
    vault_arn: str = ""

    @property
    def succeeded(self) -> bool:
        return self.completed and self.status_code == "Succeeded"


@attrs.frozen
class RetrievalPolicy:
    """GetDataRetrievalPolicy's rule: ``None``, ``FreeTier`` or ``BytesPerHour`` (with
    ``bytes_per_hour``). It limits Standard-tier archive retrievals of the whole account."""

    strategy: str
    bytes_per_hour: int | None = None


@attrs.frozen
class JobOutput:
    """GetJobOutput response: headers as values, the body as a stream to read and close.

    ``body`` yields at most ``content_length`` bytes; read it in chunks (``read(n)``) so an
    archive is never held whole in memory. ``tree_hash`` is present only when the service sent
    ``x-amz-sha256-tree-hash`` (tree-hash aligned ranges of archive output).
    """

    status: int
    content_length: int
    content_type: str
    body: BinaryIO = attrs.field(repr=False, eq=False)
    content_range: ByteRange | None = None
    total_length: int | None = None
    tree_hash: TreeHash | None = None
    archive_description: str | None = None

    def close(self) -> None:
        self.body.close()


@runtime_checkable
class VaultStore(Protocol):
    """Everything the product asks of a Glacier endpoint.

    Implementations must be safe to call from several threads at once. Deleting an archive or
    aborting an upload that is already gone is success, not an error.
    """

    @property
    def capabilities(self) -> StoreCapabilities: ...

    # vaults
    def create_vault(self, vault: str) -> None: ...
    def delete_vault(self, vault: str) -> None: ...
    def describe_vault(self, vault: str) -> VaultInfo: ...
    def list_vaults(self) -> Iterator[VaultInfo]: ...

    # archives
    def upload_archive(self, vault: str, body: PartBody, description: str) -> ArchiveCreated: ...
    def delete_archive(self, vault: str, archive_id: str) -> None: ...

    # multipart
    def initiate_multipart_upload(self, vault: str, part_size: int, description: str) -> str: ...
    def upload_part(self, vault: str, upload_id: str, offset: int, body: PartBody) -> TreeHash: ...
    def complete_multipart_upload(
        self, vault: str, upload_id: str, archive_size: int, tree_hash: TreeHash
    ) -> ArchiveCreated: ...
    def abort_multipart_upload(self, vault: str, upload_id: str) -> None: ...
    def list_parts(self, vault: str, upload_id: str) -> Iterator[PartInfo]: ...
    def list_multipart_uploads(self, vault: str) -> Iterator[MultipartUpload]: ...

    # jobs
    def initiate_archive_retrieval(
        self, vault: str, archive_id: str, *, tier: str | None = None,
        description: str | None = None, sns_topic: str | None = None,
        byte_range: ByteRange | None = None,
    ) -> str: ...
    def initiate_inventory_retrieval(
        self, vault: str, *, format: str = "JSON", description: str | None = None,
        sns_topic: str | None = None, parameters: InventoryParameters | None = None,
    ) -> str: ...
    def describe_job(self, vault: str, job_id: str) -> JobDescription: ...
    def list_jobs(
        self, vault: str, *, completed: bool | None = None, status_code: str | None = None
    ) -> Iterator[JobDescription]: ...
    def get_job_output(
        self, vault: str, job_id: str, byte_range: ByteRange | None = None
    ) -> JobOutput: ...

    # notifications
    def set_vault_notifications(self, vault: str, sns_topic: str, events: list[str]) -> None: ...
    def get_vault_notifications(self, vault: str) -> tuple[str, list[str]] | None: ...
    def delete_vault_notifications(self, vault: str) -> None: ...

    # account
    def get_data_retrieval_policy(self) -> RetrievalPolicy: ...

