"""The botocore implementation of ``VaultStore``: one thread-safe client per run.

Why it looks the way it does:

* One botocore client, shared by every worker thread, with a connection pool sized to the
  concurrency: botocore clients are thread-safe, and one pool means one TLS handshake per
  connection instead of one per request.
* Retries follow one :class:`~glacierlib.wrappers.retrying.RetryPolicy`: a time budget per
  request (15 minutes by default), capped jittered backoff, and an optional attempt cap. One
  ``needs-retry`` hook makes every decision inside botocore's own retry loop (which rewinds the
  upload body and signs each attempt again); botocore's standard handler is kept to a single
  attempt, so neither its attempt count nor its retry quota (which stops all retries after a
  few dozen failures) can end a run that the budget would carry through an outage. What is
  transient is botocore's standard classification (5xx, throttling, ``RequestTimeout``,
  broken connections), plus a 408 whatever its error code and a reply cut off mid-body,
  minus ``LimitExceededException`` (for Glacier a quota that waiting does not lift). Each
  retry is reported to the progress callback as a ``Retrying`` event.
* Upload bodies are hashed once, by the caller (``PartBody.from_bytes``). The tree hash goes in
  the modelled ``checksum`` parameter and the linear SHA-256 into ``x-amz-content-sha256`` by a
  ``before-call`` hook that runs before botocore's ``add_glacier_checksums``; that handler then
  skips both, and SigV4 signs with the header value instead of reading the body again.
* Errors become :mod:`glacierlib.exceptions`; ``ClientError`` and botocore exceptions never
  escape, and messages are built from safe fields (authentication errors never echo the
  server's text, which can quote the canonical request).
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO, Protocol, cast

import attrs
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    NoRegionError,
    PaginationError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

from glacierlib import __version__
from glacierlib.exceptions import (
    AuthFailed,
    ConfigError,
    GlacierlibError,
    InvalidRequest,
    LimitExceeded,
    NoLongerSupported,
    NotFound,
    PolicyEnforced,
    ServiceError,
    ServiceUnavailable,
    Throttled,
    VerificationError,
)
from glacierlib.progress import ProgressCallback, Retrying, ignore_progress
from glacierlib.storage import (
    ArchiveCreated,
    InventoryParameters,
    JobDescription,
    JobOutput,
    MultipartUpload,
    PartBody,
    PartInfo,
    StoreCapabilities,
    VaultInfo,
    VaultStore,
)
from glacierlib.treehash import ByteRange, TreeHash
from glacierlib.wrappers.lean import LeanUploader
from glacierlib.wrappers.logged import LoggedStore
from glacierlib.wrappers.redaction import install_secret_redaction, redact
from glacierlib.wrappers.retrying import RetryingStore, RetryPolicy

__all__ = [
    "Connection",
    "ConnectionSettings",
    "GlacierStore",
    "install_secret_redaction",
    "make_session",
    "open_store",
    "retry_policy_for",
    "translate_error",
]

logger = logging.getLogger(__name__)

_USER_AGENT = f"glacierlib/{__version__}"  # safe: glacierlib/__init__ never imports botocore
_RETRY_NOTE = "glacierlib.retry"
_FAILING_SINCE = "glacierlib.failing_since"


class ConnectionSettings(Protocol):
    """The part of ``glacierlib.config.Settings`` this module reads.

    A structural type, so tests and embedders can pass any object with these attributes.
    """

    @property
    def region(self) -> str | None: ...
    @property
    def endpoint_url(self) -> str | None: ...
    @property
    def protocol(self) -> str: ...
    @property
    def timeout(self) -> float: ...
    @property
    def access_key(self) -> str | None: ...
    @property
    def secret_key(self) -> str | None: ...
    @property
    def session_token(self) -> str | None: ...
    @property
    def profile(self) -> str | None: ...
    @property
    def concurrency(self) -> int: ...


@attrs.frozen
class Connection:
    """A plain ``ConnectionSettings`` value: for ``--local``, tests and embedders.

    Secrets are ``repr=False`` so the value can be logged or shown in a traceback.
    """

    region: str | None = None
    endpoint_url: str | None = None
    protocol: str = "https"
    timeout: float = 180
    access_key: str | None = attrs.field(default=None, repr=False)
    secret_key: str | None = attrs.field(default=None, repr=False)
    session_token: str | None = attrs.field(default=None, repr=False)
    profile: str | None = None
    concurrency: int = attrs.field(default=4, validator=attrs.validators.ge(1))

    @classmethod
    def from_settings(cls, settings: ConnectionSettings) -> Connection:
        """Copy the connection fields of any settings object (to ``attrs.evolve`` them)."""
        return cls(
            region=settings.region, endpoint_url=settings.endpoint_url,
            protocol=settings.protocol, timeout=settings.timeout,
            access_key=settings.access_key, secret_key=settings.secret_key,
            session_token=settings.session_token, profile=settings.profile,
            concurrency=settings.concurrency,
        )


# --------------------------------------------------------------------------- error mapping

NO_LONGER_SUPPORTED_MESSAGE = (
    "Amazon Glacier refused {operation}: this AWS account cannot use the Glacier vault API "
    "(NoLongerSupportedException). Glacier vaults stopped accepting new customers on "
    "2025-12-15; only accounts that already keep data in Glacier vaults can still use them"
)
NO_LONGER_SUPPORTED_HINT = (
    "check that the credentials, profile and region are those of the account that owns the "
    "vaults; for new archives use an S3 bucket with a Glacier storage class, or try mtglacier "
    "without AWS using --local DIR"
)

_NOT_FOUND = {"ResourceNotFoundException", "NoSuchVault", "NotFound"}
_THROTTLED = {
    "ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "SlowDown", "RequestThrottled", "RequestThrottledException",
}
_AUTH = {
    "AccessDeniedException", "AccessDenied", "InvalidSignatureException",
    "SignatureDoesNotMatch", "ExpiredTokenException", "ExpiredToken",
    "MissingAuthenticationTokenException", "UnrecognizedClientException",
    "InvalidClientTokenId", "IncompleteSignature", "IncompleteSignatureException",
    "AuthFailure", "InvalidAccessKeyId", "RequestExpired",
}
_INVALID = {
    "InvalidParameterValueException", "MissingParameterValueException",
    "SerializationException", "BadRequest", "ValidationException", "InvalidRequest",
}
_UNAVAILABLE = {
    "ServiceUnavailableException", "ServiceUnavailable", "InternalFailure", "InternalError",
    "RequestTimeoutException", "RequestTimeout", "InsufficientCapacityException",
    "PriorRequestNotComplete",
}

_AUTH_HINT = "check the access key, secret, session token, profile and the system clock"


def _service_message(code: str, message: str) -> str:
    text = redact(" ".join(message.split()))
    return text[:300] + ("..." if len(text) > 300 else "")


def _translate_client_error(exc: ClientError, operation: str, what: str) -> GlacierlibError:
    response: Mapping[str, Any] = exc.response or {}
    error = response.get("Error") or {}
    code = str(error.get("Code") or "")
    raw_message = str(error.get("Message") or "")
    status_raw = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
    status = int(status_raw) if isinstance(status_raw, int) else None
    where = f"{operation} ({what})" if what else operation
    detail = f"{code or 'HTTP ' + str(status)}"
    kwargs: dict[str, Any] = {"code": code, "operation": operation, "status": status}

    if code == "NoLongerSupportedException":
        return NoLongerSupported(
            NO_LONGER_SUPPORTED_MESSAGE.format(operation=where), hint=NO_LONGER_SUPPORTED_HINT,
            **kwargs,
        )
    if code in _AUTH or status in (401, 403):
        # Never echo the server text: signature errors quote the canonical request.
        return AuthFailed(f"{where}: the service refused the credentials ({detail})",
                          hint=_AUTH_HINT, **kwargs)
    message = _service_message(code, raw_message)
    text = f"{where}: {detail}" + (f": {message}" if message else "")
    if code in _NOT_FOUND or status == 404:
        return NotFound(text, **kwargs)
    if code in _THROTTLED or status == 429:
        return Throttled(text, hint="requests are being throttled; lower --concurrency", **kwargs)
    if code == "LimitExceededException":
        return LimitExceeded(text, **kwargs)
    if code == "PolicyEnforcedException":
        return PolicyEnforced(
            text, hint="the account's data retrieval policy refused this retrieval; try "
            "later, a smaller --max-size, or the Bulk/Expedited tier", **kwargs,
        )
    if code == "InsufficientCapacityException":
        return ServiceUnavailable(
            text, hint="no Expedited capacity now; use the Standard tier", **kwargs
        )
    if code in _UNAVAILABLE or (status is not None and (status >= 500 or status == 408)):
        return ServiceUnavailable(text, **kwargs)
    if code in _INVALID or (status is not None and 400 <= status < 500):
        return InvalidRequest(text, **kwargs)
    return ServiceError(text, **kwargs)


def translate_error(exc: Exception, operation: str, what: str = "") -> GlacierlibError:
    """Map a botocore or transport exception to our hierarchy (already ours: unchanged).

    ``what`` names the object (vault, archive, upload) for the message.
    """
    if isinstance(exc, GlacierlibError):
        return exc
    where = f"{operation} ({what})" if what else operation
    if isinstance(exc, ClientError):
        return _translate_client_error(exc, operation, what)
    if isinstance(exc, NoCredentialsError):
        return AuthFailed(
            f"{where}: no AWS credentials found", operation=operation,
            hint="pass --key/--secret, set --profile, or configure the AWS credential chain",
        )
    if isinstance(exc, PartialCredentialsError):
        return AuthFailed(
            f"{where}: incomplete AWS credentials ({type(exc).__name__})",
            operation=operation, hint="give both the access key and the secret key",
        )
    if isinstance(exc, NoRegionError):
        return ConfigError("no AWS region configured",
                           hint="pass --region or set one in the profile")
    if isinstance(exc, ProfileNotFound):
        return ConfigError("the AWS profile was not found",
                           hint="check --profile and ~/.aws/config")
    if isinstance(exc, ParamValidationError):
        return InvalidRequest(f"{where}: invalid parameters: {redact(str(exc))[:300]}",
                              operation=operation)
    if isinstance(exc, PaginationError):
        return ServiceError(f"{where}: the service repeated a pagination marker",
                            operation=operation)
    if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
        return ServiceUnavailable(
            f"{where}: cannot connect to the endpoint ({type(exc).__name__})",
            operation=operation, hint="check --endpoint-url, --region and the network",
        )
    if isinstance(exc, (ReadTimeoutError, ConnectionClosedError, HTTPClientError)):
        return ServiceUnavailable(
            f"{where}: connection failed ({type(exc).__name__})", operation=operation
        )
    if isinstance(exc, BotoCoreError):
        return ServiceUnavailable(
            f"{where}: transfer failed ({type(exc).__name__})", operation=operation
        )
    if isinstance(exc, OSError):
        return ServiceUnavailable(
            f"{where}: connection failed ({type(exc).__name__})", operation=operation
        )
    return ServiceError(f"{where}: unexpected {type(exc).__name__}", operation=operation)


_TRANSLATABLE = (ClientError, BotoCoreError, OSError)
_PARSER_ERRORS = (TypeError, ValueError, AttributeError)


# --------------------------------------------------------------------------- helpers


#: The smallest block ``_HashedBody.read`` hands to urllib3 (one ``sendall`` each).
_SEND_BLOCK = 1 << 20


class _HashedBody(io.RawIOBase):
    """A seekable upload body over the part's buffer, carrying its precomputed SHA-256.

    It reads straight from the caller's buffer (no copy of the part), and it is seekable,
    so botocore's retry rewinds it (``reset_stream`` seeks to 0) and re-sends the same bytes.
    The ``before-call`` hook finds ``sha256_hex`` on it.
    """

    def __init__(self, body: PartBody) -> None:
        super().__init__()
        self._view = memoryview(body.data).cast("B")
        self._pos = 0
        self.sha256_hex = body.sha256.hex()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        size = max(0, min(len(target), len(self._view) - self._pos))
        target[:size] = self._view[self._pos : self._pos + size]
        self._pos += size
        return size

    def read(self, size: int | None = -1) -> bytes:
        """A view of the next block, not a copy, and at least ``_SEND_BLOCK`` bytes of it.

        urllib3 sends a file-like body in blocks of ``read(16384)``: for a 16 MiB part that
        was a thousand copies into new ``bytes`` and as many trips through http.client and
        ``sendall``. Its only use of the result is ``sendall``, which takes any buffer, so
        the block is a slice of the part's own buffer, larger than asked for.
        """
        wanted = len(self._view) if size is None or size < 0 else max(size, _SEND_BLOCK)
        chunk = self._view[self._pos : self._pos + wanted]
        self._pos += len(chunk)
        return cast(bytes, chunk)

    def __repr__(self) -> str:  # botocore logs the body when rewinding it
        return f"<upload body {len(self._view)} bytes>"


def _supply_content_sha256(params: dict[str, Any], **_: Any) -> None:
    """before-call hook: put our SHA-256 in place so botocore does not hash the body."""
    body = params.get("body")
    digest = getattr(body, "sha256_hex", None)
    if isinstance(digest, str):
        params["headers"]["x-amz-content-sha256"] = digest


def _failure_of(response: Any, caught: BaseException | None) -> tuple[str, int | None]:
    """Reason text and HTTP status of a failed attempt, from safe fields only."""
    if caught is not None:
        return f"connection error ({type(caught).__name__})", None
    if response is None:
        return "", None
    http, parsed = response
    status = getattr(http, "status_code", None)
    code = ""
    if isinstance(parsed, Mapping):
        code = str((parsed.get("Error") or {}).get("Code") or "")
    if status is not None and status < 300:
        return "", status
    return f"HTTP {status}" + (f" {code}" if code else ""), status


def _short_body(response: Any, operation: Any) -> tuple[int, int] | None:
    """(received, declared) when a non-streaming reply was cut off mid-body, else None.

    botocore reads non-streaming bodies without checking them against Content-Length (its
    HTTP session turns urllib3's check off), and with current urllib3 a connection dropped
    mid-body yields the bytes that arrived: truncated JSON that parses as a successful,
    *empty* reply (an empty job list, a vault without a name). It is a failed attempt.
    """
    if response is None or getattr(operation, "has_streaming_output", True):
        return None
    if (getattr(operation, "http", None) or {}).get("method") == "HEAD":
        return None  # a HEAD reply declares the object's length and has no body
    http = response[0]
    declared = str(getattr(http, "headers", {}).get("content-length", ""))
    if not declared.isdigit():
        return None
    received = len(http.content or b"")
    return (received, int(declared)) if received < int(declared) else None


#: Failures that happen before a request can reach the service: nothing was stored.
_NOT_SENT = (EndpointConnectionError, ConnectTimeoutError)


class _RetryHooks:
    """Event hooks around botocore's retry loop (see the module docstring)."""

    #: Errors that waiting does not cure, though botocore's tables call some of them transient.
    _NEVER = frozenset({"LimitExceededException", "PolicyEnforcedException",
                        "NoLongerSupportedException"})

    def __init__(self, policy: RetryPolicy, on_event: ProgressCallback) -> None:
        from botocore.retries.standard import RetryEventAdapter, StandardRetryConditions

        self._policy = policy
        self._on_event = on_event
        self._adapter = RetryEventAdapter()
        # Attempts are the policy's business; botocore only says what is transient.
        self._transient = StandardRetryConditions(max_attempts=1 << 30)
        # Per calling thread: botocore runs a call's hooks on the thread that made the call.
        self._lost = threading.local()

    def start_counting_lost_replies(self) -> None:
        self._lost.count = 0

    def lost_replies(self) -> int:
        return int(getattr(self._lost, "count", 0))

    def decide(self, response: Any = None, request_dict: Any = None, attempts: int = 1,
               operation: Any = None, caught_exception: Any = None,
               **kwargs: Any) -> float | bool:
        """Registered first, answers every failure: the wait before the next attempt, or
        False (no retry; botocore then raises the error or returns the reply).

        A single-request upload that failed after it may have reached the service is counted
        (see ``ArchiveCreated.lost_replies``): its retry can store a second copy.
        """
        name = getattr(operation, "name", "")
        if (caught_exception is not None and name == "UploadArchive"
                and not isinstance(caught_exception, _NOT_SENT)):
            self._lost.count = self.lost_replies() + 1
        short = _short_body(response, operation)
        if short is not None:
            reason = f"reply cut off after {short[0]} of {short[1]} bytes"
        else:
            reason, status = _failure_of(response, caught_exception)
            event = {"response": response, "attempts": attempts, "operation": operation,
                     "caught_exception": caught_exception, "request_dict": request_dict}
            if not reason or not self._is_transient(status, event):
                return False
        context = request_dict.setdefault("context", {}) if isinstance(request_dict, dict) \
            else {}
        now = time.monotonic()
        failing_since = float(context.setdefault(_FAILING_SINCE, now))
        delay = self._policy.next_delay(attempts, failing_since, now)
        if delay is None:
            if short is not None:  # never let the truncated reply pass for an answer
                raise IncompleteReadError(actual_bytes=short[0], expected_bytes=short[1])
            logger.debug("giving up on %s after %d attempt(s) over %.1fs (%s)", name,
                         attempts, now - failing_since, self._policy.describe())
            return False
        context[_RETRY_NOTE] = (reason, now)
        return delay

    def _is_transient(self, status: int | None, event: dict[str, Any]) -> bool:
        """botocore's standard classification of one needs-retry ``event``, adjusted."""
        response = event["response"]
        if response is not None and isinstance(response[1], Mapping):
            code = (response[1].get("Error") or {}).get("Code")
            if code in self._NEVER:
                return False
        if status == 408:  # standard mode knows only the RequestTimeoutException code
            return True
        if not isinstance(event["request_dict"], dict):
            return event["caught_exception"] is not None
        event["request_dict"].setdefault("context", {})
        return bool(self._transient.is_retryable(self._adapter.create_retry_context(**event)))

    def report(self, request: Any = None, operation_name: str = "", **_: Any) -> None:
        """request-created: a retry is about to be signed and sent; tell the callback."""
        context = getattr(request, "context", None)
        if not isinstance(context, dict):
            return
        attempt = int((context.get("retries") or {}).get("attempt", 1))
        note = context.pop(_RETRY_NOTE, None)
        if attempt <= 1 or note is None:
            return
        reason, failed_at = note
        operation = operation_name or "request"
        waited = max(0.0, time.monotonic() - failed_at)
        logger.info("retrying %s (attempt %d) after %s", operation, attempt, reason)
        try:
            self._on_event(Retrying(operation, attempt, reason, round(waited, 3)))
        except Exception:  # a broken progress display must not fail the transfer
            logger.debug("progress callback failed on Retrying", exc_info=True)


class _TranslatingBody(io.RawIOBase):
    """Job-output stream whose read errors arrive as our typed (retryable) errors."""

    def __init__(self, raw: Any, job_id: str) -> None:
        super().__init__()
        self._raw = raw
        self._job_id = job_id

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._raw.read(None if size is None or size < 0 else size)
        except _TRANSLATABLE as exc:
            raise translate_error(exc, "GetJobOutput", f"job {self._job_id}") from None
        except Exception as exc:  # urllib3 errors that botocore did not wrap
            raise ServiceUnavailable(
                f"GetJobOutput (job {self._job_id}): stream broke ({type(exc).__name__})",
                operation="GetJobOutput",
            ) from None
        return bytes(data)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            except Exception:
                logger.debug("closing a job output stream failed", exc_info=True)
            super().close()


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _malformed(operation: str, exc: Exception) -> ServiceError:
    return ServiceError(f"{operation}: malformed response ({type(exc).__name__}: {exc})"[:300],
                        operation=operation)


def _vault_info(item: Mapping[str, Any]) -> VaultInfo:
    return VaultInfo(
        name=str(item["VaultName"]),
        arn=str(item.get("VaultARN") or ""),
        creation_date=str(item.get("CreationDate") or ""),
        last_inventory_date=_opt_str(item.get("LastInventoryDate")),
        number_of_archives=int(item.get("NumberOfArchives") or 0),
        size_in_bytes=int(item.get("SizeInBytes") or 0),
    )


def _upload_info(item: Mapping[str, Any]) -> MultipartUpload:
    return MultipartUpload(
        upload_id=str(item["MultipartUploadId"]),
        part_size=int(item.get("PartSizeInBytes") or 0),
        creation_date=str(item.get("CreationDate") or ""),
        archive_description=_opt_str(item.get("ArchiveDescription")),
        vault_arn=str(item.get("VaultARN") or ""),
    )


def _opt_tree_hash(value: Any) -> TreeHash | None:
    return None if not value else TreeHash.from_hex(str(value))


def _job_description(item: Mapping[str, Any]) -> JobDescription:
    params = item.get("InventoryRetrievalParameters") or None
    inventory_parameters = None
    inventory_format = None
    if isinstance(params, Mapping):
        inventory_format = _opt_str(params.get("Format"))
        inventory_parameters = InventoryParameters(
            start_date=_opt_str(params.get("StartDate")),
            end_date=_opt_str(params.get("EndDate")),
            limit=_opt_str(params.get("Limit")),
            marker=_opt_str(params.get("Marker")),
        )
    byte_range = item.get("RetrievalByteRange")
    size = item.get("ArchiveSizeInBytes")
    inventory_size = item.get("InventorySizeInBytes")
    return JobDescription(
        job_id=str(item["JobId"]),
        action=str(item.get("Action") or ""),
        status_code=str(item.get("StatusCode") or ""),
        completed=bool(item.get("Completed")),
        creation_date=str(item.get("CreationDate") or ""),
        completion_date=_opt_str(item.get("CompletionDate")),
        status_message=_opt_str(item.get("StatusMessage")),
        archive_id=_opt_str(item.get("ArchiveId")),
        archive_size=None if size is None else int(size),
        archive_tree_hash=_opt_tree_hash(item.get("ArchiveSHA256TreeHash")),
        sha256_tree_hash=_opt_tree_hash(item.get("SHA256TreeHash")),
        retrieval_byte_range=ByteRange.parse_inclusive(str(byte_range)) if byte_range else None,
        tier=_opt_str(item.get("Tier")),
        description=_opt_str(item.get("JobDescription")),
        sns_topic=_opt_str(item.get("SNSTopic")),
        inventory_size=None if inventory_size is None else int(inventory_size),
        inventory_format=inventory_format,
        inventory_parameters=inventory_parameters,
        vault_arn=str(item.get("VaultARN") or ""),
    )


def _parse_content_range(text: str) -> tuple[ByteRange, int | None]:
    """``bytes a-b/total`` (total may be ``*``)."""
    unit, _, rest = text.strip().partition(" ")
    span, _, total = rest.partition("/")
    if unit.lower() != "bytes" or not span:
        raise ValueError(f"not a Content-Range: {text[:80]!r}")
    return ByteRange.parse_inclusive(span), (None if total in ("", "*") else int(total))


# --------------------------------------------------------------------------- the store


def make_session(settings: ConnectionSettings) -> botocore.session.Session:
    """A botocore session for the profile (or the default chain when none is given)."""
    try:
        return botocore.session.Session(profile=settings.profile or None)
    except ProfileNotFound:
        raise ConfigError(
            f"AWS profile {settings.profile!r} not found", hint="check --profile and ~/.aws/config"
        ) from None


def retry_policy_for(settings: object) -> RetryPolicy:
    """The retry policy ``Settings`` ask for (``retry_timeout``, ``max_attempts``: 0 for no
    cap, None to let botocore's configuration decide); the default for other objects."""
    timeout = getattr(settings, "retry_timeout", None)
    attempts = getattr(settings, "max_attempts", None)
    if timeout is None:
        return RetryPolicy(max_attempts=attempts or None, inherit_max_attempts=attempts != 0)
    return RetryPolicy.for_budget(float(timeout), attempts or None,
                                  inherit_max_attempts=attempts != 0)


def _with_botocore_retry_config(
    policy: RetryPolicy, session: botocore.session.Session,
) -> tuple[RetryPolicy, str]:
    """Honour botocore's ``max_attempts`` and ``retry_mode`` (``AWS_MAX_ATTEMPTS``,
    ``AWS_RETRY_MODE``, or the profile's keys, in botocore's own order) below our options.

    ``max_attempts`` caps the policy's attempts unless the policy has its own cap (from
    ``--max-attempts``). ``retry_mode = adaptive`` adds botocore's client-side rate limiter;
    ``standard`` and ``legacy`` both mean the policy's retries. Returns the policy and the
    mode for botocore's ``Config``.
    """
    mode = "standard"
    try:
        configured_mode = session.get_config_variable("retry_mode")
        configured_attempts = session.get_config_variable("max_attempts")
    except (ValueError, TypeError):
        raise ConfigError("max_attempts (AWS_MAX_ATTEMPTS or the profile's max_attempts) "
                          "must be an integer") from None
    except BotoCoreError as exc:
        raise ConfigError(f"cannot read the AWS configuration ({type(exc).__name__})") from None
    if configured_mode == "adaptive":
        mode = "adaptive"
    if policy.max_attempts is None and policy.inherit_max_attempts \
            and configured_attempts is not None:
        if int(configured_attempts) < 1:
            raise ConfigError(f"max_attempts (AWS_MAX_ATTEMPTS or the profile's max_attempts) "
                              f"must be at least 1, got {configured_attempts}")
        policy = attrs.evolve(policy, max_attempts=int(configured_attempts))
        logger.debug("retries: at most %d attempts per request (botocore's max_attempts)",
                     policy.max_attempts)
    return policy, mode


class GlacierStore:
    """``VaultStore`` over one botocore client; safe to share between threads."""

    def __init__(
        self, session: botocore.session.Session, settings: ConnectionSettings, *,
        on_event: ProgressCallback = ignore_progress, retry: RetryPolicy | None = None,
        capabilities: StoreCapabilities | None = None,
    ) -> None:
        self._retry, retry_mode = _with_botocore_retry_config(retry or RetryPolicy(), session)
        concurrency = max(1, int(settings.concurrency))
        self._capabilities = capabilities or StoreCapabilities(max_connections=concurrency)
        timeout = settings.timeout if settings.timeout else 180
        config = Config(
            max_pool_connections=concurrency,
            # One attempt: every retry decision is the policy's (``_RetryHooks.decide``).
            retries={"mode": retry_mode, "total_max_attempts": 1},
            connect_timeout=timeout,
            read_timeout=timeout,
            user_agent_extra=_USER_AGENT,
        )
        use_ssl = (settings.protocol or "https").lower() != "http"
        explicit = bool(settings.access_key or settings.secret_key or settings.session_token)
        install_secret_redaction([settings.secret_key, settings.session_token])
        try:
            self._client: Any = session.create_client(
                "glacier",
                region_name=settings.region or None,
                endpoint_url=settings.endpoint_url or None,
                use_ssl=use_ssl,
                config=config,
                aws_access_key_id=settings.access_key if explicit else None,
                aws_secret_access_key=settings.secret_key if explicit else None,
                aws_session_token=settings.session_token if explicit else None,
            )
        except (BotoCoreError, ValueError) as exc:
            if isinstance(exc, NoRegionError):
                raise ConfigError(
                    "no AWS region configured",
                    hint="pass --region, set it in the profile or AWS_DEFAULT_REGION",
                ) from None
            if isinstance(exc, ProfileNotFound):
                raise ConfigError(
                    f"AWS profile {settings.profile!r} not found",
                    hint="check --profile and ~/.aws/config",
                ) from None
            raise ConfigError(f"cannot create the Glacier client ({type(exc).__name__})") from None
        self._settings = settings
        self._session = session
        if not explicit:
            self._register_chain_secrets(session)
        # Loggers imported while the client was built get the filter too.
        install_secret_redaction()
        self._endpoint = str(self._client.meta.endpoint_url)
        self._region = str(self._client.meta.region_name)
        hooks = self._hooks = _RetryHooks(self._retry, on_event)
        events = self._client.meta.events
        events.register_first("before-call.glacier.UploadArchive", _supply_content_sha256)
        events.register_first("before-call.glacier.UploadMultipartPart", _supply_content_sha256)
        events.register_first("needs-retry.glacier", hooks.decide)
        events.register("request-created.glacier", hooks.report)
        self._lean: LeanUploader | None
        try:
            self._lean = LeanUploader(self._client, hooks.report, self._retry.max_attempts)
        except AttributeError:  # botocore internals moved: every upload takes the full path
            logger.debug("lean UploadArchive unavailable with this botocore")
            self._lean = None
        self._closed = threading.Event()

    @staticmethod
    def _register_chain_secrets(session: botocore.session.Session) -> None:
        try:
            credentials = session.get_credentials()
        except BotoCoreError:
            return
        if credentials is None:
            return
        try:
            frozen = credentials.get_frozen_credentials()
        except BotoCoreError:
            return
        install_secret_redaction([frozen.secret_key, frozen.token])

    def __repr__(self) -> str:
        return f"GlacierStore(endpoint={self._endpoint!r}, region={self._region!r})"

    def fixed_connection(self) -> Connection | None:
        """This store's endpoint and credentials as a plain value another process can use, or
        None when the credentials refresh (an assumed role, SSO, instance metadata,
        ``credential_process`` with an expiry).

        A child process given the profile would resolve the chain again on its own: prompt
        for an MFA code it cannot read, or hold a copy that expires while only this process
        refreshes its own. Fixed keys (given, from the environment or a credentials file)
        are handed over as they are.
        """
        given = attrs.evolve(Connection.from_settings(self._settings), region=self._region,
                             endpoint_url=self._endpoint)
        if given.access_key or given.secret_key or given.session_token:
            return attrs.evolve(given, profile=None)
        try:
            credentials = self._session.get_credentials()
        except BotoCoreError:
            return None
        if credentials is None or isinstance(credentials, RefreshableCredentials):
            return None
        frozen = credentials.get_frozen_credentials()
        return attrs.evolve(given, access_key=frozen.access_key, secret_key=frozen.secret_key,
                            session_token=frozen.token, profile=None)

    @property
    def capabilities(self) -> StoreCapabilities:
        return self._capabilities

    @property
    def endpoint_url(self) -> str:
        return self._endpoint

    @property
    def region(self) -> str:
        return self._region

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._retry

    def close(self) -> None:
        """Close the connection pool (idempotent)."""
        if not self._closed.is_set():
            self._closed.set()
            self._client.close()

    def __enter__(self) -> GlacierStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _translated(self, exc: Exception, operation: str, what: str) -> GlacierlibError:
        """``translate_error``, and a transient error says how long it was retried."""
        error = translate_error(exc, operation, what)
        if error.retryable and not error.hint:
            error.hint = self._retry.describe() + (
                "; --max-attempts or botocore's max_attempts set that cap"
                if self._retry.max_attempts is not None
                else "; a longer --retry-timeout rides out a longer outage")
        return error

    def _call(self, operation: str, what: str, method: str, **params: Any) -> dict[str, Any]:
        try:
            result = getattr(self._client, method)(**params)
        except _TRANSLATABLE as exc:
            raise self._translated(exc, operation, what) from None
        except _PARSER_ERRORS as exc:  # botocore's parser choking on a mistyped reply
            raise _malformed(operation, exc) from None
        return cast("dict[str, Any]", result)

    def _pages(
        self, operation: str, what: str, method: str, key: str, **params: Any
    ) -> Iterator[Mapping[str, Any]]:
        """Items of every page; errors on later pages are translated too."""
        try:
            paginator = self._client.get_paginator(method)
            for page in paginator.paginate(**params):
                items = page.get(key)
                if not isinstance(items, list):
                    # An unparseable reply must not read as "no vaults" or "no jobs".
                    raise _malformed(operation, ValueError(f"no {key} list in the reply"))
                yield from items
        except _TRANSLATABLE as exc:
            raise self._translated(exc, operation, what) from None
        except _PARSER_ERRORS as exc:
            raise _malformed(operation, exc) from None

    # ------------------------------------------------------------------ vaults

    def create_vault(self, vault: str) -> None:
        self._call("CreateVault", f"vault {vault!r}", "create_vault", vaultName=vault)

    def delete_vault(self, vault: str) -> None:
        try:
            self._call("DeleteVault", f"vault {vault!r}", "delete_vault", vaultName=vault)
        except NotFound:
            logger.debug("vault %r was already gone", vault)

    def describe_vault(self, vault: str) -> VaultInfo:
        result = self._call("DescribeVault", f"vault {vault!r}", "describe_vault",
                            vaultName=vault)
        try:
            return _vault_info(result)
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed("DescribeVault", exc) from None

    def list_vaults(self) -> Iterator[VaultInfo]:
        for item in self._pages("ListVaults", "", "list_vaults", "VaultList"):
            try:
                yield _vault_info(item)
            except (KeyError, TypeError, ValueError) as exc:
                raise _malformed("ListVaults", exc) from None

    # ------------------------------------------------------------------ archives

    def upload_archive(self, vault: str, body: PartBody, description: str) -> ArchiveCreated:
        if body.length == 0:
            raise InvalidRequest("UploadArchive: an archive cannot be empty",
                                 operation="UploadArchive")
        what = f"vault {vault!r}, {body.length} bytes"
        self._hooks.start_counting_lost_replies()
        lean = self._lean
        template = lean.template_for(vault) if lean is not None else None
        try:
            if template is not None:
                result = self._lean_upload(template, what, body, description)
            else:  # the first to this vault: botocore builds the request (and the template)
                def call() -> dict[str, Any]:
                    return self._call(
                        "UploadArchive", what, "upload_archive", vaultName=vault,
                        archiveDescription=description, checksum=body.tree_hash.hex,
                        body=_HashedBody(body),
                    )

                result = call() if lean is None else lean.full_call(vault, call)
        except GlacierlibError:
            lost = self._hooks.lost_replies()
            if lost:
                logger.warning(
                    "UploadArchive to vault %r failed after %d attempt(s) whose reply was lost; "
                    "the vault may hold a copy the journal does not list (check-remote shows "
                    "it as an orphan)", vault, lost)
            raise
        lost = self._hooks.lost_replies()
        archive_id = str(result.get("archiveId") or "")
        if not archive_id:
            raise ServiceError("UploadArchive: the response has no archive id",
                               operation="UploadArchive")
        self._check_hash(result.get("checksum"), body.tree_hash,
                         f"archive {archive_id} (single upload to vault {vault!r})")
        return ArchiveCreated(archive_id, body.tree_hash, body.length,
                              str(result.get("location") or ""), lost_replies=lost)

    def _lean_upload(self, template: dict[str, Any], what: str, body: PartBody,
                     description: str) -> dict[str, Any]:
        """UploadArchive from the vault's template, errors translated as in ``_call``."""
        data = body.data if isinstance(body.data, bytes) else memoryview(body.data).cast("B")
        try:
            assert self._lean is not None
            return self._lean.upload(template, data, description, body.tree_hash.hex,
                                     body.sha256.hex())
        except _TRANSLATABLE as exc:
            raise translate_error(exc, "UploadArchive", what) from None
        except _PARSER_ERRORS as exc:
            raise _malformed("UploadArchive", exc) from None

    def delete_archive(self, vault: str, archive_id: str) -> None:
        try:
            self._call("DeleteArchive", f"archive {archive_id}", "delete_archive",
                       vaultName=vault, archiveId=archive_id)
        except NotFound:
            logger.debug("archive %s was already gone", archive_id)

    # ------------------------------------------------------------------ multipart

    def initiate_multipart_upload(self, vault: str, part_size: int, description: str) -> str:
        result = self._call(
            "InitiateMultipartUpload", f"vault {vault!r}", "initiate_multipart_upload",
            vaultName=vault, partSize=str(part_size), archiveDescription=description,
        )
        upload_id = str(result.get("uploadId") or "")
        if not upload_id:
            raise ServiceError("InitiateMultipartUpload: the response has no upload id",
                               operation="InitiateMultipartUpload")
        return upload_id

    def upload_part(self, vault: str, upload_id: str, offset: int, body: PartBody) -> TreeHash:
        if body.length == 0:
            raise InvalidRequest("UploadMultipartPart: a part cannot be empty",
                                 operation="UploadMultipartPart")
        span = ByteRange(offset, offset + body.length)
        what = f"upload {upload_id}, bytes {span.inclusive()}"
        result = self._call(
            "UploadMultipartPart", what, "upload_multipart_part", vaultName=vault,
            uploadId=upload_id, range=span.content_range(), checksum=body.tree_hash.hex,
            body=_HashedBody(body),
        )
        self._check_hash(result.get("checksum"), body.tree_hash,
                         f"part bytes {span.inclusive()} of upload {upload_id}")
        return body.tree_hash

    def complete_multipart_upload(
        self, vault: str, upload_id: str, archive_size: int, tree_hash: TreeHash
    ) -> ArchiveCreated:
        result = self._call(
            "CompleteMultipartUpload", f"upload {upload_id}", "complete_multipart_upload",
            vaultName=vault, uploadId=upload_id, archiveSize=str(archive_size),
            checksum=tree_hash.hex,
        )
        archive_id = str(result.get("archiveId") or "")
        if not archive_id:
            raise ServiceError("CompleteMultipartUpload: the response has no archive id",
                               operation="CompleteMultipartUpload")
        self._check_hash(result.get("checksum"), tree_hash,
                         f"archive {archive_id} (multipart upload {upload_id})")
        return ArchiveCreated(archive_id, tree_hash, archive_size,
                              str(result.get("location") or ""))

    def abort_multipart_upload(self, vault: str, upload_id: str) -> None:
        try:
            self._call("AbortMultipartUpload", f"upload {upload_id}", "abort_multipart_upload",
                       vaultName=vault, uploadId=upload_id)
        except NotFound:
            logger.debug("upload %s was already gone", upload_id)

    def list_parts(self, vault: str, upload_id: str) -> Iterator[PartInfo]:
        for item in self._pages("ListParts", f"upload {upload_id}", "list_parts", "Parts",
                                vaultName=vault, uploadId=upload_id):
            try:
                yield PartInfo(ByteRange.parse_inclusive(str(item["RangeInBytes"])),
                               TreeHash.from_hex(str(item["SHA256TreeHash"])))
            except (KeyError, TypeError, ValueError) as exc:
                raise _malformed("ListParts", exc) from None

    def list_multipart_uploads(self, vault: str) -> Iterator[MultipartUpload]:
        for item in self._pages("ListMultipartUploads", f"vault {vault!r}",
                                "list_multipart_uploads", "UploadsList", vaultName=vault):
            try:
                yield _upload_info(item)
            except (KeyError, TypeError, ValueError) as exc:
                raise _malformed("ListMultipartUploads", exc) from None

    # ------------------------------------------------------------------ jobs

    def initiate_archive_retrieval(
        self, vault: str, archive_id: str, *, tier: str | None = None,
        description: str | None = None, sns_topic: str | None = None,
        byte_range: ByteRange | None = None,
    ) -> str:
        params: dict[str, Any] = {"Type": "archive-retrieval", "ArchiveId": archive_id}
        if tier:
            params["Tier"] = tier
        if description is not None:
            params["Description"] = description
        if sns_topic:
            params["SNSTopic"] = sns_topic
        if byte_range is not None:
            params["RetrievalByteRange"] = byte_range.inclusive()
        return self._initiate_job(vault, f"archive {archive_id}", params)

    def initiate_inventory_retrieval(
        self, vault: str, *, format: str = "JSON", description: str | None = None,
        sns_topic: str | None = None, parameters: InventoryParameters | None = None,
    ) -> str:
        params: dict[str, Any] = {"Type": "inventory-retrieval", "Format": format}
        if description is not None:
            params["Description"] = description
        if sns_topic:
            params["SNSTopic"] = sns_topic
        if parameters is not None and not parameters.is_full:
            wire = {
                "StartDate": parameters.start_date, "EndDate": parameters.end_date,
                "Limit": parameters.limit, "Marker": parameters.marker,
            }
            params["InventoryRetrievalParameters"] = {
                k: v for k, v in wire.items() if v is not None
            }
        return self._initiate_job(vault, f"inventory of vault {vault!r}", params)

    def _initiate_job(self, vault: str, what: str, params: dict[str, Any]) -> str:
        result = self._call("InitiateJob", what, "initiate_job", vaultName=vault,
                            jobParameters=params)
        job_id = str(result.get("jobId") or "")
        if not job_id:
            raise ServiceError("InitiateJob: the response has no job id", operation="InitiateJob")
        return job_id

    def describe_job(self, vault: str, job_id: str) -> JobDescription:
        result = self._call("DescribeJob", f"job {job_id}", "describe_job", vaultName=vault,
                            jobId=job_id)
        try:
            return _job_description(result)
        except (KeyError, TypeError, ValueError) as exc:
            raise _malformed("DescribeJob", exc) from None

    def list_jobs(
        self, vault: str, *, completed: bool | None = None, status_code: str | None = None
    ) -> Iterator[JobDescription]:
        params: dict[str, Any] = {"vaultName": vault}
        if completed is not None:
            params["completed"] = "true" if completed else "false"
        if status_code is not None:
            params["statuscode"] = status_code
        for item in self._pages("ListJobs", f"vault {vault!r}", "list_jobs", "JobList",
                                **params):
            try:
                yield _job_description(item)
            except (KeyError, TypeError, ValueError) as exc:
                raise _malformed("ListJobs", exc) from None

    def get_job_output(
        self, vault: str, job_id: str, byte_range: ByteRange | None = None
    ) -> JobOutput:
        params: dict[str, Any] = {"vaultName": vault, "jobId": job_id}
        if byte_range is not None:
            params["range"] = byte_range.http_range()
        result = self._call("GetJobOutput", f"job {job_id}", "get_job_output", **params)
        raw = result["body"]
        try:
            headers = (result.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
            length_text = headers.get("content-length")
            content_range = None
            total = None
            if result.get("contentRange"):
                content_range, total = _parse_content_range(str(result["contentRange"]))
            if length_text is not None:
                length = int(length_text)
            elif content_range is not None:
                length = content_range.length
            else:
                raise ValueError("no Content-Length")
            if content_range is None:
                total = length
            elif content_range.length != length:
                raise ValueError(
                    f"Content-Range {content_range.inclusive()} disagrees with "
                    f"Content-Length {length}"
                )
            tree_hash = _opt_tree_hash(result.get("checksum"))
        except (KeyError, TypeError, ValueError) as exc:
            raw.close()
            raise _malformed("GetJobOutput", exc) from None
        return JobOutput(
            status=int(result.get("status") or 200),
            content_length=length,
            content_type=str(result.get("contentType") or ""),
            body=cast(BinaryIO, io.BufferedReader(_TranslatingBody(raw, job_id), 1 << 16)),
            content_range=content_range,
            total_length=total,
            tree_hash=tree_hash,
            archive_description=_opt_str(result.get("archiveDescription")),
        )

    # ------------------------------------------------------------------ notifications

    def set_vault_notifications(self, vault: str, sns_topic: str, events: list[str]) -> None:
        self._call("SetVaultNotifications", f"vault {vault!r}", "set_vault_notifications",
                   vaultName=vault,
                   vaultNotificationConfig={"SNSTopic": sns_topic, "Events": list(events)})

    def get_vault_notifications(self, vault: str) -> tuple[str, list[str]] | None:
        try:
            result = self._call("GetVaultNotifications", f"vault {vault!r}",
                                "get_vault_notifications", vaultName=vault)
        except NotFound as exc:
            # 404 means either "no configuration" or "no vault"; only the first is an answer.
            if "vault not found" in exc.message.lower():
                raise
            return None
        config = result.get("vaultNotificationConfig") or {}
        topic = config.get("SNSTopic")
        if not topic:
            return None
        return str(topic), [str(e) for e in config.get("Events") or []]

    def delete_vault_notifications(self, vault: str) -> None:
        self._call("DeleteVaultNotifications", f"vault {vault!r}",
                   "delete_vault_notifications", vaultName=vault)

    # ------------------------------------------------------------------ checks

    def _check_hash(self, returned: Any, ours: TreeHash, what: str) -> None:
        """Compare a server-computed tree hash with ours (absent: nothing to compare)."""
        if not returned:
            logger.debug("no tree hash returned for %s", what)
            return
        try:
            theirs = TreeHash.from_hex(str(returned))
        except ValueError:
            raise VerificationError(
                f"{what}: the service returned a malformed tree hash"
            ) from None
        if theirs != ours:
            raise VerificationError(
                f"{what}: tree hash mismatch: ours {ours.hex}, the service computed "
                f"{theirs.hex}",
                hint="the data changed in transit or on disk; upload it again",
            )


def open_store(
    settings: ConnectionSettings, on_event: ProgressCallback = ignore_progress, *,
    retry: RetryPolicy | None = None, upload_processes: int = 0,
) -> VaultStore:
    """Build the store stack for a run, in the one place that decides its order.

    ``LoggedStore`` is outermost, so each call is logged once with its final outcome; below it
    ``RetryingStore`` resumes broken job-output streams; at the bottom ``GlacierStore`` talks
    to the endpoint (botocore retries whole requests there). With ``upload_processes`` > 1,
    ``OffloadingStore`` sits right above it and sends small uploads to that many child
    processes (each with its own client), because one process is bound by botocore's CPU.
    """
    glacier = GlacierStore(make_session(settings), settings, on_event=on_event,
                           retry=retry or retry_policy_for(settings))
    policy = glacier.retry_policy  # with botocore's max_attempts applied, for the children
    base: VaultStore = glacier
    if upload_processes > 1:
        fixed = glacier.fixed_connection()
        if fixed is None:
            logger.debug("credentials refresh in this process only: uploads stay in it")
        else:
            from glacierlib.wrappers.offload import OffloadingStore

            base = OffloadingStore(glacier, fixed, processes=upload_processes, retry=policy,
                                   on_event=on_event)
    return LoggedStore(RetryingStore(base, policy, on_event=on_event))

