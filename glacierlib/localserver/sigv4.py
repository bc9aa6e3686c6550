"""SigV4 verification with botocore's own signer, so the server agrees with every botocore.

We rebuild the request exactly as the client saw it (received Host, raw path, only the signed
headers) and let ``botocore.auth.SigV4Auth`` compute the canonical request and signature; a
home-made canonicaliser would drift from botocore in the corner cases (percent-encoding,
duplicate slashes) that matter for archive ids.
"""

from __future__ import annotations

import calendar
import hmac
import logging
import time
from collections.abc import Mapping

import attrs
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from glacierlib.localserver.errors import GlacierError

__all__ = ["SignedIdentity", "verify_request"]

logger = logging.getLogger(__name__)

_ALGORITHM = "AWS4-HMAC-SHA256"


@attrs.frozen
class SignedIdentity:
    """Who signed a request, and for which region (ARNs use the signing region)."""

    access_key: str
    region: str


def _denied(message: str) -> GlacierError:
    return GlacierError(403, "InvalidSignatureException", message)


def _parse_authorization(value: str) -> tuple[str, list[str], list[str], str]:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != _ALGORITHM:
        raise GlacierError(
            400, "IncompleteSignatureException", f"Unsupported algorithm: {algorithm[:40]}"
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if sep:
            fields[key.strip()] = val.strip()
    try:
        credential = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except KeyError as exc:
        raise GlacierError(
            400,
            "IncompleteSignatureException",
            f"Authorization header requires '{exc.args[0]}' parameter.",
        ) from None
    if len(credential) != 5 or credential[4] != "aws4_request":
        raise _denied("Credential should be scoped to a valid region.")
    return credential[0], credential[1:4], signed, signature


def _amz_epoch(amz_date: str) -> float:
    return float(calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ")))


def verify_request(
    *,
    method: str,
    raw_path: str,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Mapping[str, str],
    check: bool = True,
    max_skew: float | None = 300.0,
    payload_hash: str | None = None,
    service_name: str = "glacier",
) -> SignedIdentity:
    """Check a request's SigV4 signature; return the identity or raise a 4xx GlacierError.

    ``headers`` must be case-insensitive (``http.client.HTTPMessage``). ``payload_hash``
    stands in for the body when the body has not been read yet (uploads sign
    ``x-amz-content-sha256``). With ``check=False`` any well-formed request is accepted.
    ``service_name="s3"`` checks S3's scope and canonical form (the path is not encoded twice).
    """
    auth = headers.get("Authorization")
    if not auth:
        raise GlacierError(
            400, "MissingAuthenticationTokenException", "Missing Authentication Token"
        )
    access_key, (date, region, service), signed, signature = _parse_authorization(auth)
    if not check:
        return SignedIdentity(access_key, region)
    secret = secrets.get(access_key)
    if secret is None:
        raise GlacierError(
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        )
    amz_date = headers.get("X-Amz-Date") or headers.get("Date") or ""
    if service != service_name:
        raise _denied(
            f"Credential should be scoped to correct service: '{service_name}'. ({service})"
        )
    if amz_date[:8] != date:
        raise _denied("Date in Credential scope does not match YYYYMMDD from X-Amz-Date.")
    try:
        signed_at = _amz_epoch(amz_date)
    except ValueError:
        raise _denied("Invalid X-Amz-Date") from None
    if max_skew is not None and abs(time.time() - signed_at) > max_skew:
        raise _denied(f"Signature expired: {amz_date} is now outside the allowed skew.")
    host = headers.get("Host", "")
    signed_headers: dict[str, str] = {}
    for name in signed:
        value = headers.get(name)
        if value is None:
            raise _denied(f"Signed header is missing: {name}")
        signed_headers[name] = value
    if payload_hash is not None and "x-amz-content-sha256" not in signed_headers:
        # The body is streamed after this check, so its hash must come from a signed header.
        raise _denied("x-amz-content-sha256 must be signed on uploads.")
    request = AWSRequest(method=method, url=f"http://{host}{raw_path}", data=body,
                         headers=signed_headers)
    request.context["timestamp"] = amz_date
    signer_class = S3SigV4Auth if service_name == "s3" else SigV4Auth
    signer = signer_class(Credentials(access_key, secret), service_name, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, signature):
        logger.debug("signature mismatch; canonical request was:\n%s", canonical)
        raise _denied(
            "The request signature we calculated does not match the signature you provided."
        )
    return SignedIdentity(access_key, region)
