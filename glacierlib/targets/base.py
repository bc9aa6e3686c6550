"""The target-neutral storage interface: what a vault and an S3 bucket both can honour.

The planner and the executor were written against :class:`glacierlib.storage.VaultStore`,
which is Glacier's API with typed values. S3 has the same upload shapes (a single put or a
multipart upload, parts, complete, abort, list parts) but a different identity (a key, not an
archive id), metadata instead of a description, and a different retrieval model (RestoreObject
then plain ranged GETs of the same key, not a job whose output is read). :class:`Target` is
the part both can do, in the planner's words:

* the planner hands over a :class:`Provenance` (name, mtime, tree hash) and a body; the target
  decides how provenance is stored (an mt2 description for vaults, ``x-amz-meta-*`` for S3) and
  answers with a :class:`StoredObject` whose ``ref`` is the journal's archive-id column
  (:mod:`glacierlib.targets.refs` defines the S3 encoding);
* "make it readable" returns a :class:`ReadTicket` (a Glacier job id, or nothing for S3, whose
  reads go to the key itself), so "is it readable yet" and "read a byte range" take a ticket
  and neither caller nor executor knows which model is behind it;
* a listing is a :class:`ListingTicket` that is ready at once for S3 (ListObjectsV2) and after
  hours for a vault (an inventory job).

What differs and matters to the planner is declared in :class:`TargetCapabilities`, so code
branches on abilities ("needs a restore", "tree hash must be known before a multipart upload
starts"), never on the target's name. Values are frozen attrs classes, validated when built.
No botocore here: this module sits below the executor and the planner.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Literal, Protocol, runtime_checkable

import attrs

from glacierlib.storage import PartBody
from glacierlib.treehash import MIB, ByteRange, TreeHash

__all__ = [
    "ListedObject",
    "ListingTicket",
    "PartSizeRule",
    "Provenance",
    "ReadStream",
    "ReadTicket",
    "Readability",
    "RestoreState",
    "SentPart",
    "StoredObject",
    "Target",
    "TargetCapabilities",
    "TargetKind",
    "UnfinishedUpload",
    "Upload",
]

TargetKind = Literal["glacier", "s3"]
#: ``power-of-two-mib``: Glacier's rule (1 MiB x 2^n up to 4 GiB); ``range``: any size between
#: the minimum and maximum (S3: 5 MiB to 5 GiB, the last part may be smaller).
PartSizeRule = Literal["power-of-two-mib", "range"]
ChecksumAlgorithm = Literal["sha256-tree", "sha256-composite"]
#: ``started``: a new restore (job) began; ``in-progress``: one already runs, nothing was
#: requested again (S3's 409 RestoreAlreadyInProgress); ``extended``: the copy was already
#: readable and its expiry was pushed back (S3's 200); ``not-needed``: the class is readable
#: at once (GLACIER_IR, STANDARD...) and nothing was requested, so nothing was paid.
RestoreState = Literal["started", "in-progress", "extended", "not-needed"]

GIB = 1024 * MIB
TIB = 1024 * GIB


def _non_empty(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value:
        raise ValueError(f"{attribute.name} must not be empty")


@attrs.frozen
class TargetCapabilities:
    """What a target can do and the limits it sets, so callers branch on abilities.

    ``restore_needed``: reads need a restore first (Glacier vaults, S3 GLACIER and
    DEEP_ARCHIVE); ``checksum_algorithm``: what the service verifies on receipt;
    ``listing``: ``instant`` (ListObjectsV2) or ``job`` (a vault inventory, hours);
    ``tree_hash_before_multipart``: the whole file's tree hash must be known when a multipart
    upload starts (S3 user metadata is fixed by CreateMultipartUpload; Glacier takes the tree
    hash at completion), so a stream of unknown content cannot carry it.
    """

    kind: TargetKind
    restore_needed: bool
    checksum_algorithm: ChecksumAlgorithm
    listing: Literal["instant", "job"]
    max_parts: int = attrs.field(validator=attrs.validators.ge(1))
    min_part_size: int = attrs.field(validator=attrs.validators.ge(1))
    max_part_size: int = attrs.field(validator=attrs.validators.ge(1))
    part_size_rule: PartSizeRule
    max_object_size: int = attrs.field(validator=attrs.validators.ge(1))
    tree_hash_before_multipart: bool
    max_name_bytes: int = attrs.field(validator=attrs.validators.ge(1))
    min_storage_days: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    max_connections: int = attrs.field(default=10, validator=attrs.validators.ge(1))

    def part_size_problem(self, size: int) -> str | None:
        """Why ``size`` cannot be a (non-last) part size here, or None when it can."""
        if not self.min_part_size <= size <= self.max_part_size:
            return (f"part size {size} is outside {self.min_part_size}.."
                    f"{self.max_part_size} bytes")
        if self.part_size_rule == "power-of-two-mib" and (
                size % MIB or (size // MIB) & (size // MIB - 1)):
            return f"part size {size} is not 1 MiB times a power of two"
        return None


@attrs.frozen
class Provenance:
    """What the planner knows about a file and a restore needs back: name, mtime, tree hash.

    The target decides how to keep it (see the module docstring); the journal records it too.
    ``tree_hash`` is None only for a stream whose content is not known before it is sent.
    """

    name: str = attrs.field(validator=_non_empty)
    mtime: int = attrs.field(validator=attrs.validators.instance_of(int))
    tree_hash: TreeHash | None = None


@attrs.frozen
class StoredObject:
    """An object the target has accepted. ``ref`` goes in the journal's archive-id column.

    ``lost_replies``: earlier attempts that may have stored a copy nobody knows of (see
    :class:`glacierlib.storage.ArchiveCreated`); always 0 on S3, where a retried put of the
    same key replaces the object instead of adding one.
    """

    ref: str = attrs.field(validator=_non_empty)
    size: int = attrs.field(validator=attrs.validators.ge(0))
    tree_hash: TreeHash
    lost_replies: int = attrs.field(default=0, validator=attrs.validators.ge(0))


@attrs.frozen
class Upload:
    """A multipart upload in flight: the service's id and the target's object name (key)."""

    upload_id: str = attrs.field(validator=_non_empty)
    key: str = attrs.field(validator=_non_empty)
    part_size: int = attrs.field(validator=attrs.validators.ge(1))


@attrs.frozen
class SentPart:
    """One part the target holds: where it sits in the file and the checksum it verified.

    ``checksum`` is the part's tree hash in hex (Glacier) or its base64 SHA-256 (S3).
    """

    part_number: int = attrs.field(validator=attrs.validators.ge(1))
    byte_range: ByteRange
    checksum: str


@attrs.frozen
class UnfinishedUpload:
    """An upload nobody completed or aborted (list-uploads, abort-uploads)."""

    upload_id: str
    key: str
    initiated: str
    name: str | None = None
    part_size: int | None = None


@attrs.frozen
class ReadTicket:
    """The handle reads go through: ``job_id`` for a vault, None for S3 (reads hit the key)."""

    ref: str = attrs.field(validator=_non_empty)
    state: RestoreState
    job_id: str | None = None


@attrs.frozen
class Readability:
    """Whether a ticket can be read now; ``expiry`` is when a restored copy goes away."""

    readable: bool
    in_progress: bool
    expiry: str | None = None
    failed: str | None = None


@attrs.frozen
class ReadStream:
    """A byte range being read: a stream to read in chunks and close.

    ``checksum`` is what the service says the whole object's checksum is (S3 with
    ChecksumMode), ``tree_hash`` the range's tree hash a vault sends for aligned ranges.
    """

    body: BinaryIO = attrs.field(repr=False, eq=False)
    content_length: int
    content_range: ByteRange | None = None
    total_length: int | None = None
    checksum: str | None = None
    tree_hash: TreeHash | None = None

    def close(self) -> None:
        self.body.close()


@attrs.frozen
class ListingTicket:
    """A listing asked for: ready at once (S3, ``job_id`` None) or after an inventory job."""

    job_id: str | None = None


@attrs.frozen
class ListedObject:
    """One object a listing shows, with provenance where the listing carries it.

    ``name`` is None when the key is not a safe relative name (``../``, absolute, control
    characters): such objects are reported, never restored to a path, as with unsafe vault
    inventory names. ``mtime`` and ``tree_hash`` are None when the listing cannot say (S3
    listings carry no user metadata: a HEAD per object, or the journal, gives them).
    """

    ref: str
    key: str
    size: int
    name: str | None = None
    mtime: int | None = None
    tree_hash: TreeHash | None = None
    storage_class: str | None = None
    restore_in_progress: bool | None = None
    restore_expiry: str | None = None


@runtime_checkable
class Target(Protocol):
    """Everything the planner, executor and restore ask of a place that keeps objects.

    Implementations are safe to call from several threads at once. Deleting an object or
    aborting an upload that is already gone is success. Errors are ``glacierlib.exceptions``.
    """

    @property
    def capabilities(self) -> TargetCapabilities: ...

    @property
    def identity(self) -> str:
        """How a journal names this target: ``vault NAME`` or ``S3 bucket B prefix P``."""
        ...

    def key_for(self, name: str) -> str:
        """The object name a relative file name gets (raises ``MetadataError`` if too long)."""
        ...

    # store
    def store_small(self, provenance: Provenance, body: PartBody) -> StoredObject: ...
    def start_upload(self, provenance: Provenance, part_size: int) -> Upload: ...
    def send_part(self, upload: Upload, offset: int, body: PartBody) -> SentPart: ...
    def finish_upload(self, upload: Upload, size: int, tree_hash: TreeHash) -> StoredObject: ...
    def abort_upload(self, upload: Upload) -> None: ...
    def list_parts(self, upload: Upload) -> Iterator[SentPart]: ...
    def list_unfinished_uploads(self) -> Iterator[UnfinishedUpload]: ...
    def delete(self, ref: str) -> None: ...

    # read
    def request_readable(self, ref: str, *, tier: str = "Standard", days: int = 1
                         ) -> ReadTicket: ...
    def readability(self, ticket: ReadTicket) -> Readability: ...
    def read_range(self, ticket: ReadTicket, byte_range: ByteRange | None = None
                   ) -> ReadStream: ...

    # list
    def start_listing(self) -> ListingTicket: ...
    def listing_ready(self, ticket: ListingTicket) -> bool: ...
    def list_objects(self, ticket: ListingTicket) -> Iterator[ListedObject]: ...
