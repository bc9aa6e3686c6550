"""S3's XML: error bodies, result documents and request documents, shaped as S3 sends them.

S3 answers errors as ``<Error><Code/><Message/>...</Error>`` (botocore reads ``Code`` as the
error code), not Glacier's JSON, so the S3 face has its own error type and renderer.
"""

from __future__ import annotations

import email.utils
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from glacierlib.localserver.errors import GlacierError
from glacierlib.localserver.routes import Reply

__all__ = ["S3Error", "error_reply", "http_date", "iso_date", "parse_xml", "xml_reply"]

NS = "http://s3.amazonaws.com/doc/2006-03-01/"


class S3Error(GlacierError):
    """An S3 error answer; ``extra`` adds elements to the body (``BucketName``, ``Region``),
    ``headers`` adds reply headers (``x-amz-bucket-region`` on a redirect)."""

    def __init__(self, status: int, code: str, message: str, *,
                 extra: Iterable[tuple[str, str]] = (),
                 headers: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(status, code, message)
        self.extra = tuple(extra)
        self.headers = tuple(headers)


def _escape(text: str) -> str:
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("\r", "&#13;"))


def render(name: str, children: Any, *, ns: bool = True) -> str:
    """``children``: a str (text), or a list of (name, value) where value recurses."""
    attrs = f' xmlns="{NS}"' if ns else ""
    if isinstance(children, str):
        return f"<{name}{attrs}>{_escape(children)}</{name}>"
    inner = "".join(render(k, v, ns=False) for k, v in children if v is not None)
    return f"<{name}{attrs}>{inner}</{name}>"


def xml_reply(status: int, root: str, children: list[tuple[str, Any]],
              headers: Iterable[tuple[str, str]] = ()) -> Reply:
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + render(root, children)).encode()
    return Reply(status, (("Content-Type", "application/xml"), *headers), body)


def error_reply(exc: GlacierError, resource: str, request_id: str, *, head: bool) -> Reply:
    extra = getattr(exc, "extra", ())
    headers = (*getattr(exc, "headers", ()), ("x-amz-request-id", request_id))
    if head:
        # HEAD answers carry no body; botocore takes the status as the code.
        return Reply(exc.status, headers)
    children: list[tuple[str, Any]] = [("Code", exc.code), ("Message", exc.message), *extra,
                                       ("Resource", resource), ("RequestId", request_id)]
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + render("Error", children, ns=False)).encode()
    return Reply(exc.status, (("Content-Type", "application/xml"), *headers), body)


def parse_xml(body: bytes, root: str) -> ET.Element:
    """Parse a small request document; entity declarations are refused (no XML bombs)."""
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed.")
    try:
        element = ET.fromstring(body)  # noqa: S314 - DOCTYPE/ENTITY refused above
    except ET.ParseError:
        raise S3Error(400, "MalformedXML",
                      "The XML you provided was not well-formed or did not validate "
                      "against our published schema.") from None
    for el in element.iter():
        if "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    if element.tag != root:
        raise S3Error(400, "MalformedXML", f"Expected a {root} document.")
    return element


def iso_date(epoch: float) -> str:
    dt = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def http_date(epoch: float) -> str:
    return email.utils.formatdate(epoch, usegmt=True)
