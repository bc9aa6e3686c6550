"""Glacier's behaviour: vaults, archives, multipart uploads, jobs, inventory snapshots.

One ``GlacierService`` owns all state behind one lock. Bodies are received and hashed outside
the lock (so parallel parts hash on parallel cores; hashlib releases the GIL), and only the
bookkeeping that follows is serialised. Every time-dependent rule (job readiness, output and
upload expiry, daily inventory snapshots) is evaluated lazily against the simulated clock
whenever a vault is touched, so advancing the clock needs no background thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import heapq
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from glacierlib.localserver.blobs import ServerStorage
from glacierlib.localserver.clock import SimClock, format_date, parse_date
from glacierlib.localserver.config import ServerConfig
from glacierlib.localserver.errors import GlacierError, invalid, missing, not_found
from glacierlib.localserver.inventory import InventoryItem, render_csv, render_json
from glacierlib.localserver.model import (
    Archive,
    FinishedUpload,
    Job,
    Part,
    Snapshot,
    Upload,
    Vault,
    new_archive_id,
    new_job_id,
    new_short_id,
    new_upload_id,
)
from glacierlib.localserver.routes import BodyReader, Call, OutputStream, Reply
from glacierlib.treehash import MIB, ByteRange, TreeHasher, combine_tree_hashes

__all__ = ["GlacierService"]

logger = logging.getLogger(__name__)

GIB4 = 4 << 30
MAX_PARTS = 10_000
_VAULT_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,255}\Z")
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\*|\d+)\Z")
_RANGE = re.compile(r"bytes=(\d+)-(\d+)\Z")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}\Z")
_TIERS = ("Expedited", "Standard", "Bulk")
_EVENTS = ("ArchiveRetrievalCompleted", "InventoryRetrievalCompleted")
_ACCOUNT_DOC = "account"
#: Written when the server stops cleanly, removed when it starts: without it the last run
#: may have died leaving bodies no record names, so they are looked for.
_CLEAN_DOC = "clean-stop"
#: Stored apart from a vault's document, read only when needed (opening stays O(log)).
_SPLIT = ("archives", "snapshot")
#: Bytes per chunk handed to a storage that takes chunks (``MemoryStorage``).
_CHUNK = 4 << 20
#: A change log shorter than this is never compacted (small vaults).
_MIN_LOG = 1000


def _vault_doc(name: str) -> str:
    return f"vault-{name}"


@attrs.frozen
class Received:
    """A body streamed into a blob, with the hashes computed on the way."""

    key: str
    length: int
    sha256: str
    tree_hash: str


def receive_body(storage: ServerStorage, reader: BodyReader, length: int) -> Received:
    """Stream ``length`` bytes from ``reader`` into a new blob, hashing every chunk once.

    Raises 408 RequestTimeoutException if the client sends fewer bytes than announced.
    """
    writer = storage.new_blob(length)
    linear = hashlib.sha256()
    tree = TreeHasher()
    remaining = length
    append = getattr(writer, "append", None)
    try:
        while remaining and append is not None:
            # Chunks read into new bytes objects: nothing zeroes a buffer before the socket
            # fills it (bytearray(n) does, a whole pass over every byte stored in memory).
            chunk = reader.read(min(remaining, _CHUNK))
            if not chunk:
                raise GlacierError(
                    408, "RequestTimeoutException", "The request body ended too early."
                )
            linear.update(chunk)
            tree.update(chunk)
            append(chunk)
            remaining -= len(chunk)
        while remaining:
            buf = writer.buffer(remaining)
            filled = 0
            while filled < len(buf):
                n = reader.readinto(buf[filled:])
                if not n:
                    raise GlacierError(
                        408, "RequestTimeoutException", "The request body ended too early."
                    )
                filled += n
            linear.update(buf)
            tree.update(buf)
            writer.commit(filled)
            remaining -= filled
        leaves = b"".join(tree.leaf_digests())
        key = writer.finish(leaves)
    except BaseException:
        writer.discard()
        raise
    return Received(key, length, linear.hexdigest(), tree.hexdigest())


def _json_reply(status: int, body: Mapping[str, Any], extra: Iterable[tuple[str, str]] = ()
                ) -> Reply:
    data = json.dumps(body, separators=(",", ":")).encode("utf-8")
    return Reply(status, (("Content-Type", "application/json"), *extra), data)


def _check_description(value: str | None, what: str = "archive description") -> str:
    text = (value or "").lstrip()
    # ASCII and printable is exactly 0x20-0x7E, tested by two C loops instead of one in Python.
    if len(text) > 1024 or not (text.isascii() and text.isprintable()):
        raise invalid(f"Invalid {what}")
    return text


def _int_header(call: Call, name: str) -> int:
    value = call.headers.get(name)
    if value is None:
        raise missing(f"Required parameter missing: {name}")
    if not value.strip().isdigit():
        raise invalid(f"Invalid {name}: {value[:40]}")
    return int(value)


def _hash_header(call: Call, name: str) -> str:
    value = call.headers.get(name)
    if value is None:
        raise missing(f"Required parameter missing: {name}")
    if not _HEX64.match(value.strip()):
        raise invalid(f"Invalid {name}: {value[:80]}")
    return value.strip().lower()


class GlacierService:
    """All of the emulated account's state and the operations on it."""

    def __init__(self, storage: ServerStorage, config: ServerConfig, clock: SimClock) -> None:
        self.storage = storage
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.vaults: dict[str, Vault] = {}
        self.retrieval_policy: dict[str, Any] = {"Rules": [{"Strategy": "None"}]}
        self.capacity: list[dict[str, Any]] = []
        #: SNS messages the real service would have published: (topic, job description).
        self.publications: list[dict[str, Any]] = []
        #: Change-log lines written per vault document since its last full rewrite.
        self._log_lengths: dict[str, int] = {}
        self._load()

    # ---------------------------------------------------------------- persistence

    def _load(self) -> None:
        docs = self.storage.load_documents(split=True)
        account = docs.get(_ACCOUNT_DOC)
        if account:
            self.retrieval_policy = account.get("retrieval_policy", self.retrieval_policy)
            self.capacity = account.get("capacity", [])
            self.clock.advance(max(0.0, float(account.get("clock_offset", 0.0))))
        for name, doc in docs.items():
            if name.startswith("vault-"):
                vault = Vault.from_dict(doc)
                if vault.dirty and vault.last_write_at is None:
                    # Written by a version that did not record write times: treat the last
                    # write as now, so the next snapshot follows this run's interval.
                    vault.last_write_at = self.clock.now()
                vault.changes.clear()
                self.vaults[vault.name] = vault
                if not callable(doc["archives"]) and len(doc["archives"]) >= _MIN_LOG:
                    # Written in one piece (an older version): parsed whole this once,
                    # stored apart from now on so the next start need not.
                    self._log_lengths[name] = 0
                    self.storage.save_document(name, vault.to_dict(), split=_SPLIT)
        if not self.storage.persistent:
            return
        if _CLEAN_DOC in docs:
            # Stopped cleanly: every body is named by a record, nothing to sweep (the sweep
            # reads every archive table, O(archives)). Gone again until the next clean stop.
            self.storage.delete_document(_CLEAN_DOC)
            return
        referenced: set[str] = set()
        for vault in self.vaults.values():
            referenced |= vault.referenced_keys()
        for key in self.storage.keys() - referenced:
            self.storage.delete(key)

    def close(self) -> None:
        """Mark a clean stop (no unnamed bodies) and release the storage."""
        with self.lock:
            if self.storage.persistent:
                with contextlib.suppress(OSError):  # already closed: nothing to mark
                    self.storage.save_document(_CLEAN_DOC, {"stopped_at": self.clock.now()})
            self.storage.close()

    def _save(self, vault: Vault) -> None:
        """Persist what changed in ``vault`` since its last save: O(change), not O(vault).

        Called under the lock before the reply is sent, so an acknowledged write is in the
        change log (the page cache survives a killed process; ``fsync`` covers power loss).
        The log is folded into a fresh document once it is as long as the vault itself.
        """
        changes = set(vault.changes)
        vault.changes.clear()
        snapshot_changed, vault.snapshot_changed = vault.snapshot_changed, False
        if not self.storage.persistent:
            return
        name = _vault_doc(vault.name)
        if snapshot_changed or self._log_lengths.get(name, 0) >= max(_MIN_LOG, vault.size()):
            # A new snapshot is as long as the vault: written apart, not as a log line
            # that every later start would read (it was O(vault) to build anyway).
            self.storage.save_document(name, vault.to_dict(), split=_SPLIT)
            self._log_lengths[name] = 0
            return
        record: dict[str, Any] = {"h": vault.header()}
        puts, deletes = [], []
        for coll, key in changes:
            entry = vault.entry(coll, key)
            if entry is None:
                deletes.append((coll, key))
            else:
                puts.append((coll, key, entry))
        if puts:
            record["p"] = puts
        if deletes:
            record["d"] = deletes
        self.storage.append_record(name, record)
        self._log_lengths[name] = self._log_lengths.get(name, 0) + 1

    def save_account(self) -> None:
        if self.storage.persistent:
            self.storage.save_document(
                _ACCOUNT_DOC,
                {
                    "retrieval_policy": self.retrieval_policy,
                    "capacity": self.capacity,
                    "clock_offset": self.clock.offset,
                },
            )

    def _release(self, vault: Vault | None, keys: Iterable[str], *,
                 archive_id: str | None = None, scan: bool = True) -> None:
        """Delete blobs no longer referenced by the vault (or at all, if it is gone).

        ``scan=False``: the keys cannot belong to any live archive except ``archive_id``
        (a deleted archive's or a part's own keys, or a job's copy of one archive's keys),
        so the O(vault) scan of every archive is skipped.
        """
        if vault is None:
            still: set[str] = set()
        else:
            still = vault.referenced_keys(archives=scan)
            owner = vault.archives.get(archive_id or "") if not scan else None
            if owner is not None:
                still.update(k for k, _ in owner.segments)
        for key in {k for k in keys if k} - still:
            self.storage.delete(key)

    # ---------------------------------------------------------------- helpers

    def arn(self, call_region: str, name: str) -> str:
        return f"arn:aws:glacier:{call_region}:{self.config.account_id}:vaults/{name}"

    def _opt(self, d: dict[str, Any]) -> dict[str, Any]:
        if self.config.emit_nulls:
            return d
        return {k: v for k, v in d.items() if v is not None}

    def _location(self, *parts: str) -> tuple[str, str]:
        return ("Location", "/" + "/".join((self.config.account_id, *parts)))

    def _vault(self, call: Call) -> Vault:
        name = call.route.vault or ""
        vault = self.vaults.get(name)
        if vault is None:
            raise not_found(f"Vault not found for ARN: {self.arn(call.region, name)}")
        self._tick(vault)
        return vault

    def _limit(self, call: Call, default: int, maximum: int) -> int:
        raw = call.query.get("limit")
        if raw is None or raw == "":
            return default
        if not raw.isdigit():
            raise invalid(f"Invalid limit: {raw[:20]}")
        value = int(raw)
        if 1 <= value <= maximum:
            return value
        if self.config.limit_policy == "reject":
            raise invalid(f"The limit must be between 1 and {maximum}: {value}")
        return min(max(value, 1), maximum)

    @staticmethod
    def _page(keys: list[str], marker: str | None, limit: int) -> tuple[list[str], str | None]:
        """Page of ``keys`` from ``marker`` (inclusive); the marker out is the next page's
        first key, so it is never the marker received."""
        start = 0
        if marker:
            if marker not in keys:
                raise invalid(f"Invalid marker: {marker[:200]}")
            start = keys.index(marker)
        page = keys[start : start + limit]
        nxt = keys[start + limit] if start + limit < len(keys) else None
        return page, nxt

    # ---------------------------------------------------------------- simulated time

    def tick_all(self) -> None:
        with self.lock:
            for vault in list(self.vaults.values()):
                self._tick(vault)

    def _tick(self, vault: Vault) -> None:
        now = self.clock.now()
        interval = self.config.inventory_interval
        due = vault.next_inventory_at
        if due is not None and vault.dirty and vault.last_write_at is not None:
            # A snapshot follows a write within this server's interval, even when the
            # vault was written by a server with a longer one (local-server, then --local).
            due = min(due, vault.last_write_at + interval)
        if due is not None and due <= now:
            at = due
            if vault.dirty or (vault.snapshot is None and vault.snapshot_due is None):
                # Built when first read (or before a delete): a write never pays O(vault).
                vault.snapshot_due = at
                vault.dirty = vault.last_write_at is not None and vault.last_write_at > at
            skipped = int((now - at) // interval) + 1 if interval > 0 else 1
            vault.next_inventory_at = at + skipped * interval if vault.dirty else None
            # Not saved on its own: after a restart the same due time gives the same result.
        changed = self._run_timers(vault, now)
        if changed:
            self._save(vault)

    def _due(self, vault: Vault, coll: str, key: str) -> float | None:
        """When the entry next needs the clock's attention, or None (gone, or never)."""
        if coll == "jobs":
            job = vault.jobs.get(key)
            if job is None:
                return None
            if not job.completed:
                return job.ready_at
            if job.completed_at is None:
                return None
            return job.completed_at + self.config.job_output_ttl
        if coll == "uploads":
            upload = vault.uploads.get(key)
            return None if upload is None else upload.last_activity + self.config.upload_ttl
        if coll == "finished_uploads":
            done = vault.finished_uploads.get(key)
            return None if done is None else done.at + self.config.upload_grace
        return None

    def _schedule(self, vault: Vault) -> bool:
        """Push the due times of the entries changed since the last look; True if any
        changed (a retained body may have lost its last job)."""
        pending = vault.unscheduled
        if not pending:
            return False
        for coll, key in pending:
            due = self._due(vault, coll, key)
            if due is not None:
                heapq.heappush(vault.timers, (due, coll, key))
        pending.clear()
        return True

    def _run_timers(self, vault: Vault, now: float) -> bool:
        """Act on every entry due by ``now``: O(log n) per due entry, nothing per idle one.

        A heap entry whose due time no longer matches the entry's state is stale (the
        entry changed and was pushed again, or is gone) and is dropped when it surfaces.
        """
        changed = False
        look_at_retained = self._schedule(vault)
        timers = vault.timers
        while timers and timers[0][0] <= now:
            due, coll, key = heapq.heappop(timers)
            if self._due(vault, coll, key) != due:
                continue
            changed = True
            if coll == "jobs":
                job = vault.jobs[key]
                if not job.completed:
                    self._finish_job(vault, job, job.ready_at)
                else:
                    del vault.jobs[key]
                    self._release(vault, [k for k, _ in job.segments] + [job.output_key or ""],
                                  archive_id=job.archive_id, scan=False)
                    look_at_retained = True
            elif coll == "uploads":
                upload = vault.uploads.pop(key)
                self._release(vault, [p.key for p in upload.parts.values()], scan=False)
            else:
                del vault.finished_uploads[key]
            self._schedule(vault)  # the entry's next due time (a finished job's expiry)
        if look_at_retained and vault.retained:
            held = {k for j in vault.jobs.values() for k, _ in j.segments}
            for aid, archive in list(vault.retained.items()):
                keys = [k for k, _ in archive.segments]
                if not any(k in held for k in keys):
                    del vault.retained[aid]
                    self._release(vault, keys, scan=False)
                    changed = True
            self._schedule(vault)
        return changed

    def _materialize(self, vault: Vault) -> None:
        """Build the due snapshot now: something reads it, or an archive is about to go."""
        at = vault.snapshot_due
        if at is None:
            return
        vault.snapshot_due = None
        vault.snapshot = Snapshot(at, sorted(
            (a.item() for a in vault.archives.values() if a.created <= at),
            key=lambda i: i.created,
        ))
        vault.snapshot_changed = True

    def take_inventory(self, name: str) -> dict[str, Any]:
        with self.lock:
            vault = self.vaults.get(name)
            if vault is None:
                raise not_found(f"Vault not found: {name}")
            self._tick(vault)
            if vault.dirty or (vault.snapshot is None and vault.snapshot_due is None):
                vault.snapshot_due = self.clock.now()
                vault.dirty = False
            self._materialize(vault)
            vault.next_inventory_at = None
            self._save(vault)
            assert vault.snapshot is not None
            return {
                "InventoryDate": format_date(vault.snapshot.taken_at),
                "NumberOfArchives": len(vault.snapshot.items),
            }

    def _written(self, vault: Vault) -> None:
        vault.dirty = True
        vault.last_write_at = self.clock.now()
        if vault.next_inventory_at is None:
            vault.next_inventory_at = self.clock.now() + self.config.inventory_interval

    # ---------------------------------------------------------------- vaults

    def _describe_vault(self, vault: Vault, region: str) -> dict[str, Any]:
        self._materialize(vault)
        snap = vault.snapshot
        items = snap.items if snap else []
        return self._opt(
            {
                "VaultARN": self.arn(region, vault.name),
                "VaultName": vault.name,
                "CreationDate": format_date(vault.created),
                "LastInventoryDate": format_date(snap.taken_at) if snap else None,
                "NumberOfArchives": len(items),
                "SizeInBytes": sum(i.size + self.config.archive_overhead for i in items),
            }
        )

    def op_CreateVault(self, call: Call) -> Reply:
        name = call.route.vault or ""
        if not _VAULT_NAME.match(name):
            raise invalid(f"Invalid vault name: {name[:300]}")
        with self.lock:
            if name not in self.vaults:
                if len(self.vaults) >= self.config.max_vaults:
                    raise GlacierError(
                        400, "LimitExceededException", "The vault limit has been reached."
                    )
                vault = Vault(name, self.clock.now())
                self.vaults[name] = vault
                self._save(vault)
        return Reply(201, (self._location("vaults", name),))

    def op_DescribeVault(self, call: Call) -> Reply:
        with self.lock:
            return _json_reply(200, self._describe_vault(self._vault(call), call.region))

    def op_ListVaults(self, call: Call) -> Reply:
        limit = self._limit(call, 10, 10)
        with self.lock:
            self.tick_all()
            names = sorted(self.vaults)
            marker = call.query.get("marker")
            start_name = marker.rsplit("vaults/", 1)[-1] if marker else None
            if start_name is not None and start_name not in names:
                # The marker vault was deleted between pages: resume at the next name.
                later = [n for n in names if n > start_name]
                start_name = later[0] if later else None
                if start_name is None:
                    names = []
            page, nxt = self._page(names, start_name, limit)
            return _json_reply(
                200,
                {
                    "VaultList": [
                        self._describe_vault(self.vaults[n], call.region) for n in page
                    ],
                    "Marker": self.arn(call.region, nxt) if nxt else None,
                },
            )

    def op_DeleteVault(self, call: Call) -> Reply:
        with self.lock:
            vault = self._vault(call)
            self._materialize(vault)
            empty = vault.snapshot is None or not vault.snapshot.items
            blocked = self.config.uploads_block_delete and bool(vault.uploads)
            if not empty or vault.dirty or blocked:
                raise invalid(
                    f"Vault not empty or recently written to: {self.arn(call.region, vault.name)}"
                )
            del self.vaults[vault.name]
            self.storage.delete_document(_vault_doc(vault.name))
            self._release(None, vault.referenced_keys())
        return Reply(204)

    # ---------------------------------------------------------------- archives

    def _receive(self, call: Call, length: int) -> Received:
        content_sha = _hash_header(call, "x-amz-content-sha256")
        tree_sha = _hash_header(call, "x-amz-sha256-tree-hash")
        assert call.reader is not None
        got = receive_body(self.storage, call.reader, length)
        if got.sha256 != content_sha:
            self.storage.delete(got.key)
            raise invalid(
                f"SHA256 linear hash does not match: expected {content_sha}, "
                f"computed {got.sha256}"
            )
        if got.tree_hash != tree_sha:
            self.storage.delete(got.key)
            raise invalid(f"Checksum mismatch: expected {tree_sha}, computed {got.tree_hash}")
        return got

    def op_UploadArchive(self, call: Call) -> Reply:
        length = call.content_length
        if length is None:
            raise missing("Required parameter missing: Content-Length")
        if length <= 0 or length > GIB4:
            raise invalid(f"Invalid Content-Length: {length}")
        description = _check_description(call.headers.get("x-amz-archive-description"))
        with self.lock:
            self._vault(call)
        got = self._receive(call, length)
        with self.lock:
            try:
                vault = self._vault(call)
            except GlacierError:
                self.storage.delete(got.key)
                raise
            archive = Archive(
                new_archive_id(), description, self.clock.now(), length, got.tree_hash,
                [(got.key, length)],
            )
            vault.archives[archive.archive_id] = archive
            self._written(vault)
            self._save(vault)
        return Reply(
            201,
            (
                self._location("vaults", vault.name, "archives", archive.archive_id),
                ("x-amz-archive-id", archive.archive_id),
                ("x-amz-sha256-tree-hash", got.tree_hash),
            ),
        )

    def op_DeleteArchive(self, call: Call) -> Reply:
        archive_id = call.route.item or ""
        with self.lock:
            vault = self._vault(call)
            if archive_id in vault.archives:
                self._materialize(vault)  # the due snapshot still lists this archive
            archive = vault.archives.pop(archive_id, None)
            if archive is None:
                for other in self.vaults.values():
                    if archive_id in other.archives:
                        raise invalid(f"Invalid vault name: {self.arn(call.region, vault.name)}")
                return Reply(204)
            now = self.clock.now()
            for job in vault.jobs.values():
                if job.archive_id == archive_id and not job.completed:
                    job.status = "Failed"
                    job.status_message = "The archive was deleted before the job completed."
                    job.completed_at = now
                    vault.touch("jobs", job.job_id)
            keys = [k for k, _ in archive.segments]
            if any(k for j in vault.jobs.values() for k, _ in j.segments if k in keys):
                vault.retained[archive_id] = archive
            self._written(vault)
            self._release(vault, keys, scan=False)
            self._save(vault)
        return Reply(204)

    # ---------------------------------------------------------------- multipart

    def _upload(self, vault: Vault, upload_id: str) -> Upload:
        upload = vault.uploads.get(upload_id)
        if upload is None:
            raise not_found(f"The upload ID was not found: {upload_id}")
        return upload

    def _describe_upload(self, vault: Vault, upload: Upload, region: str) -> dict[str, Any]:
        return self._opt(
            {
                "MultipartUploadId": upload.upload_id,
                "VaultARN": self.arn(region, vault.name),
                "ArchiveDescription": upload.description or None,
                "PartSizeInBytes": upload.part_size,
                "CreationDate": format_date(upload.created),
            }
        )

    def op_InitiateMultipartUpload(self, call: Call) -> Reply:
        raw = call.headers.get("x-amz-part-size", "")
        size = int(raw) if raw.strip().isdigit() else 0
        if not (MIB <= size <= GIB4 and size & (size - 1) == 0):
            raise invalid(
                f"Invalid part size: {raw.strip() or 'null'}. Part size must not be null, must "
                "be a power of two and be between 1048576 and 4294967296 bytes."
            )
        description = _check_description(call.headers.get("x-amz-archive-description"))
        with self.lock:
            vault = self._vault(call)
            now = self.clock.now()
            upload = Upload(new_upload_id(), description, size, now, now)
            vault.uploads[upload.upload_id] = upload
            self._save(vault)
        return Reply(
            201,
            (
                self._location("vaults", vault.name, "multipart-uploads", upload.upload_id),
                ("x-amz-multipart-upload-id", upload.upload_id),
            ),
        )

    def op_UploadMultipartPart(self, call: Call) -> Reply:
        upload_id = call.route.item or ""
        length = call.content_length
        if length is None:
            raise missing("Required parameter missing: Content-Length")
        raw_range = call.headers.get("Content-Range", "").strip()
        m = _CONTENT_RANGE.match(raw_range)
        if not m or int(m.group(2)) < int(m.group(1)):
            raise invalid(f"Invalid Content-Range: {raw_range[:80]}")
        start, last = int(m.group(1)), int(m.group(2))
        if last - start + 1 != length:
            raise invalid(f"Content-Range: {raw_range} is incompatible with Content-Length: "
                          f"{length}")
        with self.lock:
            vault = self._vault(call)
            part_size = self._upload(vault, upload_id).part_size
        if start % part_size or length > part_size:
            raise invalid(f"Content-Range: {raw_range} is not aligned with part size {part_size}")
        index = start // part_size
        if index >= MAX_PARTS:
            raise invalid(
                f"This is part number {index + 1} for the current multipart upload. It exceeds "
                f"the limit of {MAX_PARTS} parts."
            )
        got = self._receive(call, length)
        with self.lock:
            try:
                vault = self._vault(call)
                upload = self._upload(vault, upload_id)
            except GlacierError:
                self.storage.delete(got.key)
                raise
            old = upload.parts.get(index)
            upload.parts[index] = Part(got.key, length, got.tree_hash)
            upload.last_activity = self.clock.now()
            vault.touch("uploads", upload_id)
            if old is not None:
                self._release(vault, [old.key], scan=False)
            self._save(vault)
        return Reply(204, (("x-amz-sha256-tree-hash", got.tree_hash),))

    def op_CompleteMultipartUpload(self, call: Call) -> Reply:
        upload_id = call.route.item or ""
        size = _int_header(call, "x-amz-archive-size")
        expected = _hash_header(call, "x-amz-sha256-tree-hash")
        with self.lock:
            vault = self._vault(call)
            done = vault.finished_uploads.get(upload_id)
            if done is not None and done.archive_id is not None:
                if done.archive_id not in vault.archives:
                    raise not_found(f"The upload ID was not found: {upload_id}")
                return self._completed_reply(vault, done.archive_id, done.tree_hash or "")
            upload = self._upload(vault, upload_id)
            parts = upload.parts
            count = max(parts) + 1 if parts else 0
            offset = 0
            for i in range(count):
                part = parts.get(i)
                if part is None:
                    end = (i + 1) * upload.part_size - 1
                    raise invalid(f"Missing content range: bytes {offset}-{end}")
                if i < count - 1 and part.length != upload.part_size:
                    raise invalid(
                        f"Part bytes {offset}-{offset + part.length - 1} is shorter than the "
                        f"part size {upload.part_size} and is not the last part"
                    )
                offset += part.length
            if size != offset or size == 0:
                raise invalid(f"Invalid x-amz-archive-size: {size}")
            computed = combine_tree_hashes(
                [bytes.fromhex(parts[i].tree_hash) for i in range(count)]
            ).hex
            if computed != expected:
                sent = call.headers.get("x-amz-sha256-tree-hash", "").strip()
                raise invalid(f"Invalid x-amz-sha256-tree-hash: {sent}")
            now = self.clock.now()
            archive = Archive(
                new_archive_id(), upload.description, now, size, computed,
                [(parts[i].key, parts[i].length) for i in range(count)],
            )
            vault.archives[archive.archive_id] = archive
            del vault.uploads[upload_id]
            vault.finished_uploads[upload_id] = FinishedUpload(
                now, archive.archive_id, computed, size
            )
            self._written(vault)
            self._save(vault)
            return self._completed_reply(vault, archive.archive_id, computed)

    def _completed_reply(self, vault: Vault, archive_id: str, tree_hash: str) -> Reply:
        return Reply(
            201,
            (
                self._location("vaults", vault.name, "archives", archive_id),
                ("x-amz-archive-id", archive_id),
                ("x-amz-sha256-tree-hash", tree_hash),
            ),
        )

    def op_AbortMultipartUpload(self, call: Call) -> Reply:
        upload_id = call.route.item or ""
        with self.lock:
            vault = self._vault(call)
            done = vault.finished_uploads.get(upload_id)
            if done is not None and done.archive_id is None:
                return Reply(204)
            upload = self._upload(vault, upload_id)
            del vault.uploads[upload_id]
            vault.finished_uploads[upload_id] = FinishedUpload(self.clock.now(), None)
            self._release(vault, [p.key for p in upload.parts.values()], scan=False)
            self._save(vault)
        return Reply(204)

    def op_ListParts(self, call: Call) -> Reply:
        limit = self._limit(call, 50, 50)
        with self.lock:
            vault = self._vault(call)
            upload = self._upload(vault, call.route.item or "")
            indexes = sorted(upload.parts)
            keys = [str(i * upload.part_size) for i in indexes]
            page, nxt = self._page(keys, call.query.get("marker"), limit)
            parts = []
            for start_text in page:
                start = int(start_text)
                part = upload.parts[start // upload.part_size]
                parts.append(
                    {
                        "RangeInBytes": f"{start}-{start + part.length - 1}",
                        "SHA256TreeHash": part.tree_hash,
                    }
                )
            body = self._describe_upload(vault, upload, call.region)
            body["Parts"] = parts
            body["Marker"] = nxt
            return _json_reply(200, self._opt(body))

    def op_ListMultipartUploads(self, call: Call) -> Reply:
        limit = self._limit(call, 50, 50)
        with self.lock:
            vault = self._vault(call)
            ids = list(vault.uploads)
            page, nxt = self._page(ids, call.query.get("marker"), limit)
            return _json_reply(
                200,
                self._opt(
                    {
                        "UploadsList": [
                            self._describe_upload(vault, vault.uploads[i], call.region)
                            for i in page
                        ],
                        "Marker": nxt,
                    }
                ),
            )

    # ---------------------------------------------------------------- jobs

    def _body_json(self, call: Call) -> dict[str, Any]:
        try:
            data = json.loads(call.body or b"{}")
        except ValueError:
            raise GlacierError(400, "SerializationException", "Malformed JSON body") from None
        if not isinstance(data, dict):
            raise GlacierError(400, "SerializationException", "Expected a JSON object")
        return data

    def _tier_delay(self, tier: str | None) -> float:
        return {
            "Expedited": self.config.expedited_delay,
            "Bulk": self.config.bulk_delay,
        }.get(tier or "", self.config.standard_delay)

    def op_InitiateJob(self, call: Call) -> Reply:
        params = self._body_json(call)
        kind = params.get("Type")
        description = params.get("Description")
        if description is not None:
            description = _check_description(str(description), "job description")
        sns = params.get("SNSTopic")
        if sns is not None and not str(sns).startswith("arn:aws:sns:"):
            raise invalid(f"Invalid SNS topic: {str(sns)[:200]}")
        with self.lock:
            vault = self._vault(call)
            now = self.clock.now()
            if kind == "archive-retrieval":
                job = self._archive_job(vault, params, now)
            elif kind == "inventory-retrieval":
                job = self._inventory_job(params, now)
            elif kind == "select":
                raise invalid("Select jobs are not supported by this server")
            elif kind is None:
                raise missing("Required parameter missing: Type")
            else:
                raise invalid(f"Invalid job type: {str(kind)[:40]}")
            job.description = description or None
            job.sns_topic = sns
            vault.jobs[job.job_id] = job
            self._tick(vault)
            self._save(vault)
        return Reply(
            202,
            (
                self._location("vaults", vault.name, "jobs", job.job_id),
                ("x-amz-job-id", job.job_id),
            ),
        )

    def _archive_job(self, vault: Vault, params: dict[str, Any], now: float) -> Job:
        if "InventoryRetrievalParameters" in params or "Format" in params:
            raise invalid("InventoryRetrievalParameters apply only to inventory jobs")
        archive_id = params.get("ArchiveId")
        if not archive_id:
            raise missing("Required parameter missing: ArchiveId")
        archive = vault.archives.get(str(archive_id))
        if archive is None:
            raise invalid(f"Invalid archive ID: {str(archive_id)[:200]}")
        tier = params.get("Tier") or "Standard"
        if tier not in _TIERS:
            raise invalid(f"Invalid tier: {str(tier)[:40]}")
        byte_range = ByteRange(0, archive.size)
        raw = params.get("RetrievalByteRange")
        if raw is not None:
            try:
                byte_range = ByteRange.parse_inclusive(str(raw))
            except ValueError:
                raise invalid(f"Invalid RetrievalByteRange: {str(raw)[:80]}") from None
            if not byte_range.is_megabyte_aligned(archive.size):
                raise invalid(
                    f"The retrieval byte range {raw} is not megabyte aligned for an archive of "
                    f"{archive.size} bytes"
                )
        self._check_policy(tier, byte_range.length)
        return Job(
            new_job_id(),
            "ArchiveRetrieval",
            now,
            now + self._tier_delay(tier),
            tier=tier,
            archive_id=archive.archive_id,
            archive_size=archive.size,
            archive_tree_hash=archive.tree_hash,
            archive_description=archive.description,
            range_start=byte_range.start,
            range_end=byte_range.end,
        )

    def _check_policy(self, tier: str, length: int) -> None:
        rule = self.retrieval_policy["Rules"][0]
        if tier != "Standard":
            return
        if rule["Strategy"] == "BytesPerHour" and length > int(rule["BytesPerHour"]):
            raise GlacierError(
                400,
                "PolicyEnforcedException",
                "InitiateJob request denied by current data retrieval policy.",
            )

    def _inventory_job(self, params: dict[str, Any], now: float) -> Job:
        if params.get("ArchiveId") is not None or params.get("RetrievalByteRange") is not None:
            raise invalid("ArchiveId and RetrievalByteRange apply only to archive jobs")
        fmt = params.get("Format") or "JSON"
        if fmt not in ("JSON", "CSV"):
            raise invalid(f"Invalid format: {str(fmt)[:20]}")
        irp = params.get("InventoryRetrievalParameters") or {}
        if not isinstance(irp, dict):
            raise invalid("Invalid InventoryRetrievalParameters")
        inventory: dict[str, Any] = {
            "Format": fmt,
            "StartDate": irp.get("StartDate"),
            "EndDate": irp.get("EndDate"),
            "Limit": irp.get("Limit"),
            "Marker": irp.get("Marker"),
        }
        for field in ("StartDate", "EndDate"):
            if inventory[field] is not None:
                try:
                    parse_date(str(inventory[field]))
                except ValueError:
                    raise invalid(f"Invalid {field}: {str(inventory[field])[:40]}") from None
        limit = inventory["Limit"]
        if limit is not None and (not str(limit).isdigit() or int(str(limit)) < 1):
            raise invalid(f"Invalid Limit: {str(limit)[:20]}")
        return Job(
            new_job_id(),
            "InventoryRetrieval",
            now,
            now + self.config.inventory_delay,
            inventory=inventory,
        )

    def _finish_job(self, vault: Vault, job: Job, at: float) -> None:
        """Complete a due job: materialise its output as the real service prepares it."""
        if job.action == "ArchiveRetrieval":
            archive = vault.archives.get(job.archive_id or "")
            if archive is None:
                self._fail(vault, job, "The archive was deleted before the job completed.", at)
                return
            job.segments = list(archive.segments)
            assert job.range_start is not None and job.range_end is not None
            rng = ByteRange(job.range_start, job.range_end)
            if rng.is_tree_hash_aligned(archive.size):
                job.range_tree_hash = self._range_hash(job.segments, rng)
        elif not self._render_inventory(vault, job):
            self._fail(vault, job, "No inventory is available for this vault yet.", at)
            return
        job.status = "Succeeded"
        job.status_message = "Succeeded"
        job.completed_at = at
        vault.touch("jobs", job.job_id)
        self._publish(vault, job)

    def _fail(self, vault: Vault, job: Job, message: str, at: float) -> None:
        vault.touch("jobs", job.job_id)
        job.status = "Failed"
        job.status_message = message
        job.completed_at = at
        self._publish(vault, job)

    def _publish(self, vault: Vault, job: Job) -> None:
        event = (
            "ArchiveRetrievalCompleted"
            if job.action == "ArchiveRetrieval"
            else "InventoryRetrievalCompleted"
        )
        message = self._describe_job(vault, job, self.config.region)
        topics = []
        if job.sns_topic:
            topics.append(job.sns_topic)
        if vault.notifications and event in vault.notifications.get("Events", []):
            topics.append(vault.notifications["SNSTopic"])
        for topic in topics:
            self.publications.append({"Topic": topic, "Event": event, "Message": message})

    def _range_hash(self, segments: list[tuple[str, int]], rng: ByteRange) -> str:
        leaves = b"".join(self.storage.leaves(k) for k, _ in segments)
        first, stop = rng.start // MIB, -(-rng.end // MIB)
        digests = [leaves[i * 32 : i * 32 + 32] for i in range(first, stop)]
        return combine_tree_hashes(digests).hex

    def _render_inventory(self, vault: Vault, job: Job) -> bool:
        assert job.inventory is not None
        self._materialize(vault)
        snap = vault.snapshot
        if snap is None and self.config.no_inventory == "fail":
            return False
        items: list[InventoryItem] = list(snap.items) if snap else []
        taken = snap.taken_at if snap else self.clock.now()
        inv = job.inventory
        if inv.get("StartDate"):
            lo = parse_date(inv["StartDate"])
            items = [i for i in items if i.created >= lo]
        if inv.get("EndDate"):
            hi = parse_date(inv["EndDate"])
            items = [i for i in items if i.created < hi]
        marker = inv.get("Marker")
        if marker:
            ids = [i.archive_id for i in items]
            items = items[ids.index(marker) :] if marker in ids else []
        next_marker = None
        if inv.get("Limit"):
            limit = int(inv["Limit"])
            if len(items) > limit:
                next_marker = items[limit].archive_id
                items = items[:limit]
        arn = self.arn(self.config.region, vault.name)
        if inv["Format"] == "CSV":
            body = render_csv(items, self.config.csv_line_end)
        else:
            body = render_json(arn, taken, items)
        job.output_key = self.storage.put_bytes(body)
        job.output_size = len(body)
        job.inventory = {**inv, "Marker": next_marker}
        return True

    def _job_for(self, call: Call) -> tuple[Vault, Job]:
        vault = self._vault(call)
        job = vault.jobs.get(call.route.item or "")
        if job is None:
            raise not_found(f"The job ID was not found: {call.route.item}")
        return vault, job

    def _describe_job(self, vault: Vault, job: Job, region: str) -> dict[str, Any]:
        archive = job.action == "ArchiveRetrieval"
        rng = (
            f"{job.range_start}-{(job.range_end or 0) - 1}"
            if archive and job.range_start is not None
            else None
        )
        return self._opt(
            {
                "JobId": job.job_id,
                "JobDescription": job.description,
                "Action": job.action,
                "ArchiveId": job.archive_id,
                "VaultARN": self.arn(region, vault.name),
                "CreationDate": format_date(job.created),
                "Completed": job.completed,
                "StatusCode": job.status,
                "StatusMessage": job.status_message,
                "ArchiveSizeInBytes": job.archive_size,
                "InventorySizeInBytes": job.output_size if not archive else None,
                "SNSTopic": job.sns_topic,
                "CompletionDate": format_date(job.completed_at)
                if job.completed_at is not None
                else None,
                "SHA256TreeHash": job.range_tree_hash if job.status == "Succeeded" else None,
                "ArchiveSHA256TreeHash": job.archive_tree_hash,
                "RetrievalByteRange": rng,
                "Tier": job.tier,
                "InventoryRetrievalParameters": job.inventory,
            }
        )

    def op_DescribeJob(self, call: Call) -> Reply:
        with self.lock:
            vault, job = self._job_for(call)
            return _json_reply(200, self._describe_job(vault, job, call.region))

    def op_ListJobs(self, call: Call) -> Reply:
        limit = self._limit(call, 50, 50)
        status = call.query.get("statuscode")
        if status is not None and status not in ("InProgress", "Succeeded", "Failed"):
            raise invalid(f"The job status code is not valid: {status[:40]}")
        completed = call.query.get("completed")
        if completed is not None and completed not in ("true", "false"):
            raise invalid(f"Invalid completed filter: {completed[:20]}")
        with self.lock:
            vault = self._vault(call)
            jobs = [
                j
                for j in sorted(vault.jobs.values(), key=lambda j: j.created)
                if (status is None or j.status == status)
                and (completed is None or j.completed == (completed == "true"))
            ]
            ids = [j.job_id for j in jobs]
            page, nxt = self._page(ids, call.query.get("marker"), limit)
            return _json_reply(
                200,
                {
                    "JobList": [
                        self._describe_job(vault, vault.jobs[i], call.region) for i in page
                    ],
                    "Marker": nxt,
                },
            )

    def op_GetJobOutput(self, call: Call) -> Reply:
        with self.lock:
            _vault, job = self._job_for(call)
            if job.status != "Succeeded":
                raise invalid(f"The job is not currently available for download: {job.job_id}")
            archive = job.action == "ArchiveRetrieval"
            if archive:
                assert job.range_start is not None and job.range_end is not None
                segments = tuple(job.segments)
                base, total = job.range_start, job.range_end - job.range_start
            else:
                assert job.output_key is not None and job.output_size is not None
                segments = ((job.output_key, job.output_size),)
                base, total = 0, job.output_size
            raw = call.headers.get("Range")
            start, end, status = 0, total, 200
            if raw:
                m = _RANGE.match(raw.strip())
                if not m or int(m.group(2)) < int(m.group(1)) or int(m.group(1)) >= total:
                    raise invalid(f"Invalid range: {raw[:80]}")
                start, end, status = int(m.group(1)), min(int(m.group(2)) + 1, total), 206
            headers: list[tuple[str, str]] = [("Accept-Ranges", "bytes")]
            if archive:
                headers.append(("Content-Type", "application/octet-stream"))
                headers.append(("x-amz-archive-description", job.archive_description or ""))
                tree = self._output_hash(job, ByteRange(base + start, base + end))
                if tree:
                    headers.append(("x-amz-sha256-tree-hash", tree))
            else:
                fmt = (job.inventory or {}).get("Format")
                headers.append(("Content-Type", "text/csv" if fmt == "CSV" else "application/json"))
            if status == 206:
                headers.append(("Content-Range", f"bytes {start}-{end - 1}/{total}"))
            stream = OutputStream(self.storage, segments, base + start, base + end)
            return Reply(status, tuple(headers), stream=stream)

    def _output_hash(self, job: Job, absolute: ByteRange) -> str | None:
        size = job.archive_size or 0
        assert job.range_start is not None and job.range_end is not None
        retrieval = ByteRange(job.range_start, job.range_end)
        if self.config.tree_hash_rule == "megabyte":
            ok = retrieval.is_megabyte_aligned(size) and absolute.is_megabyte_aligned(size)
        else:
            ok = retrieval.is_tree_hash_aligned(size) and absolute.is_tree_hash_aligned(size)
        if not ok:
            return None
        if absolute == retrieval and job.range_tree_hash:
            return job.range_tree_hash
        return self._range_hash(job.segments, absolute)

    # ---------------------------------------------------------------- control plane

    def complete_job(self, vault_name: str, job_id: str) -> None:
        with self.lock:
            vault, job = self._control_job(vault_name, job_id)
            if not job.completed:
                self._finish_job(vault, job, self.clock.now())
                self._save(vault)

    def fail_job(self, vault_name: str, job_id: str, message: str) -> None:
        with self.lock:
            vault, job = self._control_job(vault_name, job_id)
            self._fail(vault, job, message, self.clock.now())
            self._save(vault)

    def expire_job(self, vault_name: str, job_id: str) -> None:
        with self.lock:
            vault, job = self._control_job(vault_name, job_id)
            del vault.jobs[job_id]
            self._release(vault, [k for k, _ in job.segments] + [job.output_key or ""],
                          archive_id=job.archive_id, scan=False)
            self._save(vault)

    def _control_job(self, vault_name: str, job_id: str) -> tuple[Vault, Job]:
        vault = self.vaults.get(vault_name)
        if vault is None:
            raise not_found(f"Vault not found: {vault_name}")
        self._tick(vault)
        job = vault.jobs.get(job_id)
        if job is None:
            raise not_found(f"The job ID was not found: {job_id}")
        return vault, job

    def state(self) -> dict[str, Any]:
        with self.lock:
            self.tick_all()
            for vault in self.vaults.values():
                self._materialize(vault)
            return {
                "clock": self.clock.now(),
                "clock_offset": self.clock.offset,
                "retrieval_policy": self.retrieval_policy,
                "vaults": {name: v.to_dict() for name, v in self.vaults.items()},
                "publications": list(self.publications),
            }

    # ---------------------------------------------------------------- notifications

    def op_SetVaultNotifications(self, call: Call) -> Reply:
        body = self._body_json(call)
        topic, events = body.get("SNSTopic"), body.get("Events")
        if not isinstance(topic, str) or not topic.startswith("arn:aws:sns:"):
            raise invalid(f"Invalid SNSTopic: {str(topic)[:200]}")
        if not isinstance(events, list) or not events or any(e not in _EVENTS for e in events):
            raise invalid(f"Invalid Events: {str(events)[:200]}")
        with self.lock:
            vault = self._vault(call)
            vault.notifications = {"SNSTopic": topic, "Events": list(events)}
            self._save(vault)
        return Reply(204)

    def op_GetVaultNotifications(self, call: Call) -> Reply:
        with self.lock:
            vault = self._vault(call)
            if vault.notifications is None:
                raise not_found(
                    "No notification configuration is set for vault: "
                    f"{self.arn(call.region, vault.name)}"
                )
            return _json_reply(200, vault.notifications)

    def op_DeleteVaultNotifications(self, call: Call) -> Reply:
        with self.lock:
            vault = self._vault(call)
            vault.notifications = None
            self._save(vault)
        return Reply(204)

    # ---------------------------------------------------------------- retrieval policy

    def op_GetDataRetrievalPolicy(self, call: Call) -> Reply:
        with self.lock:
            return _json_reply(200, {"Policy": self.retrieval_policy})

    def op_SetDataRetrievalPolicy(self, call: Call) -> Reply:
        policy = self._body_json(call).get("Policy")
        rules = policy.get("Rules") if isinstance(policy, dict) else None
        if not isinstance(rules, list) or len(rules) != 1 or not isinstance(rules[0], dict):
            raise invalid("The data retrieval policy must contain exactly one rule")
        rule = rules[0]
        strategy = rule.get("Strategy")
        if strategy not in ("BytesPerHour", "FreeTier", "None"):
            raise invalid(f"Invalid Strategy: {str(strategy)[:40]}")
        if strategy == "BytesPerHour":
            value = rule.get("BytesPerHour")
            if not isinstance(value, int) or not 1 <= value < 2**63:
                raise invalid("BytesPerHour must be between 1 and 2^63-1")
            clean: dict[str, Any] = {"Strategy": strategy, "BytesPerHour": value}
        else:
            if rule.get("BytesPerHour") is not None:
                raise invalid(f"BytesPerHour is not allowed with strategy {strategy}")
            clean = {"Strategy": strategy}
        with self.lock:
            self.retrieval_policy = {"Rules": [clean]}
            self.save_account()
        return Reply(204)

    # ---------------------------------------------------------------- tags

    def op_AddTagsToVault(self, call: Call) -> Reply:
        tags = self._body_json(call).get("Tags") or {}
        if not isinstance(tags, dict):
            raise invalid("Invalid Tags")
        for key, value in tags.items():
            if not isinstance(value, str) or key.startswith("aws:") or not key:
                raise invalid(f"Invalid tag: {str(key)[:128]}")
        with self.lock:
            vault = self._vault(call)
            merged = {**vault.tags, **tags}
            if len(merged) > self.config.max_tags:
                raise GlacierError(
                    400, "LimitExceededException", "The maximum number of tags was exceeded."
                )
            vault.tags = merged
            self._save(vault)
        return Reply(204)

    def op_RemoveTagsFromVault(self, call: Call) -> Reply:
        keys = self._body_json(call).get("TagKeys") or []
        with self.lock:
            vault = self._vault(call)
            for key in keys:
                vault.tags.pop(str(key), None)
            self._save(vault)
        return Reply(204)

    def op_ListTagsForVault(self, call: Call) -> Reply:
        with self.lock:
            return _json_reply(200, {"Tags": dict(self._vault(call).tags)})

    # ---------------------------------------------------------------- access policy and lock

    def _policy_text(self, call: Call) -> str:
        policy = self._body_json(call).get("Policy")
        if not isinstance(policy, str) or len(policy.encode()) > 20480:
            raise invalid("Invalid Policy")
        return policy

    def op_SetVaultAccessPolicy(self, call: Call) -> Reply:
        policy = self._policy_text(call)
        with self.lock:
            vault = self._vault(call)
            vault.access_policy = policy
            self._save(vault)
        return Reply(204)

    def op_GetVaultAccessPolicy(self, call: Call) -> Reply:
        with self.lock:
            vault = self._vault(call)
            if vault.access_policy is None:
                raise not_found(f"No vault policy is set for: {self.arn(call.region, vault.name)}")
            return _json_reply(200, {"Policy": vault.access_policy})

    def op_DeleteVaultAccessPolicy(self, call: Call) -> Reply:
        with self.lock:
            vault = self._vault(call)
            vault.access_policy = None
            self._save(vault)
        return Reply(204)

    def _current_lock(self, vault: Vault) -> dict[str, Any] | None:
        lock = vault.lock
        if lock and lock["State"] == "InProgress" and lock["Expires"] <= self.clock.now():
            vault.lock = None
        return vault.lock

    def op_InitiateVaultLock(self, call: Call) -> Reply:
        policy = self._policy_text(call)
        with self.lock:
            vault = self._vault(call)
            if self._current_lock(vault) is not None:
                raise GlacierError(403, "AccessDeniedException", "The vault lock already exists")
            now = self.clock.now()
            lock_id = new_short_id()
            vault.lock = {"LockId": lock_id, "Policy": policy, "State": "InProgress",
                          "Created": now, "Expires": now + 86400}
            self._save(vault)
        return Reply(201, (("x-amz-lock-id", lock_id),))

    def op_CompleteVaultLock(self, call: Call) -> Reply:
        with self.lock:
            vault = self._vault(call)
            lock = self._current_lock(vault)
            if lock is None or lock["LockId"] != call.route.item:
                if lock is not None and lock["State"] == "Locked":
                    raise GlacierError(403, "AccessDeniedException", "The vault is locked")
                raise invalid(f"Invalid lock ID: {call.route.item}")
            lock["State"] = "Locked"
            self._save(vault)
        return Reply(204)

    def op_AbortVaultLock(self, call: Call) -> Reply:
        with self.lock:
            vault = self._vault(call)
            lock = self._current_lock(vault)
            if lock is not None and lock["State"] == "Locked":
                raise GlacierError(403, "AccessDeniedException", "The vault is locked")
            vault.lock = None
            self._save(vault)
        return Reply(204)

    def op_GetVaultLock(self, call: Call) -> Reply:
        with self.lock:
            vault = self._vault(call)
            lock = self._current_lock(vault)
            if lock is None:
                raise not_found(f"No vault lock for: {self.arn(call.region, vault.name)}")
            return _json_reply(
                200,
                self._opt(
                    {
                        "Policy": lock["Policy"],
                        "State": lock["State"],
                        "ExpirationDate": format_date(lock["Expires"])
                        if lock["State"] == "InProgress"
                        else None,
                        "CreationDate": format_date(lock["Created"]),
                    }
                ),
            )

    # ---------------------------------------------------------------- provisioned capacity

    def op_ListProvisionedCapacity(self, call: Call) -> Reply:
        with self.lock:
            return _json_reply(200, {"ProvisionedCapacityList": list(self.capacity)})

    def op_PurchaseProvisionedCapacity(self, call: Call) -> Reply:
        with self.lock:
            now = self.clock.now()
            capacity_id = new_short_id()
            self.capacity.append(
                {
                    "CapacityId": capacity_id,
                    "StartDate": format_date(now),
                    "ExpirationDate": format_date(now + 30 * 86400),
                }
            )
            self.save_account()
        return Reply(201, (("x-amz-capacity-id", capacity_id),))

    def handler(self, operation: str) -> Callable[[Call], Reply]:
        method = getattr(self, f"op_{operation}", None)
        if method is None:
            raise GlacierError(400, "BadRequest", f"Unsupported operation: {operation}")
        return method  # type: ignore[no-any-return]
