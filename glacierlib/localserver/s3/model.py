"""The S3 face's state: buckets, objects, multipart uploads and restores, as plain values.

Objects and uploads are frozen values replaced whole on change, so a document's change log
(``storage_disk``) records each as one upsert keyed by its id. The collections reuse the
vault document's names (``archives`` keyed by ``archive_id`` = the object key, ``uploads`` by
``upload_id``) so the disk storage's crash-safe log replays bucket documents unchanged.
"""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["ARCHIVED_CLASSES", "STORAGE_CLASSES", "Bucket", "Part", "S3Object", "Upload"]

#: Classes PutObject and CreateMultipartUpload accept on a general purpose bucket (botocore's
#: StorageClass enum minus those of other products: OUTPOSTS, SNOW, FSX_*, AWS_BACKUP_*).
STORAGE_CLASSES = frozenset({
    "STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
    "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR", "EXPRESS_ONEZONE",
})
#: Classes whose objects need a restore before GetObject.
ARCHIVED_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})


def _segments(value: Any) -> tuple[tuple[str, int], ...]:
    return tuple((str(k), int(n)) for k, n in value)


def _meta(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in value)


@attrs.frozen
class S3Object:
    """One stored object. ``segments`` are its blobs in order (the parts of a multipart
    object, so completing an upload moves no bytes). ``restore_ready``/``restore_expiry``
    are simulated-clock times: a restore runs until ``restore_ready`` and the copy stays
    readable until ``restore_expiry``."""

    key: str
    size: int
    etag: str
    modified: float
    storage_class: str = attrs.field(validator=attrs.validators.in_(STORAGE_CLASSES))
    segments: tuple[tuple[str, int], ...] = attrs.field(converter=_segments)
    content_type: str = "binary/octet-stream"
    metadata: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_meta)
    checksum_algorithm: str | None = None
    checksum_value: str | None = None
    checksum_type: str | None = None
    parts_count: int | None = None
    restore_ready: float | None = None
    restore_expiry: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self, recurse=False)
        d["archive_id"] = self.key
        d["segments"] = [list(s) for s in self.segments]
        d["metadata"] = [list(m) for m in self.metadata]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> S3Object:
        fields = {f.name for f in attrs.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in fields})

    def restore_state(self, now: float) -> str:
        """``none`` (archived, not readable), ``ongoing``, ``restored`` or ``warm``."""
        if self.storage_class not in ARCHIVED_CLASSES:
            return "warm"
        if self.restore_ready is None:
            return "none"
        if now < self.restore_ready:
            return "ongoing"
        if self.restore_expiry is not None and now >= self.restore_expiry:
            return "none"
        return "restored"


@attrs.frozen
class Part:
    number: int
    blob: str
    size: int
    etag: str
    modified: float
    checksum: str | None = None


@attrs.frozen
class Upload:
    upload_id: str
    key: str
    initiated: float
    storage_class: str
    content_type: str = "binary/octet-stream"
    metadata: tuple[tuple[str, str], ...] = attrs.field(default=(), converter=_meta)
    checksum_algorithm: str | None = None
    checksum_type: str | None = None
    parts: tuple[Part, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self, recurse=True)
        d["metadata"] = [list(m) for m in self.metadata]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Upload:
        fields = {f.name for f in attrs.fields(cls)}
        values = {k: v for k, v in d.items() if k in fields}
        values["parts"] = tuple(Part(**p) for p in d.get("parts", ()))
        return cls(**values)

    def with_part(self, part: Part) -> Upload:
        others = tuple(p for p in self.parts if p.number != part.number)
        return attrs.evolve(self, parts=tuple(sorted((*others, part), key=lambda p: p.number)))


@attrs.define
class Bucket:
    name: str
    region: str
    created: float
    objects: dict[str, S3Object] = attrs.field(factory=dict)
    uploads: dict[str, Upload] = attrs.field(factory=dict)

    def header(self) -> dict[str, Any]:
        return {"name": self.name, "region": self.region, "created": self.created}

    def to_dict(self) -> dict[str, Any]:
        return {**self.header(),
                "archives": [o.to_dict() for o in self.objects.values()],
                "uploads": [u.to_dict() for u in self.uploads.values()]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Bucket:
        bucket = cls(str(d["name"]), str(d["region"]), float(d["created"]))
        for o in d.get("archives") or ():
            obj = S3Object.from_dict(o)
            bucket.objects[obj.key] = obj
        for u in d.get("uploads") or ():
            up = Upload.from_dict(u)
            bucket.uploads[up.upload_id] = up
        return bucket

    def referenced_keys(self) -> set[str]:
        keys = {k for o in self.objects.values() for k, _ in o.segments}
        keys |= {p.blob for u in self.uploads.values() for p in u.parts}
        return keys
