"""Archive descriptions: mt2 vectors, mt1, foreign formats, limits and hostile input."""

from __future__ import annotations

import base64
import calendar
import csv
import datetime
import json
import pickle
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glacierlib import metadata
from glacierlib.exceptions import MetadataError
from glacierlib.metadata import (
    INVENTORY_JOB_DESCRIPTION,
    MAX_MTIME,
    MIN_MTIME,
    DecodedDescription,
    decode_description,
    encode_mt2,
    format_mt_time,
    parse_iso8601,
    parse_iso8601_or_none,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VECTORS_FILE = FIXTURES / "mt2-vectors.tsv"


def _vectors() -> list[tuple[str, int, str]]:
    with VECTORS_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[0] == ["description", "mtime", "filename"]
    return [(row[0], int(row[1]), row[2]) for row in rows[1:]]


VECTORS = _vectors()
UNKNOWN = DecodedDescription(None, None, None)


def _payload(description: str) -> dict[str, str]:
    marker, b64 = description.split()
    assert marker == "mt2"
    return json.loads(base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)))  # type: ignore[no-any-return]


def test_vectors_present() -> None:
    assert len(VECTORS) >= 8


@pytest.mark.parametrize(("description", "mtime", "name"), VECTORS)
def test_decode_vector(description: str, mtime: int, name: str) -> None:
    assert decode_description(description) == DecodedDescription(name, mtime, "mt2")


@pytest.mark.parametrize(("description", "mtime", "name"), VECTORS)
def test_encode_vector(description: str, mtime: int, name: str) -> None:
    encoded = encode_mt2(name, mtime)
    # Perl's key order is random: compare the decoded payloads, and the bytes when the
    # vector happens to use our order.
    assert _payload(encoded) == _payload(description)
    if description.startswith("mt2 eyJmaWxlbmFtZSI6"):
        assert encoded == description
    assert decode_description(encoded) == DecodedDescription(name, mtime, "mt2")


def test_reference_vector_and_encoding_details() -> None:
    assert encode_mt2("file", 1352924178) == (
        "mt2 eyJmaWxlbmFtZSI6ImZpbGUiLCJtdGltZSI6IjIwMTIxMTE0VDIwMTYxOFoifQ")
    raw = base64.urlsafe_b64decode(encode_mt2("a/é", 0)[4:] + "==")
    assert raw == '{"filename":"a/é","mtime":"19700101T000000Z"}'.encode()


def test_mt1_vector() -> None:
    decoded = decode_description(
        "mt1 eyJmaWxlbmFtZSI6IsOQwq9Bw5DCryIsIm10aW1lIjoiMTk3MDAxMDFUMDAwMjAzWiJ9")
    assert decoded == DecodedDescription("ЯAЯ", 123, "mt1")


def test_inventory_job_description() -> None:
    assert INVENTORY_JOB_DESCRIPTION == "mtijob1 eyJ0eXBlIjoiZnVsbCJ9"
    assert decode_description(INVENTORY_JOB_DESCRIPTION) == UNKNOWN


def _mt2(obj: object) -> str:
    raw = json.dumps(obj, ensure_ascii=False).encode()
    return "mt2 " + base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        "  mt2\t" + _mt2({"filename": "f", "mtime": "20121114T201618Z"})[4:] + "  ",
        _mt2({"filename": "f", "mtime": "20121114T201618Z"}) + "==",
        _mt2({"mtime": "20121114T201618Z", "filename": "f", "extra": 1}),
        _mt2({"filename": "f", "mtime": "2012-11-14 T 20:16:18.5 z"}),
        _mt2({"filename": "f", "mtime": "20121114T201618Z"}) + " trailing tokens",
    ],
)
def test_decode_tolerates_what_the_perl_reader_tolerates(text: str) -> None:
    assert decode_description(text) == DecodedDescription("f", 1352924178, "mt2")


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "   ",
        "mt2",
        "mt2 garbage!!",
        "mt3 eyJmaWxlbmFtZSI6ImZpbGUiLCJtdGltZSI6IjIwMTIxMTE0VDIwMTYxOFoifQ",
        "MT2 eyJmaWxlbmFtZSI6ImZpbGUiLCJtdGltZSI6IjIwMTIxMTE0VDIwMTYxOFoifQ",
        "my foreign backup description",
        _mt2([1, 2]),
        _mt2("string"),
        _mt2(None),
        _mt2({"filename": "f"}),
        _mt2({"mtime": "20121114T201618Z"}),
        _mt2({"filename": None, "mtime": "20121114T201618Z"}),
        _mt2({"filename": 5, "mtime": "20121114T201618Z"}),
        _mt2({"filename": "f", "mtime": 1352924178}),
        _mt2({"filename": "f", "mtime": "20121114T201618"}),
        _mt2({"filename": "f", "mtime": "09991231T000000Z"}),
        _mt2({"filename": "f", "mtime": "20120230T000000Z"}),
        _mt2({"filename": "f", "mtime": "20121114T241618Z"}),
        _mt2({"filename": {"nested": "x"}, "mtime": "20121114T201618Z"}),
        _mt2({"filename": "f", "mtime": "20121114T201618Z", "x": [1]}),
        "mt2 " + base64.urlsafe_b64encode(b'{"filename":"\xff","mtime":"20121114T201618Z"}')
        .decode().rstrip("="),
        "mt2 " + "A" * 1025,
        "mt2 " + "eyJ" * 20000,
        "mt2 " + base64.urlsafe_b64encode(b"[" * 700 + b"]" * 700).decode(),
        "mt2 " + base64.urlsafe_b64encode(b'{"a":' * 150 + b"1" + b"}" * 150).decode(),
        "mt2 " + base64.urlsafe_b64encode(b'{"filename":"f","mtime":NaN}').decode(),
        "mt1 " + base64.urlsafe_b64encode("{\"filename\":\"Я\"}".encode()).decode(),
        "x" * 100_000,
    ],
)
def test_undecodable_is_unknown(text: str | None) -> None:
    assert metadata._decode(text) == UNKNOWN
    assert decode_description(text) == UNKNOWN


@pytest.mark.parametrize(
    "name", ["../evil.txt", "/abs/path", "a//b", "tab\there", "nul\x00", "."])
def test_hostile_names_are_returned_raw_for_the_caller_to_validate(name: str) -> None:
    decoded = decode_description(_mt2({"filename": name, "mtime": "20121114T201618Z"}))
    assert decoded == DecodedDescription(name, 1352924178, "mt2")


def test_leap_seconds_fold_into_next_second() -> None:
    assert parse_iso8601("19981231T235960Z") == parse_iso8601("19990101T000000Z")
    assert parse_iso8601("19981231T235961Z") == parse_iso8601("19990101T000001Z")
    decoded = decode_description(_mt2({"filename": "f", "mtime": "19981231T235960Z"}))
    assert decoded.mtime == 915148800


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("20121114T201618Z", 1352924178),
        ("2012-03-20T17:03:43.221Z", 1332263023),
        ("20261126T090845Z", 1795684125),
        ("  2012 - 11 - 14 t 20 : 16 : 18,999 Z  ", 1352924178),
        ("10000101T000000Z", MIN_MTIME),
        ("99991231T235959Z", MAX_MTIME),
        ("20000229T000000Z", 951782400),
        ("19700101T000000Z\n", 0),
    ],
)
def test_parse_iso8601(text: str, epoch: int) -> None:
    assert parse_iso8601(text) == epoch


@pytest.mark.parametrize(
    "text",
    [
        "",
        "20121114T201618",
        "2012-11-14T20:16:18+00:00",
        "09991231T235959Z",
        "20121314T000000Z",
        "20121100T000000Z",
        "20210229T000000Z",
        "20121114T206018Z",
        "20121114T201662Z",
        "20121114T201618.12345678901Z",
        "20121114T201618 ,5Z",
        "２０１２1114T201618Z",
        "x20121114T201618Z",
        "1" * 10_000,
    ],
)
def test_parse_iso8601_rejects(text: str) -> None:
    assert parse_iso8601_or_none(text) is None
    with pytest.raises(MetadataError):
        parse_iso8601(text)


def test_format_mt_time() -> None:
    assert format_mt_time(1352924178) == "20121114T201618Z"
    assert format_mt_time(-86400) == "19691231T000000Z"
    assert format_mt_time(MIN_MTIME) == "10000101T000000Z"
    assert format_mt_time(MAX_MTIME) == "99991231T235959Z"
    for bad in (MIN_MTIME - 1, MAX_MTIME + 1):
        with pytest.raises(MetadataError):
            format_mt_time(bad)


# Limits


def test_723_ascii_bytes_fit_and_724_do_not() -> None:
    assert len(encode_mt2("a" * 723, 0)) == 1024
    with pytest.raises(MetadataError) as info:
        encode_mt2("a" * 724, 0)
    assert "a" * 50 in str(info.value)  # names the file
    assert "too long" in str(info.value)


def test_361_two_byte_characters_fit_and_362_do_not() -> None:
    assert len(encode_mt2("я" * 361, 0)) <= 1024
    with pytest.raises(MetadataError):
        encode_mt2("я" * 362, 0)


def test_escaped_characters_count_towards_the_limit() -> None:
    encode_mt2('"' * 361, 0)  # each becomes \" (2 bytes)
    with pytest.raises(MetadataError):
        encode_mt2('"' * 362, 0)


@pytest.mark.parametrize("mtime", [MIN_MTIME, MAX_MTIME, 0, -1, 2**31, 2**32 + 1])
def test_year_limits_accept(mtime: int) -> None:
    assert decode_description(encode_mt2("f", mtime)).mtime == mtime


@pytest.mark.parametrize("mtime", [MIN_MTIME - 1, MAX_MTIME + 1, -(2**62), 2**62])
def test_year_limits_refuse(mtime: int) -> None:
    with pytest.raises(MetadataError) as info:
        encode_mt2("some/file.txt", mtime)
    assert "'some/file.txt'" in str(info.value)


@pytest.mark.parametrize("mtime", [1.5, True, "0", None])
def test_mtime_must_be_int(mtime: object) -> None:
    with pytest.raises(MetadataError):
        encode_mt2("f", mtime)  # type: ignore[arg-type]


def test_unencodable_name_is_refused() -> None:
    with pytest.raises(MetadataError):
        encode_mt2("bad\udcff", 0)


# Round trip and robustness

names = st.text(
    alphabet=st.characters(codec="utf-8"), min_size=1, max_size=200)
mtimes = st.integers(min_value=MIN_MTIME, max_value=MAX_MTIME)


@given(names, mtimes)
def test_round_trip(name: str, mtime: int) -> None:
    encoded = encode_mt2(name, mtime)
    assert len(encoded) <= 1024
    assert encoded.isascii() and "=" not in encoded and "\n" not in encoded
    assert decode_description(encoded) == DecodedDescription(name, mtime, "mt2")


@given(st.text(min_size=300, max_size=800), mtimes)
@settings(max_examples=50)
def test_long_names_round_trip_or_refuse(name: str, mtime: int) -> None:
    try:
        encoded = encode_mt2(name, mtime)
    except MetadataError:
        return
    assert decode_description(encoded) == DecodedDescription(name, mtime, "mt2")


# These call the decoder below decode_description's last-resort catch-all, so that an
# exception the parsers do not handle on purpose fails the test instead of being hidden.


@given(st.text(max_size=2000))
def test_decode_never_raises_on_text(text: str) -> None:
    assert isinstance(metadata._decode(text), DecodedDescription)


@given(st.sampled_from(["mt1 ", "mt2 ", "", "<m><v>2</v><p>", "grsync|", '{"Path":']),
       st.binary(max_size=600))
def test_decode_never_raises_on_near_misses(prefix: str, data: bytes) -> None:
    text = prefix + base64.urlsafe_b64encode(data).decode()
    assert isinstance(metadata._decode(text), DecodedDescription)
    assert isinstance(metadata._decode(prefix + data.decode("latin-1")), DecodedDescription)


def test_decoded_description_validates() -> None:
    with pytest.raises(ValueError):
        DecodedDescription("x", None, None)
    with pytest.raises(ValueError):
        DecodedDescription(None, None, "mt2")
    with pytest.raises(ValueError):
        DecodedDescription("x", 1, "other")
    with pytest.raises(TypeError):
        DecodedDescription("x", "1", "mt2")  # type: ignore[arg-type]


# Other tools' formats


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"<m><v>4</v><p>{_b64('glacier-dg.pdf')}</p><lm>20120821T170824Z</lm>"
         "<ce>1:1:4340ebcf79712dc5e3ef7d50bab98ba5:54687</ce></m>",
         DecodedDescription("glacier-dg.pdf", 1345568904, "fastglacier")),
        (f"<m><v>3</v><p>{_b64('dir/файл.txt')}</p><lm>20120821T170824Z</lm>"
         "<ce>0:0:abc</ce></m>",
         DecodedDescription("dir/файл.txt", 1345568904, "fastglacier")),
        (f"<m><v>2</v><p>{_b64('a/b c')}</p><lm>20120821T170824Z</lm></m>",
         DecodedDescription("a/b c", 1345568904, "fastglacier")),
        (f"<m>\n  <v>2</v>\n  <p>{_b64('x')}</p>\n  <lm>20120821T170824Z</lm>\n</m>\n",
         DecodedDescription("x", 1345568904, "fastglacier")),
        ("<m><v>1</v><p>dir/a &amp; b.txt</p><lm>20120821T170824Z</lm></m>",
         DecodedDescription("dir/a & b.txt", 1345568904, "fastglacier")),
        (f"<m><v>4</v><p>{_b64('no-time')}</p><lm>yesterday</lm></m>",
         DecodedDescription("no-time", None, "fastglacier")),
        (f"<m><v>4</v><p>{_b64('/sample/1234.pdf')}</p><lm>20190501T100059Z</lm></m>",
         DecodedDescription("/sample/1234.pdf", 1556704859, "fastglacier")),
        ('{"Path":"folder/file.txt","UTCDateModified":"20120821T170824Z","Flags":0}',
         DecodedDescription("folder/file.txt", 1345568904, "json-path")),
        ('{"Path": "dir/file", "UTC": "2012-08-21T17:08:24Z"}',
         DecodedDescription("dir/file", 1345568904, "json-path")),
        ('{"Path":"c:\\\\data\\\\x.doc"}',
         DecodedDescription("c:\\data\\x.doc", None, "json-path")),
        (json.dumps(json.dumps({"Path": "twice/encoded"})),
         DecodedDescription("twice/encoded", None, "json-path")),
        ("grsync|/home/me/a.txt|123|1600000000.25|my backup",
         DecodedDescription("/home/me/a.txt", 1600000000, "grsync")),
        ("grsync|/home/me/with|pipe.txt|0|-1.5|",
         DecodedDescription("/home/me/with|pipe.txt", -2, "grsync")),
        ("grsync|/x|1|99999999999999|d",
         DecodedDescription("/x", None, "grsync")),
    ],
)
def test_foreign_formats(text: str, expected: DecodedDescription) -> None:
    assert decode_description(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "<m><v>4</v><p>!!notbase64!!</p><lm>20120821T170824Z</lm></m>",
        f"<m><v>4</v><p>{base64.b64encode(bytes([0xFF, 0xFE])).decode()}</p></m>",
        "<m><v>4</v><p></p><lm>20120821T170824Z</lm></m>",
        "<m><v>0</v><p>eA==</p></m>",
        "<m><v>x</v><p>eA==</p></m>",
        "<m><v>2</v><p>eA==</p>",
        "<m><v>2</v><p>eA<b>==</b></p></m>",
        "<html>hello</html>",
        "<" * 3000,
        '{"path":"lowercase key"}',
        '{"Path":""}',
        '{"Path":5}',
        '{"Path":["a"]}',
        '{"Path":{"a":"b"}}',
        "[" * 3000,
        '"just a string"',
        "{not json",
        "grsync|",
        "grsync|/x|notasize|1|d",
        "grsync|/x|1|nan|d",
        "grsync|/x|1|inf|d",
    ],
)
def test_foreign_garbage_is_unknown(text: str) -> None:
    assert metadata._decode(text) == UNKNOWN


def _iso_oracle(year: int, month: int, day: int, hour: int, minute: int,
                second: int) -> int | None:
    """The datetime-based reading the arithmetic replaced (leap seconds fold forward)."""
    if year < 1000:
        return None
    leap = 0
    if second in (60, 61):
        leap, second = second - 59, 59
    try:
        moment = datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    return calendar.timegm(moment.timetuple()) + leap


@given(st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
       st.integers(0, 61), st.integers(0, 62), st.booleans())
def test_iso8601_arithmetic_matches_datetime(year: int, month: int, day: int, hour: int,
                                             minute: int, second: int, aws: bool) -> None:
    text = (f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.123Z" if aws
            else f"{year:04d}{month:02d}{day:02d}T{hour:02d}{minute:02d}{second:02d}Z")
    assert parse_iso8601_or_none(text) == _iso_oracle(year, month, day, hour, minute, second)


def test_error_names_the_file_once_and_keeps_the_reason_apart() -> None:
    """A report that prints the name before each reason uses ``reason`` (not the message)."""
    with pytest.raises(MetadataError) as info:
        encode_mt2("x" * 800, 0)
    error = info.value
    assert error.name == "x" * 800
    assert str(error) == f"{'x' * 800!r}: {error.reason}"
    assert "x" * 800 not in error.reason
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again), again.name, again.reason) == (
        MetadataError, str(error), error.name, error.reason)
