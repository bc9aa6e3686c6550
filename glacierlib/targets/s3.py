"""``S3Store``: the ``Target`` interface over an S3 bucket (cold storage classes), via botocore.

Why it looks the way it does:

* One botocore client shared by every thread, pool sized to the concurrency, retries pinned
  in standard mode with the same hooks as :class:`glacierlib.client.GlacierStore` (a 408 is
  retried, each retry is reported as a ``Retrying`` event, a reply cut off mid-body is a
  failed attempt). Path-style addressing whenever an endpoint is given: a local server or an
  S3-compatible endpoint on loopback has no wildcard DNS for ``bucket.host``.
* Bodies are hashed once, by the caller (``PartBody``): the SHA-256 goes in
  ``ChecksumSHA256`` (S3 verifies it on receipt, ``BadDigest`` otherwise).
  ``request_checksum_calculation="when_required"`` stops current botocore from adding a CRC
  pass of its own, and ``payload_signing_enabled=False`` signs ``UNSIGNED-PAYLOAD``: botocore's
  S3 signer drops a supplied ``x-amz-content-sha256`` and, over plain HTTP (``--local``),
  would read the whole body once more to sign it. Nothing is lost: the signed
  ``x-amz-checksum-sha256`` header binds the body, and S3 verifies it. (Over HTTPS botocore
  already signs S3 uploads that carry a checksum this way.)
* Multipart uploads use ``ChecksumAlgorithm=SHA256`` with ``ChecksumType=COMPOSITE``: the
  per-part SHA-256 is already computed for free, S3 verifies every part and the whole (a hash
  of the part hashes), and it needs no ``awscrt``, which CRC64NVME (full-object) would add as a
  runtime dependency for no gain in what is verified.
* A bucket in another region is an error naming that region, not a silent redirect: the user
  said ``--region`` and fixes it once, instead of every run paying a failed request.
* Inputs S3 would refuse are refused before any request: bucket name, storage class (checked
  against botocore's own model, so a new class is accepted when botocore knows it) and keys
  over 1,024 bytes.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import ipaddress
import logging
import threading
from collections.abc import Iterator, Mapping
from typing import Any, cast

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from glacierlib.client import (
    _PARSER_ERRORS,
    _TRANSLATABLE,
    _USER_AGENT,
    ConnectionSettings,
    _HashedBody,
    _malformed,
    _parse_content_range,
    _RetryHooks,
    _TranslatingBody,
    _with_botocore_retry_config,
    make_session,
    translate_error,
)
from glacierlib.exceptions import (
    AuthFailed,
    ConfigError,
    GlacierlibError,
    InvalidRequest,
    MetadataError,
    NotFound,
    VerificationError,
)
from glacierlib.progress import ProgressCallback, ignore_progress
from glacierlib.storage import PartBody
from glacierlib.targets.base import (
    GIB,
    TIB,
    ListedObject,
    ListingTicket,
    Provenance,
    Readability,
    ReadStream,
    ReadTicket,
    RestoreState,
    SentPart,
    StoredObject,
    Target,
    TargetCapabilities,
    UnfinishedUpload,
    Upload,
)
from glacierlib.targets.refs import S3Ref, name_from_key, s3_metadata
from glacierlib.treehash import MIB, ByteRange, TreeHash
from glacierlib.wrappers.redaction import install_secret_redaction
from glacierlib.wrappers.retrying import RetryPolicy

__all__ = ["S3Store", "open_s3_target", "s3_capabilities", "validate_bucket_name"]

logger = logging.getLogger(__name__)

MAX_KEY_BYTES = 1024
#: Classes whose objects must be restored before GetObject.
RESTORE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})
_MIN_DAYS = {"GLACIER": 90, "GLACIER_IR": 90, "DEEP_ARCHIVE": 180, "STANDARD_IA": 30,
             "ONEZONE_IA": 30}
_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def s3_capabilities(storage_class: str, max_connections: int = 10) -> TargetCapabilities:
    """S3's limits for objects of ``storage_class``: parts 5 MiB..5 GiB, 10,000, 5 TiB."""
    return TargetCapabilities(
        kind="s3", restore_needed=storage_class in RESTORE_CLASSES,
        checksum_algorithm="sha256-composite", listing="instant", max_parts=10_000,
        min_part_size=5 * MIB, max_part_size=5 * GIB, part_size_rule="range",
        max_object_size=5 * TIB, tree_hash_before_multipart=True,
        max_name_bytes=MAX_KEY_BYTES, min_storage_days=_MIN_DAYS.get(storage_class, 0),
        max_connections=max_connections,
    )


def validate_bucket_name(bucket: str) -> str:
    """S3's rules for general purpose bucket names; ``ConfigError`` says which one failed."""
    problem = None
    if not 3 <= len(bucket) <= 63:
        problem = "it must be 3 to 63 characters long"
    elif any(not (c.isascii() and (c.islower() or c.isdigit() or c in ".-")) for c in bucket):
        problem = "it may hold only lowercase letters, digits, '.' and '-'"
    elif not (bucket[0].isalnum() and bucket[-1].isalnum()):
        problem = "it must begin and end with a letter or digit"
    elif ".." in bucket:
        problem = "it must not hold two adjacent periods"
    elif bucket.startswith(_BUCKET_PREFIXES) or bucket.endswith(_BUCKET_SUFFIXES):
        problem = "it uses a prefix or suffix S3 reserves"
    else:
        try:
            ipaddress.IPv4Address(bucket)
            problem = "it must not look like an IP address"
        except ValueError:
            pass
    if problem:
        raise ConfigError(f"invalid S3 bucket name {bucket[:80]!r}: {problem}")
    return bucket


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _no_redirect(response: Any = None, **_: Any) -> bool | None:
    """needs-retry, registered first: a 301 is an answer, not something to follow."""
    if response is not None and getattr(response[0], "status_code", None) == 301:
        return False
    return None



class S3Store:
    """``Target`` over one bucket (and key prefix) in one storage class; thread-safe."""

    def __init__(
        self, session: botocore.session.Session, settings: ConnectionSettings, *,
        bucket: str, prefix: str = "", storage_class: str = "GLACIER",
        on_event: ProgressCallback = ignore_progress, retry: RetryPolicy | None = None,
    ) -> None:
        self._bucket = validate_bucket_name(bucket)
        if len(prefix.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise ConfigError(f"S3 prefix is over {MAX_KEY_BYTES} bytes: {prefix[:80]!r}...")
        self._prefix = prefix
        self._retry, retry_mode = _with_botocore_retry_config(retry or RetryPolicy(), session)
        concurrency = max(1, int(settings.concurrency))
        timeout = settings.timeout if settings.timeout else 180
        config = Config(
            max_pool_connections=concurrency,
            # One attempt: every retry decision is the policy's (``_RetryHooks.decide``).
            retries={"mode": retry_mode, "total_max_attempts": 1},
            connect_timeout=timeout, read_timeout=timeout, user_agent_extra=_USER_AGENT,
            s3={"payload_signing_enabled": False,
                **({"addressing_style": "path"} if settings.endpoint_url else {})},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        explicit = bool(settings.access_key or settings.secret_key or settings.session_token)
        install_secret_redaction([settings.secret_key, settings.session_token])
        try:
            self._client: Any = session.create_client(
                "s3", region_name=settings.region or None,
                endpoint_url=settings.endpoint_url or None,
                use_ssl=(settings.protocol or "https").lower() != "http", config=config,
                aws_access_key_id=settings.access_key if explicit else None,
                aws_secret_access_key=settings.secret_key if explicit else None,
                aws_session_token=settings.session_token if explicit else None,
            )
        except (BotoCoreError, ValueError) as exc:
            raise translate_error(exc, "CreateClient", "s3") from None
        known = self._client.meta.service_model.shape_for("StorageClass").enum
        if storage_class not in known:
            close = difflib.get_close_matches(storage_class.upper(), known, n=1)
            raise ConfigError(
                f"unknown S3 storage class {storage_class[:40]!r}"
                + (f" (did you mean {close[0]}?)" if close else ""),
                hint="one of " + ", ".join(known))
        self._storage_class = storage_class
        self._region = str(self._client.meta.region_name)
        self._capabilities = s3_capabilities(storage_class, concurrency)
        hooks = _RetryHooks(self._retry, on_event)
        events = self._client.meta.events
        events.register_first("needs-retry.s3", _no_redirect)
        events.register_first("needs-retry.s3", hooks.decide)
        events.register("request-created.s3", hooks.report)
        self._closed = threading.Event()

    def __repr__(self) -> str:
        return f"S3Store(bucket={self._bucket!r}, prefix={self._prefix!r})"

    @property
    def capabilities(self) -> TargetCapabilities:
        return self._capabilities

    @property
    def identity(self) -> str:
        where = f"S3 bucket {self._bucket!r}"
        return where + (f" prefix {self._prefix!r}" if self._prefix else "")

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def prefix(self) -> str:
        return self._prefix

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._client.close()

    def __enter__(self) -> S3Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def key_for(self, name: str) -> str:
        key = self._prefix + name
        try:
            size = len(key.encode("utf-8"))
        except UnicodeEncodeError:
            raise MetadataError("file name is not valid UTF-8 text", name=name) from None
        if size > MAX_KEY_BYTES:
            raise MetadataError(f"S3 key would be {size} bytes, over the "
                                f"{MAX_KEY_BYTES}-byte limit (prefix included)", name=name)
        return key

    # ------------------------------------------------------------------ plumbing

    def _error(self, exc: Exception, operation: str, what: str) -> GlacierlibError:
        """S3's errors that need S3's words, then the shared translation."""
        if not isinstance(exc, ClientError):
            return translate_error(exc, operation, what)
        response: Mapping[str, Any] = exc.response or {}
        code = str((response.get("Error") or {}).get("Code") or "")
        meta = response.get("ResponseMetadata") or {}
        status = meta.get("HTTPStatusCode")
        headers = meta.get("HTTPHeaders") or {}
        kw: dict[str, Any] = {"code": code, "operation": operation, "status": status}
        bucket = f"S3 bucket {self._bucket!r}"
        if status == 301 or code in ("PermanentRedirect", "301"):
            region = (headers.get("x-amz-bucket-region")
                      or (response.get("Error") or {}).get("Region") or "another region")
            return ConfigError(f"{bucket} is in region {region}, not {self._region}",
                               hint=f"pass --region {region}")
        if code == "NoSuchBucket" or (code in ("404", "NotFound") and operation == "HeadBucket"):
            return NotFound(f"{operation}: {bucket} does not exist", **kw)
        if code in ("AccessDenied", "AllAccessDisabled") or (
                status == 403 and code in ("403", "Forbidden")):
            return AuthFailed(f"{operation} ({what}): access denied to {bucket}", **kw,
                              hint="check that these credentials are allowed this call on "
                              "the bucket (IAM policy, bucket policy)")
        if code == "InvalidObjectState":
            return InvalidRequest(f"{operation} ({what}): the object is archived and not "
                                  "restored", hint="request a restore and wait for it", **kw)
        if code in ("InvalidStorageClass",):
            return ConfigError(f"{operation}: S3 refused storage class {self._storage_class!r}")
        if code in ("BadDigest", "XAmzContentSHA256Mismatch", "InvalidDigest"):
            return VerificationError(f"{operation} ({what}): S3 computed another checksum "
                                     f"than ours ({code})",
                                     hint="the data changed in transit or on disk; try again")
        if code in ("NoSuchKey", "NoSuchUpload", "NoSuchVersion"):
            return NotFound(f"{operation} ({what}): {code}", **kw)
        return translate_error(exc, operation, what)

    def _call(self, operation: str, what: str, method: str, **params: Any) -> dict[str, Any]:
        try:
            result = getattr(self._client, method)(**params)
        except _TRANSLATABLE as exc:
            raise self._error(exc, operation, what) from None
        except _PARSER_ERRORS as exc:
            raise _malformed(operation, exc) from None
        return cast("dict[str, Any]", result)

    def _pages(self, operation: str, what: str, method: str, key: str, **params: Any
               ) -> Iterator[Mapping[str, Any]]:
        """Items of every page. S3 leaves out an empty list, so absent means none here."""
        try:
            for page in self._client.get_paginator(method).paginate(**params):
                items = page.get(key, [])
                if not isinstance(items, list):
                    raise _malformed(operation, ValueError(f"{key} is not a list"))
                yield from items
        except _TRANSLATABLE as exc:
            raise self._error(exc, operation, what) from None
        except _PARSER_ERRORS as exc:
            raise _malformed(operation, exc) from None

    def _ref(self, key: str, version: Any) -> str:
        """The journal reference; version ``null`` (an unversioned or suspended bucket, as
        moto answers CompleteMultipartUpload) is the same as none, and moto refuses it back."""
        kept = str(version) if version and version != "null" else None
        return S3Ref(self._bucket, key, kept).format()

    def _parse(self, ref: str) -> S3Ref:
        try:
            parsed = S3Ref.parse(ref)
        except ValueError as exc:
            raise InvalidRequest(f"not an S3 object reference: {exc}") from None
        if parsed.bucket != self._bucket:
            raise InvalidRequest(f"{ref[:200]} belongs to bucket {parsed.bucket!r}, not to "
                                 f"{self._bucket!r}")
        return parsed

    def _object(self, ref: S3Ref) -> dict[str, Any]:
        params: dict[str, Any] = {"Bucket": self._bucket, "Key": ref.key}
        if ref.version_id is not None:
            params["VersionId"] = ref.version_id
        return params

    def _check_echo(self, result: Mapping[str, Any], ours: str, what: str) -> None:
        theirs = result.get("ChecksumSHA256")
        if isinstance(theirs, str) and theirs and theirs != ours:
            raise VerificationError(f"{what}: S3 reports SHA-256 {theirs}, ours is {ours}")

    # ------------------------------------------------------------------ store

    def check_bucket(self) -> None:
        """HeadBucket: a missing bucket, another region or no access, before any upload."""
        self._call("HeadBucket", self.identity, "head_bucket", Bucket=self._bucket)

    def store_small(self, provenance: Provenance, body: PartBody) -> StoredObject:
        key = self.key_for(provenance.name)
        checksum = _b64(body.sha256)
        result = self._call(
            "PutObject", f"key {key!r}", "put_object", Bucket=self._bucket, Key=key,
            Body=_HashedBody(body), ContentLength=body.length,
            StorageClass=self._storage_class, ChecksumSHA256=checksum,
            Metadata=s3_metadata(provenance.mtime, provenance.tree_hash or body.tree_hash))
        self._check_echo(result, checksum, f"PutObject (key {key!r})")
        return StoredObject(self._ref(key, result.get("VersionId")), body.length,
                            body.tree_hash)

    def start_upload(self, provenance: Provenance, part_size: int) -> Upload:
        key = self.key_for(provenance.name)
        problem = self._capabilities.part_size_problem(part_size)
        if problem:
            raise InvalidRequest(f"CreateMultipartUpload (key {key!r}): {problem}")
        result = self._call(
            "CreateMultipartUpload", f"key {key!r}", "create_multipart_upload",
            Bucket=self._bucket, Key=key, StorageClass=self._storage_class,
            ChecksumAlgorithm="SHA256", ChecksumType="COMPOSITE",
            Metadata=s3_metadata(provenance.mtime, provenance.tree_hash))
        upload_id = result.get("UploadId")
        if not isinstance(upload_id, str) or not upload_id:
            raise _malformed("CreateMultipartUpload", ValueError("no UploadId"))
        return Upload(upload_id, key, part_size)

    def send_part(self, upload: Upload, offset: int, body: PartBody) -> SentPart:
        if offset % upload.part_size:
            raise InvalidRequest(f"UploadPart (key {upload.key!r}): offset {offset} is not a "
                                 f"multiple of the part size {upload.part_size}")
        number = offset // upload.part_size + 1
        checksum = _b64(body.sha256)
        result = self._call(
            "UploadPart", f"key {upload.key!r} part {number}", "upload_part",
            Bucket=self._bucket, Key=upload.key, UploadId=upload.upload_id, PartNumber=number,
            Body=_HashedBody(body), ContentLength=body.length, ChecksumSHA256=checksum)
        self._check_echo(result, checksum, f"UploadPart (key {upload.key!r} part {number})")
        return SentPart(number, ByteRange(offset, offset + body.length), checksum)

    def _parts(self, upload: Upload) -> Iterator[tuple[SentPart, str]]:
        for item in self._pages("ListParts", f"key {upload.key!r}", "list_parts", "Parts",
                                Bucket=self._bucket, Key=upload.key,
                                UploadId=upload.upload_id):
            number, size = int(item["PartNumber"]), int(item["Size"])
            start = (number - 1) * upload.part_size
            yield (SentPart(number, ByteRange(start, start + size),
                            str(item.get("ChecksumSHA256") or "")), str(item.get("ETag") or ""))

    def list_parts(self, upload: Upload) -> Iterator[SentPart]:
        for part, _etag in self._parts(upload):
            yield part

    def finish_upload(self, upload: Upload, size: int, tree_hash: TreeHash) -> StoredObject:
        """Complete from what ListParts says S3 holds, after checking it covers ``size``.

        Listing the parts (one call per 1,000 parts) instead of carrying every ETag through
        the executor keeps resumed uploads working: the resume state holds offsets only.
        """
        parts = sorted(self._parts(upload), key=lambda p: p[0].part_number)
        position = 0
        for part, _etag in parts:
            if part.byte_range.start != position:
                raise VerificationError(f"CompleteMultipartUpload (key {upload.key!r}): part "
                                        f"{part.part_number} does not start at byte {position}")
            position = part.byte_range.end
        if position != size or not parts:
            raise VerificationError(f"CompleteMultipartUpload (key {upload.key!r}): the parts "
                                    f"hold {position} bytes, the file {size}")
        listed = []
        for part, etag in parts:
            entry = {"PartNumber": part.part_number, "ETag": etag}
            if part.checksum:
                entry["ChecksumSHA256"] = part.checksum
            listed.append(entry)
        result = self._call(
            "CompleteMultipartUpload", f"key {upload.key!r}", "complete_multipart_upload",
            Bucket=self._bucket, Key=upload.key, UploadId=upload.upload_id,
            MultipartUpload={"Parts": listed})
        return StoredObject(self._ref(upload.key, result.get("VersionId")), size, tree_hash)

    def abort_upload(self, upload: Upload) -> None:
        with contextlib.suppress(NotFound):  # already gone is what was asked for
            self._call("AbortMultipartUpload", f"key {upload.key!r}", "abort_multipart_upload",
                       Bucket=self._bucket, Key=upload.key, UploadId=upload.upload_id)

    def list_unfinished_uploads(self) -> Iterator[UnfinishedUpload]:
        for item in self._pages("ListMultipartUploads", self.identity,
                                "list_multipart_uploads", "Uploads", Bucket=self._bucket,
                                Prefix=self._prefix):
            key = str(item.get("Key") or "")
            yield UnfinishedUpload(str(item.get("UploadId") or ""), key,
                                   str(item.get("Initiated") or ""),
                                   name_from_key(key, self._prefix))

    def delete(self, ref: str) -> None:
        parsed = self._parse(ref)
        self._call("DeleteObject", f"key {parsed.key!r}", "delete_object",
                   **self._object(parsed))

    # ------------------------------------------------------------------ read

    def request_readable(self, ref: str, *, tier: str = "Standard", days: int = 1
                         ) -> ReadTicket:
        """RestoreObject, unless the class needs none. Never pays twice: a restore already
        running answers 409 and is reported as ``in-progress``; a restored copy is extended.
        """
        parsed = self._parse(ref)
        if not self._capabilities.restore_needed:
            return ReadTicket(ref, "not-needed")
        request = {"Days": days, "GlacierJobParameters": {"Tier": tier}}
        state: RestoreState
        try:
            result = self._call("RestoreObject", f"key {parsed.key!r}", "restore_object",
                                RestoreRequest=request, **self._object(parsed))
        except GlacierlibError as exc:
            code = getattr(exc, "code", "")
            if code == "RestoreAlreadyInProgress":
                return ReadTicket(ref, "in-progress")
            if code == "InvalidObjectState":  # a class that needs no restore
                return ReadTicket(ref, "not-needed")
            raise
        status = (result.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        state = "extended" if status == 200 else "started"
        return ReadTicket(ref, state)

    def readability(self, ticket: ReadTicket) -> Readability:
        parsed = self._parse(ticket.ref)
        head = self._call("HeadObject", f"key {parsed.key!r}", "head_object",
                          **self._object(parsed))
        storage_class = str(head.get("StorageClass") or "STANDARD")
        restore = str(head.get("Restore") or "")
        if 'ongoing-request="true"' in restore:
            return Readability(False, True)
        if 'ongoing-request="false"' in restore:
            expiry = restore.partition('expiry-date="')[2].partition('"')[0] or None
            return Readability(True, False, expiry)
        return Readability(storage_class not in RESTORE_CLASSES, False)

    def read_range(self, ticket: ReadTicket, byte_range: ByteRange | None = None
                   ) -> ReadStream:
        parsed = self._parse(ticket.ref)
        params = self._object(parsed)
        if byte_range is not None:
            params["Range"] = byte_range.http_range()
        result = self._call("GetObject", f"key {parsed.key!r}", "get_object",
                            ChecksumMode="ENABLED", **params)
        try:
            content_range, total = (None, None)
            if result.get("ContentRange"):
                content_range, total = _parse_content_range(str(result["ContentRange"]))
            length = int(result.get("ContentLength") or 0)
        except (ValueError, TypeError) as exc:
            result["Body"].close()
            raise _malformed("GetObject", exc) from None
        body = _TranslatingBody(result["Body"], parsed.key)
        checksum = result.get("ChecksumSHA256")
        return ReadStream(body, length, content_range, total,  # type: ignore[arg-type]
                          str(checksum) if checksum else None)

    # ------------------------------------------------------------------ list

    def start_listing(self) -> ListingTicket:
        return ListingTicket()

    def listing_ready(self, ticket: ListingTicket) -> bool:
        return True

    def list_objects(self, ticket: ListingTicket) -> Iterator[ListedObject]:
        """ListObjectsV2 under the prefix, with each archived object's restore status."""
        for item in self._pages("ListObjectsV2", self.identity, "list_objects_v2", "Contents",
                                Bucket=self._bucket, Prefix=self._prefix,
                                OptionalObjectAttributes=["RestoreStatus"]):
            key = str(item.get("Key") or "")
            if not key:
                continue
            status = item.get("RestoreStatus") or {}
            expiry = status.get("RestoreExpiryDate")
            yield ListedObject(
                self._ref(key, None), key, int(item.get("Size") or 0),
                name_from_key(key, self._prefix),
                storage_class=str(item.get("StorageClass") or "STANDARD"),
                restore_in_progress=status.get("IsRestoreInProgress"),
                restore_expiry=None if expiry is None else str(expiry))


def open_s3_target(
    settings: ConnectionSettings, *, bucket: str, prefix: str = "",
    storage_class: str = "GLACIER", on_event: ProgressCallback = ignore_progress,
    retry: RetryPolicy | None = None,
) -> Target:
    """An ``S3Store`` for ``settings`` (its profile's session); typed so mypy proves that
    ``S3Store`` implements ``Target``. Wrappers for targets come with the next step."""
    return S3Store(make_session(settings), settings, bucket=bucket, prefix=prefix,
                   storage_class=storage_class, on_event=on_event, retry=retry)
