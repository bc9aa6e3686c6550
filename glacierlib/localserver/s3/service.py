"""The S3 operations the product uses, over the same blob storage and simulated clock.

Buckets live in their own storage (``DIR/s3`` on disk, a separate memory store otherwise),
one document per bucket with a change log, so an acknowledged write survives a killed
server exactly as a vault's does. Restores are evaluated lazily against the simulated clock:
an object records when its restore is ready and when the copy expires, and every read
compares those with ``clock.now()``; nothing needs ticking.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import attrs

from glacierlib.localserver.blobs import ServerStorage
from glacierlib.localserver.clock import SimClock
from glacierlib.localserver.routes import BodyReader, OutputStream, Reply
from glacierlib.localserver.s3.body import read_small, receive
from glacierlib.localserver.s3.checksums import ALGORITHMS
from glacierlib.localserver.s3.model import (
    ARCHIVED_CLASSES,
    STORAGE_CLASSES,
    Bucket,
    S3Object,
    Upload,
)
from glacierlib.localserver.s3.xmlio import S3Error, http_date, iso_date, parse_xml, xml_reply

__all__ = ["RESTORE_TIMES", "S3Call", "S3Service"]

HOUR = 3600.0
#: Seconds until a restore is ready, per (class, tier): the top of AWS's typical ranges, so a
#: client that polls on the simulated clock sees the slowest plausible case.
RESTORE_TIMES: dict[tuple[str, str], float] = {
    ("GLACIER", "Expedited"): 5 * 60.0,
    ("GLACIER", "Standard"): 5 * HOUR,
    ("GLACIER", "Bulk"): 12 * HOUR,
    ("DEEP_ARCHIVE", "Standard"): 12 * HOUR,
    ("DEEP_ARCHIVE", "Bulk"): 48 * HOUR,
}
MIN_PART = 5 << 20
MAX_KEY = 1024
MAX_METADATA = 2048
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_MIN_LOG = 64


@attrs.frozen
class S3Call:
    """One authenticated S3 request, as the service sees it."""

    operation: str
    bucket: str
    key: str
    region: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    reader: BodyReader
    content_length: int | None


def _doc(bucket: str) -> str:
    return f"bucket-{bucket}"


def _quote_etag(md5_hex: str) -> str:
    return f'"{md5_hex}"'


def _restore_header(obj: S3Object, now: float) -> str | None:
    state = obj.restore_state(now)
    if state == "ongoing":
        return 'ongoing-request="true"'
    if state == "restored" and obj.restore_expiry is not None:
        return f'ongoing-request="false", expiry-date="{http_date(obj.restore_expiry)}"'
    return None


def _expiry(now: float, days: int) -> float:
    """S3 rounds a restored copy's expiry up to the next midnight UTC after ``days``."""
    return math.ceil((now + days * 86400.0) / 86400.0) * 86400.0


class S3Service:
    """All buckets of the emulated account and the operations on them."""

    def __init__(self, storage: ServerStorage, clock: SimClock) -> None:
        self.storage = storage
        self.clock = clock
        self.lock = threading.RLock()
        self.buckets: dict[str, Bucket] = {}
        self._log_lengths: dict[str, int] = {}
        for name, doc in storage.load_documents().items():
            if name.startswith("bucket-"):
                bucket = Bucket.from_dict(doc)
                self.buckets[bucket.name] = bucket
        if storage.persistent:
            referenced: set[str] = set()
            for bucket in self.buckets.values():
                referenced |= bucket.referenced_keys()
            for key in storage.keys() - referenced:
                storage.delete(key)

    # ------------------------------------------------------------ persistence

    def _save(self, bucket: Bucket, puts: tuple[S3Object | Upload, ...] = (),
              deletes: tuple[tuple[str, str], ...] = ()) -> None:
        """Log the changed entries (one line), or rewrite the document when the log is long."""
        if not self.storage.persistent:
            return
        name = _doc(bucket.name)
        size = len(bucket.objects) + len(bucket.uploads)
        if self._log_lengths.get(name, 0) >= max(_MIN_LOG, size):
            self.storage.save_document(name, bucket.to_dict())
            self._log_lengths[name] = 0
            return
        record: dict[str, Any] = {"h": bucket.header()}
        if puts:
            record["p"] = [
                ("archives", p.key, p.to_dict()) if isinstance(p, S3Object)
                else ("uploads", p.upload_id, p.to_dict()) for p in puts]
        if deletes:
            record["d"] = list(deletes)
        self.storage.append_record(name, record)
        self._log_lengths[name] = self._log_lengths.get(name, 0) + 1

    def _release(self, bucket: Bucket | None, keys: set[str]) -> None:
        still = bucket.referenced_keys() if bucket is not None else set()
        for key in keys - still:
            self.storage.delete(key)

    # ------------------------------------------------------------ lookups

    def _bucket(self, call: S3Call) -> Bucket:
        bucket = self.buckets.get(call.bucket)
        if bucket is None:
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist",
                          extra=[("BucketName", call.bucket)])
        if bucket.region != call.region:
            raise S3Error(
                301, "PermanentRedirect",
                "The bucket you are attempting to access must be addressed using the "
                f"specified endpoint. The bucket is in region {bucket.region}.",
                extra=[("Bucket", bucket.name), ("Endpoint", f"s3.{bucket.region}.amazonaws.com")],
                headers=[("x-amz-bucket-region", bucket.region)],
            )
        return bucket

    def _object(self, bucket: Bucket, key: str) -> S3Object:
        obj = bucket.objects.get(key)
        if obj is None:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.",
                          extra=[("Key", key)])
        return obj

    def _upload(self, bucket: Bucket, call: S3Call) -> Upload:
        upload = bucket.uploads.get(call.query.get("uploadId", ""))
        if upload is None or upload.key != call.key:
            raise S3Error(404, "NoSuchUpload", "The specified upload does not exist. The upload "
                          "ID may be invalid, or the upload may have been aborted or completed.",
                          extra=[("UploadId", call.query.get("uploadId", ""))])
        return upload

    @staticmethod
    def _check_key(key: str) -> None:
        if len(key.encode("utf-8")) > MAX_KEY:
            raise S3Error(400, "KeyTooLongError", "Your key is too long",
                          extra=[("Size", str(len(key.encode()))), ("MaxSizeAllowed", "1024")])
        if not key:
            raise S3Error(400, "InvalidRequest", "A key must not be empty.")

    @staticmethod
    def _storage_class(headers: Mapping[str, str]) -> str:
        value = headers.get("x-amz-storage-class") or "STANDARD"
        if value not in STORAGE_CLASSES:
            raise S3Error(400, "InvalidStorageClass",
                          "The storage class you specified is not valid",
                          extra=[("StorageClassRequested", value[:64])])
        return value

    @staticmethod
    def _metadata(headers: Any) -> tuple[tuple[str, str], ...]:
        items = tuple((name.lower()[len("x-amz-meta-"):], value)
                      for name, value in headers.items()
                      if name.lower().startswith("x-amz-meta-"))
        size = sum(len(k.encode()) + len(v.encode()) for k, v in items)
        if size > MAX_METADATA:
            raise S3Error(400, "MetadataTooLarge",
                          "Your metadata headers exceed the maximum allowed metadata size.",
                          extra=[("Size", str(size)), ("MaxSizeAllowed", str(MAX_METADATA))])
        return items

    # ------------------------------------------------------------ buckets

    def op_ListBuckets(self, call: S3Call) -> Reply:
        with self.lock:
            listed = [("Bucket", [("Name", b.name), ("CreationDate", iso_date(b.created)),
                                  ("BucketRegion", b.region)])
                      for b in sorted(self.buckets.values(), key=lambda b: b.name)]
        return xml_reply(200, "ListAllMyBucketsResult", [
            ("Owner", [("ID", "0" * 64), ("DisplayName", "local")]), ("Buckets", listed)])

    def op_CreateBucket(self, call: S3Call) -> Reply:
        if not _BUCKET_RE.match(call.bucket) or ".." in call.bucket:
            raise S3Error(400, "InvalidBucketName", "The specified bucket is not valid.",
                          extra=[("BucketName", call.bucket[:100])])
        body = read_small(call.reader, call.headers, call.content_length)
        constraint = "us-east-1"
        if body.strip():
            el = parse_xml(body, "CreateBucketConfiguration")
            constraint = el.findtext("LocationConstraint") or "us-east-1"
        if constraint != call.region:
            raise S3Error(400, "IllegalLocationConstraintException",
                          f"The {constraint} location constraint is incompatible for the "
                          f"region specific endpoint this request was sent to ({call.region}).")
        with self.lock:
            if call.bucket in self.buckets:
                raise S3Error(409, "BucketAlreadyOwnedByYou",
                              "Your previous request to create the named bucket succeeded "
                              "and you already own it.", extra=[("BucketName", call.bucket)])
            bucket = Bucket(call.bucket, constraint, self.clock.now())
            self.buckets[bucket.name] = bucket
            if self.storage.persistent:
                self.storage.save_document(_doc(bucket.name), bucket.to_dict())
        return Reply(200, (("Location", f"/{call.bucket}"),))

    def op_HeadBucket(self, call: S3Call) -> Reply:
        with self.lock:
            bucket = self._bucket(call)
        return Reply(200, (("x-amz-bucket-region", bucket.region),))

    def op_DeleteBucket(self, call: S3Call) -> Reply:
        with self.lock:
            bucket = self._bucket(call)
            if bucket.objects:
                raise S3Error(409, "BucketNotEmpty",
                              "The bucket you tried to delete is not empty",
                              extra=[("BucketName", bucket.name)])
            del self.buckets[bucket.name]
            keys = bucket.referenced_keys()
            self.storage.delete_document(_doc(bucket.name))
            self._release(None, keys)
        return Reply(204)

    # ------------------------------------------------------------ objects

    def _object_headers(self, obj: S3Object, call: S3Call, now: float
                        ) -> list[tuple[str, str]]:
        headers = [("ETag", obj.etag), ("Last-Modified", http_date(obj.modified)),
                   ("Content-Type", obj.content_type), ("Accept-Ranges", "bytes")]
        if obj.storage_class != "STANDARD":
            headers.append(("x-amz-storage-class", obj.storage_class))
        headers += [(f"x-amz-meta-{k}", v) for k, v in obj.metadata]
        restore = _restore_header(obj, now)
        if restore is not None:
            headers.append(("x-amz-restore", restore))
        if obj.parts_count is not None and call.query.get("partNumber"):
            headers.append(("x-amz-mp-parts-count", str(obj.parts_count)))
        mode = (call.headers.get("x-amz-checksum-mode") or "").upper()
        if mode == "ENABLED" and obj.checksum_algorithm and obj.checksum_value \
                and "Range" not in call.headers:
            headers.append((f"x-amz-checksum-{obj.checksum_algorithm.lower()}",
                            obj.checksum_value))
            headers.append(("x-amz-checksum-type", obj.checksum_type or "FULL_OBJECT"))
        return headers

    def op_PutObject(self, call: S3Call) -> Reply:
        self._check_key(call.key)
        storage_class = self._storage_class(call.headers)
        metadata = self._metadata(call.headers)
        with self.lock:
            self._bucket(call)
        got = receive(self.storage, call.reader, call.headers, call.content_length)
        assert got.blob is not None
        obj = S3Object(
            key=call.key, size=got.size, etag=_quote_etag(got.md5), modified=self.clock.now(),
            storage_class=storage_class, segments=((got.blob, got.size),),
            content_type=call.headers.get("Content-Type") or "binary/octet-stream",
            metadata=metadata, checksum_algorithm=got.algorithm, checksum_value=got.checksum,
            checksum_type="FULL_OBJECT" if got.algorithm else None,
        )
        with self.lock:
            try:
                bucket = self._bucket(call)
            except S3Error:
                self.storage.delete(got.blob)
                raise
            old = bucket.objects.get(call.key)
            bucket.objects[call.key] = obj
            self._save(bucket, (obj,))
            if old is not None:
                self._release(bucket, {k for k, _ in old.segments})
        headers = [("ETag", obj.etag)]
        if got.algorithm:
            headers += [(f"x-amz-checksum-{got.algorithm.lower()}", got.checksum or ""),
                        ("x-amz-checksum-type", "FULL_OBJECT")]
        return Reply(200, tuple(headers))

    def op_HeadObject(self, call: S3Call) -> Reply:
        with self.lock:
            obj = self._object(self._bucket(call), call.key)
        now = self.clock.now()
        headers = self._object_headers(obj, call, now)
        window = _part_window(obj, call.query.get("partNumber"))
        if window is None:
            return Reply(200, (*headers, ("Content-Length", str(obj.size))))
        start, end = window
        return Reply(206, (*headers, ("Content-Range", f"bytes {start}-{end - 1}/{obj.size}"),
                           ("Content-Length", str(end - start))))

    def op_GetObject(self, call: S3Call) -> Reply:
        with self.lock:
            obj = self._object(self._bucket(call), call.key)
        now = self.clock.now()
        if obj.restore_state(now) in ("none", "ongoing"):
            raise S3Error(403, "InvalidObjectState",
                          "The operation is not valid for the object's storage class",
                          extra=[("StorageClass", obj.storage_class)])
        headers = self._object_headers(obj, call, now)
        start, end, status = 0, obj.size, 200
        rng = call.headers.get("Range")
        window = _part_window(obj, call.query.get("partNumber"))
        if rng and window is not None:
            raise S3Error(400, "InvalidRequest", "Cannot specify both Range header and "
                          "partNumber query parameter")
        if rng or window is not None:
            start, end = window or _parse_range(rng or "", obj.size)
            status = 206
            headers.append(("Content-Range", f"bytes {start}-{end - 1}/{obj.size}"))
        stream = OutputStream(self.storage, obj.segments, start, end)
        return Reply(status, tuple(headers), stream=stream)

    def op_DeleteObject(self, call: S3Call) -> Reply:
        with self.lock:
            bucket = self._bucket(call)
            self._delete_key(bucket, call.key)
        return Reply(204)

    def _delete_key(self, bucket: Bucket, key: str) -> None:
        old = bucket.objects.pop(key, None)
        if old is not None:
            self._save(bucket, deletes=(("archives", key),))
            self._release(bucket, {k for k, _ in old.segments})

    def op_DeleteObjects(self, call: S3Call) -> Reply:
        if not call.headers.get("Content-MD5") and not any(
                call.headers.get(f"x-amz-checksum-{a.lower()}") for a in ALGORITHMS):
            raise S3Error(400, "InvalidRequest", "Missing required header for this request: "
                          "Content-MD5 or x-amz-checksum-*")
        el = parse_xml(read_small(call.reader, call.headers, call.content_length), "Delete")
        quiet = (el.findtext("Quiet") or "").lower() == "true"
        keys = [o.findtext("Key") or "" for o in el.findall("Object")]
        if len(keys) > 1000:
            raise S3Error(400, "MalformedXML", "At most 1000 keys per DeleteObjects.")
        results: list[tuple[str, Any]] = []
        with self.lock:
            bucket = self._bucket(call)
            for key in keys:
                self._delete_key(bucket, key)
                if not quiet:
                    results.append(("Deleted", [("Key", key)]))
        return xml_reply(200, "DeleteResult", results)

    # ------------------------------------------------------------ restores

    def op_RestoreObject(self, call: S3Call) -> Reply:
        body = read_small(call.reader, call.headers, call.content_length)
        el = parse_xml(body, "RestoreRequest")
        days_text = el.findtext("Days")
        tier = el.findtext("GlacierJobParameters/Tier") or el.findtext("Tier") or "Standard"
        if days_text is None or not days_text.strip().isdigit() or int(days_text) < 1:
            raise S3Error(400, "MalformedXML", "RestoreRequest needs Days (a positive integer).")
        days = int(days_text)
        if tier not in ("Expedited", "Standard", "Bulk"):
            raise S3Error(400, "MalformedXML", f"Unknown restore tier {tier[:20]}")
        with self.lock:
            bucket = self._bucket(call)
            obj = self._object(bucket, call.key)
            now = self.clock.now()
            state = obj.restore_state(now)
            if state == "warm":
                raise S3Error(403, "InvalidObjectState",
                              "Restore is not allowed for the object's current storage class",
                              extra=[("StorageClass", obj.storage_class)])
            if state == "ongoing":
                raise S3Error(409, "RestoreAlreadyInProgress",
                              "Object restore is already in progress")
            if state == "restored":
                new = attrs.evolve(obj, restore_expiry=_expiry(now, days))
                status = 200
            else:
                delay = RESTORE_TIMES.get((obj.storage_class, tier))
                if delay is None:
                    raise S3Error(400, "InvalidArgument",
                                  f"{tier} retrieval is not available for "
                                  f"{obj.storage_class} objects",
                                  extra=[("ArgumentName", "Tier"), ("ArgumentValue", tier)])
                ready = now + delay
                new = attrs.evolve(obj, restore_ready=ready, restore_expiry=_expiry(ready, days))
                status = 202
            bucket.objects[obj.key] = new
            self._save(bucket, (new,))
        return Reply(status)

    def complete_restore(self, bucket_name: str, key: str) -> None:
        """Control plane: finish a running restore now (its expiry moves with it)."""
        with self.lock:
            bucket = self.buckets.get(bucket_name)
            obj = bucket.objects.get(key) if bucket else None
            now = self.clock.now()
            if bucket is None or obj is None or obj.restore_state(now) != "ongoing":
                raise S3Error(404, "ResourceNotFoundException",
                              f"no restore running for {bucket_name}/{key}")
            assert obj.restore_ready is not None and obj.restore_expiry is not None
            expiry = obj.restore_expiry - (obj.restore_ready - now)
            new = attrs.evolve(obj, restore_ready=now, restore_expiry=_expiry(expiry, 0))
            bucket.objects[key] = new
            self._save(bucket, (new,))

    def state(self) -> dict[str, Any]:
        with self.lock:
            now = self.clock.now()
            return {name: {"region": b.region,
                           "objects": {k: {**o.to_dict(), "restore": o.restore_state(now)}
                                       for k, o in b.objects.items()},
                           "uploads": [u.to_dict() for u in b.uploads.values()]}
                    for name, b in self.buckets.items()}

    # ------------------------------------------------------------ listing

    def op_ListObjectsV2(self, call: S3Call) -> Reply:
        q = call.query
        prefix = q.get("prefix", "")
        delimiter = q.get("delimiter", "")
        try:
            max_keys = int(q.get("max-keys", "1000"))
        except ValueError:
            raise S3Error(400, "InvalidArgument", "Provided max-keys not an integer or within "
                          "integer range") from None
        max_keys = max(0, min(max_keys, 1000))
        token = q.get("continuation-token")
        after = q.get("start-after", "")
        if token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                raise S3Error(400, "InvalidArgument",
                              "The continuation token provided is incorrect") from None
        encode = q.get("encoding-type") == "url"
        wanted = {a.strip() for a in (call.headers.get("x-amz-optional-object-attributes")
                                      or "").split(",") if a.strip()}
        with self.lock:
            bucket = self._bucket(call)
            keys = sorted(k for k in bucket.objects if k.startswith(prefix) and k > after)
            objects = dict(bucket.objects)
        now = self.clock.now()
        entries: list[tuple[str, Any]] = []
        prefixes: list[str] = []
        last = ""
        truncated = False
        count = 0
        for key in keys:
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = key[: cut + len(delimiter)]
                    if prefixes and prefixes[-1] == common:
                        last = key
                        continue
                    if count >= max_keys:
                        truncated = True
                        break
                    prefixes.append(common)
                    count += 1
                    last = key
                    continue
            if count >= max_keys:
                truncated = True
                break
            entries.append(("Contents", self._listing_entry(objects[key], now, wanted, encode)))
            count += 1
            last = key

        def enc(text: str) -> str:
            return quote(text, safe="/") if encode else text

        body: list[tuple[str, Any]] = [
            ("Name", bucket.name), ("Prefix", enc(prefix)),
            ("Delimiter", enc(delimiter) if delimiter else None),
            ("MaxKeys", str(max_keys)), ("KeyCount", str(count)),
            ("IsTruncated", "true" if truncated else "false"),
            ("ContinuationToken", token),
            ("NextContinuationToken",
             base64.urlsafe_b64encode(last.encode()).decode() if truncated else None),
            ("StartAfter", enc(q["start-after"]) if "start-after" in q else None),
            ("EncodingType", "url" if encode else None),
            *entries,
            *[("CommonPrefixes", [("Prefix", enc(p))]) for p in prefixes],
        ]
        return xml_reply(200, "ListBucketResult", body)

    @staticmethod
    def _listing_entry(obj: S3Object, now: float, wanted: set[str], encode: bool
                       ) -> list[tuple[str, Any]]:
        entry: list[tuple[str, Any]] = [
            ("Key", quote(obj.key, safe="/") if encode else obj.key),
            ("LastModified", iso_date(obj.modified)), ("ETag", obj.etag),
            ("Size", str(obj.size)), ("StorageClass", obj.storage_class)]
        if obj.checksum_algorithm:
            entry += [("ChecksumAlgorithm", obj.checksum_algorithm),
                      ("ChecksumType", obj.checksum_type or "FULL_OBJECT")]
        if "RestoreStatus" in wanted and obj.storage_class in ARCHIVED_CLASSES:
            state = obj.restore_state(now)
            if state == "ongoing":
                entry.append(("RestoreStatus", [("IsRestoreInProgress", "true")]))
            elif state == "restored" and obj.restore_expiry is not None:
                entry.append(("RestoreStatus", [("IsRestoreInProgress", "false"),
                                                ("RestoreExpiryDate",
                                                 iso_date(obj.restore_expiry))]))
        return entry


def _parse_range(value: str, size: int) -> tuple[int, int]:
    """``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` as [start, end); 416 if unsatisfiable."""
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", value.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return 0, size  # S3 ignores a Range it cannot parse
    first, last = m.group(1), m.group(2)
    if not first:
        n = int(last)
        if n == 0:
            raise _bad_range(size)
        return max(0, size - n), size
    start = int(first)
    end = min(size, int(last) + 1) if last else size
    if start >= size or end <= start:
        raise _bad_range(size)
    return start, end


def _part_window(obj: S3Object, raw: str | None) -> tuple[int, int] | None:
    """Bytes [start, end) of part ``raw`` (GetObject/HeadObject ``PartNumber``), or None."""
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 10000:
        raise S3Error(400, "InvalidArgument", "Part number must be an integer between 1 "
                      "and 10000, inclusive", extra=[("ArgumentName", "partNumber")])
    number = int(raw)
    sizes = [n for _, n in obj.segments] if obj.parts_count else [obj.size]
    if number > len(sizes):
        raise S3Error(416, "InvalidPartNumber", "The requested partnumber is not satisfiable",
                      extra=[("PartNumberRequested", raw), ("ActualPartCount",
                                                             str(len(sizes)))])
    start = sum(sizes[: number - 1])
    return start, start + sizes[number - 1]


def _bad_range(size: int) -> S3Error:
    return S3Error(416, "InvalidRange", "The requested range is not satisfiable",
                   extra=[("ActualObjectSize", str(size))],
                   headers=[("Content-Range", f"bytes */{size}")])
