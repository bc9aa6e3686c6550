"""Archive descriptions: the file name and mtime stored with each archive.

Glacier keeps no file names; the journal is the index, and when it is lost the only way back
is an inventory, whose one useful field is each archive's description. So mtglacier writes
mt-aws-glacier's ``mt2`` form byte for byte (both tools can rebuild a journal from the other's
vault), and reads ``mt1`` and the forms a few other tools write, so that a vault filled by
FastGlacier, CloudBerry or glacier-rsync still rebuilds into a journal with names.

Decoding never raises: a description is data from the service and anything unrecognised is
simply "not ours" (``DecodedDescription(None, None, None)``; the caller then names the archive
by its id, as mt-aws-glacier does). **Decoded names are returned raw.** They may be absolute,
contain ``..``, control characters or backslashes; a caller must pass them through
:func:`glacierlib.names.validate_relative_name` before using them as a journal name or a path.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import html
import json
import logging
import math
import re
from typing import Any

import attrs

from glacierlib.exceptions import MetadataError

__all__ = [
    "INVENTORY_JOB_DESCRIPTION",
    "MAX_DESCRIPTION_LENGTH",
    "MAX_MTIME",
    "MIN_MTIME",
    "DecodedDescription",
    "days_from_civil",
    "decode_description",
    "encode_mt2",
    "format_mt_time",
    "parse_iso8601",
    "parse_iso8601_or_none",
]

logger = logging.getLogger(__name__)

#: Glacier's limit on a description, and mt-aws-glacier's limit on the whole ``mt2`` string.
MAX_DESCRIPTION_LENGTH = 1024
#: 1000-01-01T00:00:00Z and 9999-12-31T23:59:59Z: mt-aws-glacier's supported mtime range.
MIN_MTIME = -30610224000
MAX_MTIME = 253402300799
#: The description mt-aws-glacier gives inventory jobs (``mtijob1`` + ``{"type":"full"}``).
INVENTORY_JOB_DESCRIPTION = "mtijob1 eyJ0eXBlIjoiZnVsbCJ9"

# Anything longer is not a Glacier description; refusing early bounds the work on hostile input.
_MAX_FOREIGN_LENGTH = 4 * MAX_DESCRIPTION_LENGTH

_SOURCES = ("mt2", "mt1", "fastglacier", "json-path", "grsync")


def _check_source(_: object, __: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and value not in _SOURCES:
        raise ValueError(f"unknown description source {value!r}")


@attrs.frozen
class DecodedDescription:
    """What a description says: a raw, *unvalidated* name, an mtime, and which format.

    ``source`` is ``"mt2"``, ``"mt1"``, ``"fastglacier"``, ``"json-path"``, ``"grsync"``,
    or ``None`` when nothing was recognised (then ``name`` and ``mtime`` are ``None`` too).
    ``mtime`` may be ``None`` for a recognised foreign format that carries no usable time.
    """

    name: str | None = attrs.field(validator=attrs.validators.optional(
        attrs.validators.instance_of(str)))
    mtime: int | None = attrs.field(validator=attrs.validators.optional(
        attrs.validators.instance_of(int)))
    source: str | None = attrs.field(validator=_check_source)

    def __attrs_post_init__(self) -> None:
        if self.source is None and (self.name is not None or self.mtime is not None):
            raise ValueError("an unrecognised description carries no name or mtime")
        if self.source is not None and self.name is None:
            raise ValueError("a recognised description always carries a name")


_UNKNOWN = DecodedDescription(None, None, None)

# mt-aws-glacier's lenient ISO-8601: separators and spaces optional, up to ten characters of
# fraction, Z mandatory, case-insensitive. ASCII only: \d must not match other digits.
_ISO8601 = re.compile(
    r"\s*(\d{4})[-\s]*(\d{2})[-\s]*(\d{2})\s*T\s*(\d{2})[:\s]*(\d{2})[:\s]*(\d{2})"
    r"[,.\d]{0,10}\s*Z\s*",
    re.IGNORECASE | re.ASCII,
)


def parse_iso8601_or_none(text: str) -> int | None:
    """Epoch seconds of an mt-style ISO-8601 UTC time, or None when it does not parse."""
    if not isinstance(text, str) or len(text) > 256:
        return None
    match = _ISO8601.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = map(int, match.groups())
    if year < 1000:
        return None
    leap = 0
    if second in (60, 61):  # leap seconds fold into the following second(s)
        leap, second = second - 59, 59
    if not (1 <= month <= 12 and 1 <= day <= _month_days(year, month) and hour < 24
            and minute < 60 and second < 60):
        return None
    return (days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second
            + leap)


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).

    Arithmetic instead of ``datetime`` + ``calendar.timegm``: a million-archive inventory
    parses a million dates (descriptions and CreationDates), and the objects cost more than
    the parse. The caller checks the ranges.
    """
    year -= month <= 2
    era = year // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_iso8601(text: str) -> int:
    """Epoch seconds of ``YYYYMMDDTHHMMSSZ`` or AWS's ``2012-03-20T17:03:43.221Z``.

    Accepts exactly what mt-aws-glacier accepts (so inventories and descriptions it could
    read, we can read): optional ``-``, ``:`` and spaces, an ignored fraction, a mandatory
    ``Z``, year 1000 or later; a leap second 60/61 counts into the next minute.
    """
    result = parse_iso8601_or_none(text)
    if result is None:
        raise MetadataError(f"not an ISO-8601 UTC time: {text!r}")
    return result


def format_mt_time(epoch: int) -> str:
    """``YYYYMMDDTHHMMSSZ`` in UTC, the mtime form of ``mt2``; years 1000..9999 only."""
    if not MIN_MTIME <= epoch <= MAX_MTIME:
        raise MetadataError(f"time {epoch} is outside the years 1000..9999")
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=epoch)
    return (
        f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"
        f"T{moment.hour:02d}{moment.minute:02d}{moment.second:02d}Z"
    )


def _b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def encode_mt2(name: str, mtime: int) -> str:
    """The ``mt2`` description for a file, exactly as mt-aws-glacier 1.120 writes it.

    Compact JSON, raw UTF-8 (no ``\\u`` escapes, ``/`` not escaped), keys in the order
    ``filename``, ``mtime`` (the Perl order is random; readers do not care), base64url
    without padding. Raises :class:`MetadataError` naming the file when the result would
    exceed 1024 characters (about 723 ASCII bytes of name) or the mtime is outside the
    years 1000..9999: Glacier would refuse the first, mt-aws-glacier cannot read the second.
    """
    if isinstance(mtime, bool) or not isinstance(mtime, int):
        raise MetadataError(f"mtime must be an integer, not {mtime!r}", name=name)
    if not MIN_MTIME <= mtime <= MAX_MTIME:
        raise MetadataError(
            f"modification time {mtime} is outside the years 1000..9999 "
            "and cannot be stored in the archive description", name=name,
        )
    payload = json.dumps(
        {"filename": name, "mtime": format_mt_time(mtime)},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    try:
        raw = payload.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MetadataError("file name is not valid UTF-8 text", name=name) from exc
    description = "mt2 " + _b64url_encode(raw)
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise MetadataError(
            f"file name too long for the archive description "
            f"({len(description)} > {MAX_DESCRIPTION_LENGTH} characters; the limit is about "
            "723 ASCII bytes or 361 two-byte UTF-8 characters)", name=name,
        )
    return description


def decode_description(text: str | None) -> DecodedDescription:
    """Recognise an archive description; never raises.

    Order: ``mt2``/``mt1`` (mt-aws-glacier's rules: whitespace split, payload at most 1024
    characters, base64url with or without padding, a flat JSON object with string
    ``filename`` and ``mtime`` in any key order), then FastGlacier XML, JSON with a ``Path``
    key, and glacier-rsync. The name in the result is raw and unvalidated.
    """
    try:
        return _decode(text)
    except Exception:  # a parser bug must never abort an inventory; report and fall back
        logger.warning("unexpected error decoding archive description %r", text, exc_info=True)
        return _UNKNOWN


def _decode(text: str | None) -> DecodedDescription:
    if not isinstance(text, str) or len(text) > _MAX_FOREIGN_LENGTH:
        return _UNKNOWN
    tokens = text.split(maxsplit=2)
    if len(tokens) >= 2 and tokens[0] in ("mt1", "mt2"):
        return _decode_mt(tokens[0], tokens[1])
    stripped = text.strip()
    if stripped.startswith("<"):
        return _decode_fastglacier(stripped)
    if stripped.startswith(("{", '"')):
        return _decode_json_path(stripped)
    if stripped.startswith("grsync|"):
        return _decode_grsync(stripped)
    return _UNKNOWN


def _b64_decode_lenient(text: str, *, urlsafe: bool) -> bytes | None:
    if urlsafe:
        text = text.replace("-", "+").replace("_", "/")
    text = text.rstrip("=")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _decode_mt(marker: str, payload: str) -> DecodedDescription:
    if len(payload) > MAX_DESCRIPTION_LENGTH:
        return _UNKNOWN
    raw = _b64_decode_lenient(payload, urlsafe=True)
    if raw is None:
        return _UNKNOWN
    if marker == "mt1":
        # mt1 encoded the UTF-8 JSON bytes to UTF-8 once more, as if they were Latin-1.
        try:
            raw = raw.decode("utf-8").encode("latin-1")
        except (UnicodeDecodeError, UnicodeEncodeError):
            return _UNKNOWN
    obj = _flat_json_object(raw)
    if obj is None:
        return _UNKNOWN
    name, mtime_text = obj.get("filename"), obj.get("mtime")
    if not isinstance(name, str) or not isinstance(mtime_text, str):
        return _UNKNOWN
    mtime = parse_iso8601_or_none(mtime_text)
    if mtime is None:
        return _UNKNOWN
    return DecodedDescription(name, mtime, marker)


def _flat_json_object(raw: bytes) -> dict[str, Any] | None:
    """A JSON object of scalars only, as mt-aws-glacier's coder (max depth 1) accepts."""
    if len(raw) > MAX_DESCRIPTION_LENGTH:
        return None
    try:
        obj = _JSON.decode(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    if any(isinstance(value, (dict, list)) for value in obj.values()):
        return None
    return obj


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


# One decoder for every description (``json.loads`` with an option builds a new one per call).
_JSON = json.JSONDecoder(parse_constant=_reject_constant)


_XML_ELEMENT = r"\s*<{tag}>([^<]*)</{tag}>"
_FASTGLACIER = re.compile(
    r"<m>\s*<v>\s*(\d{1,3})\s*</v>" + _XML_ELEMENT.format(tag="p")
    + r"(?:" + _XML_ELEMENT.format(tag="lm") + r")?(?:\s*<[^<>]*>[^<]*</[^<>]*>)*\s*</m>",
)


def _decode_fastglacier(text: str) -> DecodedDescription:
    """FastGlacier ``<m><v>N</v><p>PATH</p><lm>YYYYMMDDTHHMMSSZ</lm>...</m>``.

    From format v2 on, ``PATH`` is base64 of the UTF-8 path; v1 stored it as text (XML
    escaped). Further elements (``<ce>`` in v3 and v4) are ignored.
    """
    match = _FASTGLACIER.fullmatch(text)
    if match is None:
        return _UNKNOWN
    version, path_field, lm_field = int(match.group(1)), match.group(2), match.group(3)
    if version < 1:
        return _UNKNOWN
    if version == 1:
        name = html.unescape(path_field.strip())
    else:
        raw = _b64_decode_lenient(path_field.strip(), urlsafe=False)
        if raw is None:
            return _UNKNOWN
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _UNKNOWN
    if not name:
        return _UNKNOWN
    mtime = parse_iso8601_or_none(html.unescape(lm_field)) if lm_field is not None else None
    return DecodedDescription(name, mtime, "fastglacier")


_JSON_TIME_KEYS = ("UTCDateModified", "UTC", "LastModified", "mtime")


def _decode_json_path(text: str) -> DecodedDescription:
    """A JSON object with a ``Path`` key (CloudBerry: ``Path``, ``UTCDateModified``, ``Flags``).

    Some tools store the JSON as a JSON string (quoted twice); one level of that is undone.
    """
    obj = _flat_json_object(text.encode("utf-8"))
    if obj is None and text.startswith('"'):
        try:
            inner = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError):
            return _UNKNOWN
        if isinstance(inner, str):
            obj = _flat_json_object(inner.encode("utf-8", "surrogatepass"))
    if obj is None:
        return _UNKNOWN
    name = obj.get("Path")
    if not isinstance(name, str) or not name:
        return _UNKNOWN
    mtime = None
    for key in _JSON_TIME_KEYS:
        value = obj.get(key)
        if isinstance(value, str):
            mtime = parse_iso8601_or_none(value)
            if mtime is not None:
                break
    return DecodedDescription(name, mtime, "json-path")


_GRSYNC = re.compile(r"grsync\|(.+?)\|(\d{1,20})\|(-?\d{1,15}(?:\.\d{0,9})?)\|(.*)", re.DOTALL)


def _decode_grsync(text: str) -> DecodedDescription:
    """glacier-rsync's ``grsync|ABSOLUTE_PATH|SIZE|MTIME|USER_DESCRIPTION``.

    ``MTIME`` is Python's float ``os.path.getmtime``; it is truncated to whole seconds.
    The path is absolute: the caller decides how to make it relative.
    """
    match = _GRSYNC.fullmatch(text)
    if match is None:
        return _UNKNOWN
    seconds = float(match.group(3))
    mtime: int | None = None
    if math.isfinite(seconds):
        mtime = math.floor(seconds)
        if not MIN_MTIME <= mtime <= MAX_MTIME:
            mtime = None
    return DecodedDescription(match.group(1), mtime, "grsync")
