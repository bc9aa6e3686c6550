"""The S3 face's HTTP side: which requests are S3, their operation, signature and reply.

A request is S3 when its SigV4 scope names service ``s3`` (or it is a HEAD, which Glacier
never uses); everything else stays with the Glacier face. Addressing is path style
(``/bucket/key``); a virtual-hosted request (``bucket.localhost``) is refused with one clear
error instead of being misread as a bucket-less call. Faults, request statistics and reply
rewriting are the Glacier face's, keyed by botocore's S3 operation names.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote

from glacierlib.localserver.errors import GlacierError
from glacierlib.localserver.routes import Reply
from glacierlib.localserver.s3.body import HttpChunkedReader
from glacierlib.localserver.s3.multipart import S3Api
from glacierlib.localserver.s3.service import S3Call
from glacierlib.localserver.s3.xmlio import S3Error, error_reply
from glacierlib.localserver.sigv4 import verify_request

__all__ = ["is_s3_request", "match_s3_route", "serve_s3"]

logger = logging.getLogger(__name__)

#: Glacier error codes from the shared SigV4 check, as S3 names them.
_AUTH_CODES = {
    "MissingAuthenticationTokenException": (403, "AccessDenied"),
    "UnrecognizedClientException": (403, "InvalidAccessKeyId"),
    "IncompleteSignatureException": (400, "AuthorizationHeaderMalformed"),
    "InvalidSignatureException": (403, "SignatureDoesNotMatch"),
}


def is_s3_request(method: str, headers: Any) -> bool:
    if method == "HEAD":
        return True
    auth = headers.get("Authorization") or ""
    return "/s3/aws4_request" in auth


def _virtual_host(host: str) -> str | None:
    """The bucket of a virtual-hosted request (``bucket.localhost:port``), else None."""
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else ""
    first, dot, rest = name.partition(".")
    if not dot or not first:
        return None
    if rest == "localhost":
        return first
    try:
        ipaddress.ip_address(rest)
    except ValueError:
        return None
    return first


def match_s3_route(method: str, path: str, query: Mapping[str, str],
                   headers: Mapping[str, str]) -> tuple[str, str, str]:
    """(operation, bucket, key) for a path-style request; S3Error when nothing matches."""
    bucket_part, _, key_part = path.lstrip("/").partition("/")
    bucket, key = unquote(bucket_part), unquote(key_part)
    if not bucket:
        if method == "GET":
            return "ListBuckets", "", ""
    elif not key:
        if method == "PUT" and not query:
            return "CreateBucket", bucket, ""
        if method == "HEAD":
            return "HeadBucket", bucket, ""
        if method == "DELETE" and not query:
            return "DeleteBucket", bucket, ""
        if method == "GET" and query.get("list-type") == "2":
            return "ListObjectsV2", bucket, ""
        if method == "GET" and "uploads" in query:
            return "ListMultipartUploads", bucket, ""
        if method == "POST" and "delete" in query:
            return "DeleteObjects", bucket, ""
    else:
        if method == "PUT" and "x-amz-copy-source" in headers:
            raise S3Error(501, "NotImplemented", "CopyObject is not implemented by this server")
        if method == "PUT" and "partNumber" in query and "uploadId" in query:
            return "UploadPart", bucket, key
        if method == "PUT" and not query:
            return "PutObject", bucket, key
        if method == "GET" and "uploadId" in query:
            return "ListParts", bucket, key
        if method == "GET" and not set(query) - {"partNumber", "versionId"}:
            return "GetObject", bucket, key
        if method == "HEAD":
            return "HeadObject", bucket, key
        if method == "DELETE" and "uploadId" in query:
            return "AbortMultipartUpload", bucket, key
        if method == "DELETE" and not query:
            return "DeleteObject", bucket, key
        if method == "POST" and "uploads" in query:
            return "CreateMultipartUpload", bucket, key
        if method == "POST" and "uploadId" in query:
            return "CompleteMultipartUpload", bucket, key
        if method == "POST" and "restore" in query:
            return "RestoreObject", bucket, key
    raise S3Error(501, "NotImplemented", f"{method} {path[:200]} with "
                  f"{sorted(query)[:5]} is not implemented by this server")


def _verify(handler: Any, raw_path: str) -> str:
    """Check the signature as S3 does; returns the signing region."""
    config = handler.server.config
    try:
        identity = verify_request(
            method=handler.command, raw_path=raw_path, headers=handler.headers, body=b"",
            secrets=handler.server.secrets, check=config.check_signatures,
            max_skew=config.max_clock_skew,
            payload_hash=handler.headers.get("x-amz-content-sha256", ""), service_name="s3")
    except GlacierError as exc:
        status, code = _AUTH_CODES.get(exc.code, (exc.status, exc.code))
        if "expired" in exc.message:
            status, code = 403, "RequestTimeTooSkewed"
        raise S3Error(status, code, exc.message) from None
    return identity.region


def serve_s3(handler: Any, url: Any, request_id: str,
             make_reader: Callable[[Any, int], Any]) -> None:
    """Answer one S3 request on ``handler`` (the Glacier face's request handler)."""
    head = handler.command == "HEAD"
    reader: Any = None
    fault = None
    try:
        length = handler._content_length()
        if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
            reader = HttpChunkedReader(handler.rfile)
        else:
            reader = make_reader(handler.rfile, length or 0)
        host = handler.headers.get("Host", "")
        if _virtual_host(host) is not None:
            raise S3Error(400, "InvalidRequest", "virtual-hosted-style requests are not "
                          "supported by the local server: use path-style addressing "
                          "(botocore Config(s3={'addressing_style': 'path'}))")
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        operation, bucket, key = match_s3_route(handler.command, url.path, query,
                                                handler.headers)
        handler.server.stats.record(operation, length or 0)
        fault = handler.server.faults.take(operation)
        if fault is not None:
            fault = handler._apply_fault(fault, reader)
            if fault is None and handler.close_connection:
                return
        region = _verify(handler, url.path + (f"?{url.query}" if url.query else ""))
        call = S3Call(operation=operation, bucket=bucket, key=key, region=region,
                      query=query, headers=handler.headers, reader=reader,
                      content_length=length)
        service: S3Api = handler.server.s3
        reply = handler.server.faults.rewrite(getattr(service, f"op_{operation}")(call))
    except GlacierError as exc:
        reply = error_reply(exc, url.path, request_id, head=head)
    except OSError:
        logger.debug("connection error while handling %s", url.path, exc_info=True)
        handler.close_connection = True
        return
    except Exception:
        logger.exception("internal error handling S3 %s %s", handler.command, url.path)
        reply = error_reply(S3Error(500, "InternalError", "We encountered an internal error. "
                                    "Please try again."), url.path, request_id, head=head)
    if reader is not None and reader.remaining and not reader.drain():
        handler.close_connection = True
    reply = Reply(reply.status, (*reply.headers, ("x-amz-request-id", request_id)),
                  reply.body, reply.stream)
    if head:
        _send_head(handler, reply, request_id)
        return
    handler._send(reply, request_id, truncate=fault is not None and fault.kind == "truncate")


def _send_head(handler: Any, reply: Reply, request_id: str) -> None:
    """HEAD: the headers a GET would send (Content-Length included), never a body."""
    handler.send_response(reply.status)
    handler.send_header("x-amzn-RequestId", request_id)
    has_length = False
    for name, value in reply.headers:
        has_length |= name.lower() == "content-length"
        handler.send_header(name, value)
    if not has_length:
        handler.send_header("Content-Length", "0")
    handler.end_headers()

