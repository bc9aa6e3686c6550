"""S3 multipart uploads: create, parts, complete (validated as S3 validates), abort, lists.

A completed object is the list of its part blobs (no bytes move). Checksums follow S3: an
upload names an algorithm and a type; COMPOSITE values are the checksum of the part
checksums with ``-N`` appended, FULL_OBJECT values (CRC algorithms only) cover the whole
object, which this server computes by reading the parts back once at completion.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from glacierlib.localserver.routes import Reply
from glacierlib.localserver.s3.body import read_small, receive
from glacierlib.localserver.s3.checksums import (
    ALGORITHMS,
    CRC_ALGORITHMS,
    b64,
    composite,
    new_hasher,
)
from glacierlib.localserver.s3.model import Bucket, Part, S3Object, Upload
from glacierlib.localserver.s3.service import MIN_PART, S3Call, S3Service
from glacierlib.localserver.s3.xmlio import S3Error, iso_date, parse_xml, xml_reply

__all__ = ["S3Api"]

MAX_PARTS = 10000


def _checksum_headers(algorithm: str | None, value: str | None, kind: str | None
                      ) -> list[tuple[str, str]]:
    if not algorithm or not value:
        return []
    return [(f"x-amz-checksum-{algorithm.lower()}", value),
            ("x-amz-checksum-type", kind or "FULL_OBJECT")]


def _etag_of_parts(parts: list[Part]) -> str:
    digest = hashlib.md5(  # noqa: S324 - S3's multipart ETag
        b"".join(bytes.fromhex(p.etag.strip('"')) for p in parts))
    return f'"{digest.hexdigest()}-{len(parts)}"'


def _invalid_part(number: int) -> S3Error:
    return S3Error(400, "InvalidPart", "One or more of the specified parts could not be found. "
                   "The part may not have been uploaded, or the specified entity tag may not "
                   f"have matched the part's entity tag. (part {number})")


class S3Api(S3Service):
    """The whole S3 face: bucket and object calls plus multipart uploads."""

    def _checksum_choice(self, call: S3Call) -> tuple[str | None, str | None]:
        algorithm = (call.headers.get("x-amz-checksum-algorithm") or "").upper() or None
        kind = (call.headers.get("x-amz-checksum-type") or "").upper() or None
        if algorithm is not None and algorithm not in ALGORITHMS:
            raise S3Error(400, "InvalidRequest",
                          f"Checksum algorithm {algorithm[:20]} is not supported here")
        if kind not in (None, "COMPOSITE", "FULL_OBJECT"):
            raise S3Error(400, "InvalidRequest", f"Invalid checksum type {kind}")
        if algorithm is None:
            if kind is not None:
                raise S3Error(400, "InvalidRequest",
                              "x-amz-checksum-type needs x-amz-checksum-algorithm")
            return None, None
        if kind is None:
            kind = "FULL_OBJECT" if algorithm == "CRC64NVME" else "COMPOSITE"
        if kind == "FULL_OBJECT" and algorithm not in CRC_ALGORITHMS:
            raise S3Error(400, "InvalidRequest", f"The FULL_OBJECT checksum type cannot be "
                          f"used with the {algorithm.lower()} checksum algorithm.")
        if kind == "COMPOSITE" and algorithm == "CRC64NVME":
            raise S3Error(400, "InvalidRequest", "The COMPOSITE checksum type cannot be used "
                          "with the crc64nvme checksum algorithm.")
        return algorithm, kind

    def op_CreateMultipartUpload(self, call: S3Call) -> Reply:
        self._check_key(call.key)
        storage_class = self._storage_class(call.headers)
        metadata = self._metadata(call.headers)
        algorithm, kind = self._checksum_choice(call)
        with self.lock:
            bucket = self._bucket(call)
            upload = Upload(
                upload_id=secrets.token_urlsafe(48), key=call.key, initiated=self.clock.now(),
                storage_class=storage_class,
                content_type=call.headers.get("Content-Type") or "binary/octet-stream",
                metadata=metadata, checksum_algorithm=algorithm, checksum_type=kind)
            bucket.uploads[upload.upload_id] = upload
            self._save(bucket, (upload,))
        headers = []
        if algorithm:
            headers = [("x-amz-checksum-algorithm", algorithm), ("x-amz-checksum-type",
                                                                  kind or "")]
        return xml_reply(200, "InitiateMultipartUploadResult", [
            ("Bucket", call.bucket), ("Key", call.key), ("UploadId", upload.upload_id)],
            headers)

    def op_UploadPart(self, call: S3Call) -> Reply:
        raw = call.query.get("partNumber", "")
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PARTS:
            raise S3Error(400, "InvalidArgument",
                          "Part number must be an integer between 1 and 10000, inclusive",
                          extra=[("ArgumentName", "partNumber"), ("ArgumentValue", raw[:20])])
        with self.lock:
            upload = self._upload(self._bucket(call), call)
        algorithm = upload.checksum_algorithm
        sent = [a for a in ALGORITHMS if call.headers.get(f"x-amz-checksum-{a.lower()}")]
        trailer = (call.headers.get("x-amz-trailer") or "").lower()
        sent += [a for a in ALGORITHMS if trailer == f"x-amz-checksum-{a.lower()}"]
        if algorithm and sent and sent[0] != algorithm:
            raise S3Error(400, "InvalidRequest", "Checksum Type mismatch occurred, expected "
                          f"checksum Type: {algorithm.lower()}, actual checksum Type: "
                          f"{sent[0].lower()}")
        got = receive(self.storage, call.reader, call.headers, call.content_length,
                      want=algorithm)
        assert got.blob is not None
        part = Part(number=int(raw), blob=got.blob, size=got.size, etag=f'"{got.md5}"',
                    modified=self.clock.now(), checksum=got.checksum if algorithm else None)
        with self.lock:
            try:
                bucket = self._bucket(call)
                upload = self._upload(bucket, call)
            except S3Error:
                self.storage.delete(got.blob)
                raise
            old = next((p for p in upload.parts if p.number == part.number), None)
            upload = upload.with_part(part)
            bucket.uploads[upload.upload_id] = upload
            self._save(bucket, (upload,))
            if old is not None:
                self._release(bucket, {old.blob})
        headers = [("ETag", part.etag)]
        if algorithm and got.checksum:
            headers.append((f"x-amz-checksum-{algorithm.lower()}", got.checksum))
        elif got.algorithm and got.checksum:
            headers.append((f"x-amz-checksum-{got.algorithm.lower()}", got.checksum))
        return Reply(200, tuple(headers))

    def _chosen_parts(self, upload: Upload, call: S3Call) -> list[Part]:
        el = parse_xml(read_small(call.reader, call.headers, call.content_length,
                                  body_checksums=False), "CompleteMultipartUpload")
        stored = {p.number: p for p in upload.parts}
        chosen: list[Part] = []
        algorithm = upload.checksum_algorithm
        for item in el.findall("Part"):
            raw = (item.findtext("PartNumber") or "").strip()
            if not raw.isdigit():
                raise S3Error(400, "MalformedXML", "PartNumber must be an integer.")
            number = int(raw)
            if chosen and number <= chosen[-1].number:
                raise S3Error(400, "InvalidPartOrder", "The list of parts was not in "
                              "ascending order. The parts list must be specified in order "
                              "by part number.")
            part = stored.get(number)
            etag = (item.findtext("ETag") or "").strip()
            if part is None or etag.strip('"') != part.etag.strip('"'):
                raise _invalid_part(number)
            if algorithm and upload.checksum_type == "COMPOSITE":
                given = item.findtext(f"Checksum{algorithm}")
                if given is None:
                    raise S3Error(400, "InvalidRequest", f"The upload was created using a "
                                  f"{algorithm.lower()} checksum. The complete request must "
                                  "include the checksum for each part. It was missing for "
                                  f"part {number} in the request.")
                if given != part.checksum:
                    raise _invalid_part(number)
            chosen.append(part)
        if not chosen:
            raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed or "
                          "did not validate against our published schema")
        for part in chosen[:-1]:
            if part.size < MIN_PART:
                raise S3Error(400, "EntityTooSmall", "Your proposed upload is smaller than "
                              "the minimum allowed object size.",
                              extra=[("ProposedSize", str(part.size)),
                                     ("MinSizeAllowed", str(MIN_PART)),
                                     ("PartNumber", str(part.number))])
        return chosen

    def _full_object(self, algorithm: str, parts: list[Part]) -> str:
        hasher = new_hasher(algorithm)
        for part in parts:
            for chunk in self.storage.read(part.blob, 0, part.size):
                hasher.update(chunk)
        return b64(hasher.digest())

    def op_CompleteMultipartUpload(self, call: S3Call) -> Reply:
        with self.lock:
            upload = self._upload(self._bucket(call), call)
        parts = self._chosen_parts(upload, call)
        algorithm, kind, value = upload.checksum_algorithm, upload.checksum_type, None
        if algorithm and kind == "COMPOSITE":
            value = composite(algorithm, [p.checksum or "" for p in parts])
        elif algorithm:
            value = self._full_object(algorithm, parts)
        if algorithm:
            claimed = call.headers.get(f"x-amz-checksum-{algorithm.lower()}")
            if claimed is not None and claimed != value:
                raise S3Error(400, "BadDigest", f"The {algorithm.lower()} you specified for "
                              "the full object did not match the calculated checksum.")
        obj = S3Object(
            key=upload.key, size=sum(p.size for p in parts), etag=_etag_of_parts(parts),
            modified=self.clock.now(), storage_class=upload.storage_class,
            segments=tuple((p.blob, p.size) for p in parts), content_type=upload.content_type,
            metadata=upload.metadata, checksum_algorithm=algorithm, checksum_value=value,
            checksum_type=kind, parts_count=len(parts))
        with self.lock:
            bucket = self._bucket(call)
            current = self._upload(bucket, call)
            if current is not upload:
                raise S3Error(409, "OperationAborted", "A conflicting conditional operation "
                              "is currently in progress against this resource. Try again.")
            old = bucket.objects.get(upload.key)
            del bucket.uploads[upload.upload_id]
            bucket.objects[obj.key] = obj
            self._save(bucket, (obj,), (("uploads", upload.upload_id),))
            dropped = {p.blob for p in upload.parts}
            if old is not None:
                dropped |= {k for k, _ in old.segments}
            self._release(bucket, dropped)
        return xml_reply(200, "CompleteMultipartUploadResult", [
            ("Location", f"/{call.bucket}/{call.key}"), ("Bucket", call.bucket),
            ("Key", call.key), ("ETag", obj.etag),
            (f"Checksum{algorithm}" if algorithm else "ChecksumCRC32", value),
            ("ChecksumType", kind)])

    def op_AbortMultipartUpload(self, call: S3Call) -> Reply:
        with self.lock:
            bucket = self._bucket(call)
            upload = self._upload(bucket, call)
            del bucket.uploads[upload.upload_id]
            self._save(bucket, deletes=(("uploads", upload.upload_id),))
            self._release(bucket, {p.blob for p in upload.parts})
        return Reply(204)

    def op_ListParts(self, call: S3Call) -> Reply:
        marker = call.query.get("part-number-marker", "0")
        limit = call.query.get("max-parts", "1000")
        if not marker.isdigit() or not limit.isdigit():
            raise S3Error(400, "InvalidArgument", "part-number-marker and max-parts must be "
                          "integers")
        with self.lock:
            upload = self._upload(self._bucket(call), call)
        after = [p for p in upload.parts if p.number > int(marker)]
        shown = after[: min(int(limit), 1000)]
        truncated = len(after) > len(shown)
        algorithm = upload.checksum_algorithm
        parts: list[tuple[str, Any]] = [("Part", [
            ("PartNumber", str(p.number)), ("LastModified", iso_date(p.modified)),
            ("ETag", p.etag), ("Size", str(p.size)),
            (f"Checksum{algorithm}" if algorithm else "ChecksumCRC32", p.checksum)])
            for p in shown]
        owner = [("ID", "0" * 64), ("DisplayName", "local")]
        return xml_reply(200, "ListPartsResult", [
            ("Bucket", call.bucket), ("Key", call.key), ("UploadId", upload.upload_id),
            ("PartNumberMarker", marker),
            ("NextPartNumberMarker", str(shown[-1].number) if shown else "0"),
            ("MaxParts", limit), ("IsTruncated", "true" if truncated else "false"), *parts,
            ("Initiator", owner), ("Owner", owner), ("StorageClass", upload.storage_class),
            ("ChecksumAlgorithm", algorithm), ("ChecksumType", upload.checksum_type)])

    def op_ListMultipartUploads(self, call: S3Call) -> Reply:
        q = call.query
        prefix = q.get("prefix", "")
        key_marker = q.get("key-marker", "")
        id_marker = q.get("upload-id-marker", "")
        limit = q.get("max-uploads", "1000")
        if not limit.isdigit():
            raise S3Error(400, "InvalidArgument", "max-uploads must be an integer")
        with self.lock:
            bucket: Bucket = self._bucket(call)
            uploads = sorted((u for u in bucket.uploads.values() if u.key.startswith(prefix)),
                             key=lambda u: (u.key, u.initiated, u.upload_id))
        if key_marker:
            uploads = [u for u in uploads if u.key > key_marker or (
                u.key == key_marker and id_marker and u.upload_id > id_marker)]
        shown = uploads[: min(int(limit), 1000)]
        truncated = len(uploads) > len(shown)
        owner = [("ID", "0" * 64), ("DisplayName", "local")]
        items: list[tuple[str, Any]] = [("Upload", [
            ("Key", u.key), ("UploadId", u.upload_id), ("Initiator", owner), ("Owner", owner),
            ("StorageClass", u.storage_class), ("Initiated", iso_date(u.initiated)),
            ("ChecksumAlgorithm", u.checksum_algorithm), ("ChecksumType", u.checksum_type)])
            for u in shown]
        return xml_reply(200, "ListMultipartUploadsResult", [
            ("Bucket", call.bucket), ("KeyMarker", key_marker), ("UploadIdMarker", id_marker),
            ("NextKeyMarker", shown[-1].key if truncated else None),
            ("NextUploadIdMarker", shown[-1].upload_id if truncated else None),
            ("Prefix", prefix), ("MaxUploads", limit),
            ("IsTruncated", "true" if truncated else "false"), *items])

