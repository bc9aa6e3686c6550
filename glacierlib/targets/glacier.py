"""The ``Target`` interface over a vault: a thin adapter that delegates to ``VaultStore``.

Everything network-facing (hashing headers, retries, error translation, job-output streams
that resume) stays in :class:`glacierlib.client.GlacierStore` and its wrappers; this module only
translates between the planner's words and the vault's: provenance becomes an mt2 description
(:func:`glacierlib.metadata.encode_mt2`), "make readable" an archive-retrieval job, a listing
an inventory job whose output is parsed by :mod:`glacierlib.inventory`. Wrapping the whole
store stack (logging, retries, offloading) means the adapter inherits all of it unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator

from glacierlib.exceptions import InvalidRequest, NothingReadyYet
from glacierlib.inventory import open_inventory
from glacierlib.metadata import MAX_DESCRIPTION_LENGTH, decode_description, encode_mt2
from glacierlib.names import is_safe_relative_name
from glacierlib.storage import PartBody, VaultStore
from glacierlib.targets.base import (
    GIB,
    ListedObject,
    ListingTicket,
    Provenance,
    Readability,
    ReadStream,
    ReadTicket,
    SentPart,
    StoredObject,
    Target,
    TargetCapabilities,
    UnfinishedUpload,
    Upload,
)
from glacierlib.treehash import MIB, ByteRange, TreeHash

__all__ = ["GlacierTarget", "glacier_capabilities", "vault_target"]


def glacier_capabilities(max_connections: int = 10) -> TargetCapabilities:
    """Glacier's limits: 1 MiB x 2^n parts up to 4 GiB, 10,000 of them, 40,000 GiB archives."""
    return TargetCapabilities(
        kind="glacier", restore_needed=True, checksum_algorithm="sha256-tree", listing="job",
        max_parts=10_000, min_part_size=MIB, max_part_size=4 * GIB,
        part_size_rule="power-of-two-mib", max_object_size=10_000 * 4 * GIB,
        tree_hash_before_multipart=False, max_name_bytes=MAX_DESCRIPTION_LENGTH,
        min_storage_days=90, max_connections=max_connections,
    )


class GlacierTarget:
    """A vault seen through :class:`glacierlib.targets.base.Target` (safe across threads)."""

    def __init__(self, store: VaultStore, vault: str) -> None:
        self._store = store
        self._vault = vault
        self._capabilities = glacier_capabilities(store.capabilities.max_connections)

    def __repr__(self) -> str:
        return f"GlacierTarget(vault={self._vault!r})"

    @property
    def capabilities(self) -> TargetCapabilities:
        return self._capabilities

    @property
    def identity(self) -> str:
        return f"vault {self._vault!r}"

    @property
    def store(self) -> VaultStore:
        return self._store

    def key_for(self, name: str) -> str:
        encode_mt2(name, 0)  # raises MetadataError naming the file when it cannot be stored
        return name

    # ------------------------------------------------------------------ store

    def store_small(self, provenance: Provenance, body: PartBody) -> StoredObject:
        description = encode_mt2(provenance.name, provenance.mtime)
        created = self._store.upload_archive(self._vault, body, description)
        return StoredObject(created.archive_id, created.size, created.tree_hash,
                            created.lost_replies)

    def start_upload(self, provenance: Provenance, part_size: int) -> Upload:
        description = encode_mt2(provenance.name, provenance.mtime)
        upload_id = self._store.initiate_multipart_upload(self._vault, part_size, description)
        return Upload(upload_id, provenance.name, part_size)

    def send_part(self, upload: Upload, offset: int, body: PartBody) -> SentPart:
        tree = self._store.upload_part(self._vault, upload.upload_id, offset, body)
        return SentPart(offset // upload.part_size + 1,
                        ByteRange(offset, offset + body.length), tree.hex)

    def finish_upload(self, upload: Upload, size: int, tree_hash: TreeHash) -> StoredObject:
        created = self._store.complete_multipart_upload(
            self._vault, upload.upload_id, size, tree_hash)
        return StoredObject(created.archive_id, created.size, created.tree_hash)

    def abort_upload(self, upload: Upload) -> None:
        self._store.abort_multipart_upload(self._vault, upload.upload_id)

    def list_parts(self, upload: Upload) -> Iterator[SentPart]:
        for part in self._store.list_parts(self._vault, upload.upload_id):
            yield SentPart(part.byte_range.start // upload.part_size + 1, part.byte_range,
                           part.tree_hash.hex)

    def list_unfinished_uploads(self) -> Iterator[UnfinishedUpload]:
        for item in self._store.list_multipart_uploads(self._vault):
            name = decode_description(item.archive_description).name
            safe = name if name is not None and is_safe_relative_name(name) else None
            yield UnfinishedUpload(item.upload_id, item.archive_description or "",
                                   item.creation_date, safe, item.part_size or None)

    def delete(self, ref: str) -> None:
        self._store.delete_archive(self._vault, ref)

    # ------------------------------------------------------------------ read

    def request_readable(self, ref: str, *, tier: str = "Standard", days: int = 1
                         ) -> ReadTicket:
        """Start an archive-retrieval job; ``days`` does not apply (job output lasts ~24 h)."""
        job_id = self._store.initiate_archive_retrieval(self._vault, ref, tier=tier)
        return ReadTicket(ref, "started", job_id)

    def readability(self, ticket: ReadTicket) -> Readability:
        job = self._store.describe_job(self._vault, self._job(ticket))
        failed = None if not job.completed or job.succeeded else (
            job.status_message or job.status_code)
        return Readability(job.succeeded, not job.completed, None, failed)

    def read_range(self, ticket: ReadTicket, byte_range: ByteRange | None = None
                   ) -> ReadStream:
        output = self._store.get_job_output(self._vault, self._job(ticket), byte_range)
        return ReadStream(output.body, output.content_length, output.content_range,
                          output.total_length, None, output.tree_hash)

    @staticmethod
    def _job(ticket: ReadTicket) -> str:
        if ticket.job_id is None:
            raise InvalidRequest(f"archive {ticket.ref}: a vault read needs a retrieval job")
        return ticket.job_id

    # ------------------------------------------------------------------ list

    def start_listing(self) -> ListingTicket:
        return ListingTicket(self._store.initiate_inventory_retrieval(self._vault))

    def listing_ready(self, ticket: ListingTicket) -> bool:
        if ticket.job_id is None:
            return False
        return self._store.describe_job(self._vault, ticket.job_id).succeeded

    def list_objects(self, ticket: ListingTicket) -> Iterator[ListedObject]:
        if ticket.job_id is None or not self.listing_ready(ticket):
            raise NothingReadyYet(f"the inventory of vault {self._vault!r} is not ready yet")
        output = self._store.get_job_output(self._vault, ticket.job_id)
        try:
            reader = open_inventory(output.body, content_type=output.content_type or None)
            for archive in reader:
                decoded = decode_description(archive.description)
                name = decoded.name if decoded.name is not None and is_safe_relative_name(
                    decoded.name) else None
                yield ListedObject(archive.archive_id, archive.description, archive.size,
                                   name, decoded.mtime, archive.tree_hash)
        finally:
            output.close()


def vault_target(store: VaultStore, vault: str) -> Target:
    """``vault`` of ``store`` (any wrapper stack) as a ``Target``; typed so mypy proves that
    ``GlacierTarget`` implements the protocol."""
    return GlacierTarget(store, vault)
