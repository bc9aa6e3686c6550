"""The server's mutable records (vaults, archives, uploads, jobs) and their JSON form.

These are the service's private state, mutated under its lock; they are ``attrs.define``
because they have a lifecycle. ``to_dict``/``from_dict`` give the disk documents.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from glacierlib.localserver.inventory import InventoryItem

__all__ = [
    "Archive",
    "FinishedUpload",
    "Job",
    "LazyArchives",
    "Part",
    "Snapshot",
    "Tracked",
    "Upload",
    "Vault",
    "new_archive_id",
    "new_job_id",
    "new_request_id",
    "new_short_id",
    "new_upload_id",
]


def _b64url(n: int) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(n)).rstrip(b"=").decode("ascii")


def new_archive_id() -> str:
    """138 characters: unpadded base64url of 103 bytes, like AWS's samples."""
    return _b64url(103)


def new_job_id() -> str:
    """92 characters: unpadded base64url of 69 bytes."""
    return _b64url(69)


new_upload_id = new_job_id


def new_request_id() -> str:
    """47 characters of base64url, like the x-amzn-RequestId samples."""
    return _b64url(35)


def new_short_id() -> str:
    """24 characters (vault lock and provisioned capacity ids)."""
    return _b64url(18)


Segments = list[tuple[str, int]]


def _segments(raw: Any) -> Segments:
    return [(str(k), int(n)) for k, n in raw]


@attrs.define
class Archive:
    archive_id: str
    description: str
    created: float
    size: int
    tree_hash: str
    segments: Segments

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self, recurse=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Archive:
        # Positional and without re-conversion: a vault of 100,000 archives loads each run.
        return cls(d["archive_id"], d["description"], d["created"], d["size"], d["tree_hash"],
                   [(k, n) for k, n in d["segments"]])

    def item(self) -> InventoryItem:
        return InventoryItem(
            self.archive_id, self.description, self.created, self.size, self.tree_hash
        )


@attrs.define
class Part:
    key: str
    length: int
    tree_hash: str


@attrs.define
class Upload:
    upload_id: str
    description: str
    part_size: int
    created: float
    last_activity: float
    parts: dict[int, Part] = attrs.Factory(dict)

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self, recurse=False)
        d["parts"] = {str(i): [p.key, p.length, p.tree_hash] for i, p in self.parts.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Upload:
        parts = {int(i): Part(str(p[0]), int(p[1]), str(p[2])) for i, p in d["parts"].items()}
        return cls(**{**d, "parts": parts})


@attrs.define
class FinishedUpload:
    """A completed (archive id set) or aborted upload, remembered for idempotent replays."""

    at: float
    archive_id: str | None
    tree_hash: str | None = None
    size: int | None = None


@attrs.define
class Job:
    job_id: str
    action: str  # ArchiveRetrieval | InventoryRetrieval
    created: float
    ready_at: float
    description: str | None = None
    sns_topic: str | None = None
    tier: str | None = None
    status: str = "InProgress"
    status_message: str = "Operation in progress."
    completed_at: float | None = None
    archive_id: str | None = None
    archive_size: int | None = None
    archive_tree_hash: str | None = None
    archive_description: str | None = None
    range_start: int | None = None
    range_end: int | None = None
    range_tree_hash: str | None = None
    inventory: dict[str, Any] | None = None
    segments: Segments = attrs.Factory(list)
    output_key: str | None = None
    output_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self, recurse=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Job:
        return cls(**{**d, "segments": _segments(d.get("segments", []))})

    @property
    def completed(self) -> bool:
        return self.status != "InProgress"


class Snapshot:
    """An inventory as of ``taken_at``; stored apart on disk, read when first looked at
    (a command that only uploads never reads it, and it is as long as the vault)."""

    __slots__ = ("_items", "_load", "_taken_at")

    def __init__(self, taken_at: float, items: list[InventoryItem], *,
                 load: Callable[[], dict[str, Any]] | None = None) -> None:
        self._taken_at = taken_at
        self._items = items
        self._load = load

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Snapshot:
        return cls(d["taken_at"], [InventoryItem.from_list(r) for r in d["items"]])

    def _loaded(self) -> None:
        load, self._load = self._load, None
        if load is not None:
            full = Snapshot.from_dict(load())
            self._taken_at, self._items = full._taken_at, full._items

    @property
    def taken_at(self) -> float:
        self._loaded()
        return self._taken_at

    @property
    def items(self) -> list[InventoryItem]:
        self._loaded()
        return self._items

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Snapshot):
            return NotImplemented
        return (self.taken_at, self.items) == (other.taken_at, other.items)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Snapshot(taken_at={self.taken_at!r}, items=<{len(self.items)}>)"


class Tracked(dict[str, Any]):
    """A vault collection that remembers which ids were set or removed since the last save,
    so disk storage can write only those entries instead of the whole vault."""

    def __init__(self, name: str, changes: set[tuple[str, str]], data: Any = (),
                 unscheduled: set[tuple[str, str]] | None = None) -> None:
        super().__init__(data)
        self._name = name
        self._changes = changes
        #: Also told of every change (the service's timers), unless None.
        self._unscheduled = unscheduled

    def _changed(self, key: str) -> None:
        self._changes.add((self._name, key))
        if self._unscheduled is not None:
            self._unscheduled.add((self._name, key))

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self._changed(key)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._changed(key)

    def pop(self, key: str, *default: Any) -> Any:
        self._changed(key)
        return super().pop(key, *default)

    def count(self) -> int:
        """How many entries, or about how many when not all are loaded yet."""
        return len(self)

    def peek(self, key: str) -> Any:
        """The entry if held in memory, without reading a table stored apart: for saving a
        change (an entry changed before the table was read was set in this run)."""
        return dict.get(self, key)


class LazyArchives(Tracked):
    """A vault's archive table, read from disk only when something needs the whole of it.

    Opening a data directory must not cost O(archives) for a command that only adds a few
    (a ``sync --local`` into a vault of 100,000 archives). Until loaded, adding an archive
    costs nothing extra: it is kept here and laid over the table when the table is read;
    every other use (a lookup, a listing, a delete, a snapshot, a compaction) reads it first.
    """

    def __init__(self, name: str, changes: set[tuple[str, str]],
                 loader: Callable[[], dict[str, Archive]], hint: int) -> None:
        super().__init__(name, changes)
        self._loader: Callable[[], dict[str, Archive]] | None = loader
        self._hint = hint

    @property
    def loaded(self) -> bool:
        return self._loader is None

    def load(self) -> None:
        loader, self._loader = self._loader, None
        if loader is not None:
            added = dict(dict.items(self))
            dict.update(self, loader())
            dict.update(self, added)

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)  # no load: an upload adds a fresh random id

    def __getitem__(self, key: str) -> Any:
        self.load()
        return super().__getitem__(key)

    def __delitem__(self, key: str) -> None:
        self.load()
        super().__delitem__(key)

    def __contains__(self, key: object) -> bool:
        self.load()
        return super().__contains__(key)

    def __iter__(self) -> Iterator[str]:
        self.load()
        return super().__iter__()

    def __len__(self) -> int:
        self.load()
        return super().__len__()

    def get(self, key: str, default: Any = None) -> Any:
        self.load()
        return super().get(key, default)

    def pop(self, key: str, *default: Any) -> Any:
        self.load()
        return super().pop(key, *default)

    def keys(self) -> Any:
        self.load()
        return super().keys()

    def values(self) -> Any:
        self.load()
        return super().values()

    def items(self) -> Any:
        self.load()
        return super().items()

    def count(self) -> int:
        if self._loader is None:
            return super().__len__()
        return self._hint + super().__len__()



#: Collections whose entries fall due on the simulated clock (a job is ready or expires, an
#: upload is abandoned, a finished upload's replay window closes), plus ``retained``, whose
#: changes make the service look again at which retained bodies a job still serves.
TIMED = frozenset({"jobs", "uploads", "finished_uploads", "retained"})

#: Vault fields saved whole with every change (all small); the rest are Tracked collections
#: and the snapshot.
HEADER_FIELDS = ("name", "created", "notifications", "tags", "access_policy", "lock", "dirty",
                 "next_inventory_at", "last_write_at", "snapshot_due")


@attrs.define
class Vault:
    name: str
    created: float
    archives: dict[str, Archive] = attrs.Factory(dict)
    #: Deleted archives whose bodies a finished retrieval job still serves.
    retained: dict[str, Archive] = attrs.Factory(dict)
    uploads: dict[str, Upload] = attrs.Factory(dict)
    finished_uploads: dict[str, FinishedUpload] = attrs.Factory(dict)
    jobs: dict[str, Job] = attrs.Factory(dict)
    notifications: dict[str, Any] | None = None
    tags: dict[str, str] = attrs.Factory(dict)
    access_policy: str | None = None
    lock: dict[str, Any] | None = None
    snapshot: Snapshot | None = None
    #: Written (upload, completed upload, delete) since the last snapshot.
    dirty: bool = False
    next_inventory_at: float | None = None
    #: When the last write happened (the next snapshot is due an interval after it).
    last_write_at: float | None = None
    #: A snapshot as of this time is due but not yet built: it is built when something reads
    #: it or before an archive is deleted, so a write never costs O(vault).
    snapshot_due: float | None = None
    #: (collection, id) changed since the last save, and whether the snapshot changed.
    changes: set[tuple[str, str]] = attrs.field(factory=set, eq=False, repr=False)
    snapshot_changed: bool = attrs.field(default=False, eq=False, repr=False)
    #: Entries of the timed collections changed since the service last looked at their due
    #: times (every entry is, right after loading), and the service's heap of
    #: (due time, collection, id): neither is saved, both are rebuilt from the entries.
    unscheduled: set[tuple[str, str]] = attrs.field(factory=set, eq=False, repr=False)
    timers: list[tuple[float, str, str]] = attrs.field(factory=list, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        for coll in ("archives", "retained", "uploads", "finished_uploads", "jobs"):
            timed = coll in TIMED
            data = getattr(self, coll)
            if isinstance(data, Tracked):  # a LazyArchives from from_dict
                data._changes = self.changes
                continue
            if timed:
                self.unscheduled.update((coll, key) for key in data)
            setattr(self, coll, Tracked(coll, self.changes, data,
                                        self.unscheduled if timed else None))

    def touch(self, coll: str, key: str) -> None:
        """Mark an entry changed in place (a job finishing, a part added to an upload)."""
        self.changes.add((coll, key))
        if coll in TIMED:
            self.unscheduled.add((coll, key))

    def header(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in HEADER_FIELDS}

    def entry(self, coll: str, key: str) -> dict[str, Any] | None:
        """One collection entry in its document form, or None when it is gone."""
        value = getattr(self, coll).peek(key)
        if value is None:
            return None
        if coll == "finished_uploads":
            return attrs.asdict(value)
        return value.to_dict()  # type: ignore[no-any-return]

    def size(self) -> int:
        """Entries in the vault's document (how long a change log may grow before
        compaction)."""
        table = self.archives
        count = table.count() if isinstance(table, Tracked) else len(table)
        # The snapshot counted as about as long as the table: not read just to be counted.
        return (count * (2 if self.snapshot else 1) + len(self.retained) + len(self.uploads)
                + len(self.finished_uploads) + len(self.jobs))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "created": self.created,
            "archives": [a.to_dict() for a in self.archives.values()],
            "retained": [a.to_dict() for a in self.retained.values()],
            "uploads": [u.to_dict() for u in self.uploads.values()],
            "finished_uploads": {
                k: attrs.asdict(v) for k, v in self.finished_uploads.items()
            },
            "jobs": [j.to_dict() for j in self.jobs.values()],
            "notifications": self.notifications,
            "tags": self.tags,
            "access_policy": self.access_policy,
            "lock": self.lock,
            "snapshot": None
            if self.snapshot is None
            else {
                "taken_at": self.snapshot.taken_at,
                "items": [i.to_list() for i in self.snapshot.items],
            },
            "dirty": self.dirty,
            "next_inventory_at": self.next_inventory_at,
            "last_write_at": self.last_write_at,
            "snapshot_due": self.snapshot_due,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vault:
        snap = d.get("snapshot")
        raw = d["archives"]
        archives: dict[str, Archive]
        if callable(raw):
            # Stored apart (``DiskStorage.load_documents(split=True)``): read when needed.
            def load() -> dict[str, Archive]:
                return {a["archive_id"]: Archive.from_dict(a) for a in raw()}

            hint = int((d.get("split") or {}).get("archives", 0))
            archives = LazyArchives("archives", set(), load, hint)
        else:
            archives = {a["archive_id"]: Archive.from_dict(a) for a in raw}
        return cls(
            name=d["name"],
            created=d["created"],
            archives=archives,
            retained={a["archive_id"]: Archive.from_dict(a) for a in d.get("retained", [])},
            uploads={u["upload_id"]: Upload.from_dict(u) for u in d["uploads"]},
            finished_uploads={
                k: FinishedUpload(**v) for k, v in d.get("finished_uploads", {}).items()
            },
            jobs={j["job_id"]: Job.from_dict(j) for j in d["jobs"]},
            notifications=d.get("notifications"),
            tags=dict(d.get("tags", {})),
            access_policy=d.get("access_policy"),
            lock=d.get("lock"),
            snapshot=None if snap is None
            else Snapshot(0.0, [], load=snap) if callable(snap) else Snapshot.from_dict(snap),
            dirty=bool(d.get("dirty")),
            next_inventory_at=d.get("next_inventory_at"),
            last_write_at=d.get("last_write_at"),
            snapshot_due=d.get("snapshot_due"),
        )

    def referenced_keys(self, *, archives: bool = True) -> set[str]:
        """Blob keys in use; ``archives=False`` leaves out live archives' own bodies (every
        blob key is random and belongs to one archive, so only the other holders matter
        when that archive's or a part's keys are released)."""
        keys: set[str] = set()
        for archive in (*(self.archives.values() if archives else ()), *self.retained.values()):
            keys.update(k for k, _ in archive.segments)
        for upload in self.uploads.values():
            keys.update(p.key for p in upload.parts.values())
        for job in self.jobs.values():
            keys.update(k for k, _ in job.segments)
            if job.output_key:
                keys.add(job.output_key)
        return keys
