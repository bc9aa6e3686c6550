"""Fuzzing the parsers of outside data: journal, config, metadata, filters, inventories.

The contract of every parser of untrusted input: it either returns a value or raises the
module's typed error (a ``GlacierlibError`` subclass). Any other exception type is a bug that
would reach the user as "unexpected ...", and a hang is a denial of service. Each test feeds
arbitrary bytes and structured-but-hostile documents; ``_bounded`` fails an example that
takes more than a few seconds.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from glacierlib.config import parse_config_text, read_config_file
from glacierlib.exceptions import (
    ConfigError,
    GlacierlibError,
    InventoryError,
    JournalError,
)
from glacierlib.filters import FilterSet
from glacierlib.inventory import InventoryArchive, open_inventory
from glacierlib.journal import MAX_ARCHIVE_SIZE, JournalRecord, read_journal
from glacierlib.metadata import DecodedDescription, decode_description, encode_mt2
from glacierlib.names import is_safe_relative_name

T = TypeVar("T")

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                           HealthCheck.data_too_large],
)
#: An example slower than this is a hang (quadratic regexes, unbounded loops).
SECONDS = 5.0

AID = "a" * 138
HASH = "0" * 64


def _bounded(fn: Callable[[], T]) -> T:
    start = time.monotonic()
    try:
        return fn()
    finally:
        elapsed = time.monotonic() - start
        assert elapsed < SECONDS, f"parser took {elapsed:.1f} s on one input"


def _typed(fn: Callable[[], T], error: type[GlacierlibError]) -> T | None:
    """Run a parser: a value, or ``error`` (a GlacierlibError subclass); anything else fails."""
    try:
        return _bounded(fn)
    except error as exc:
        assert str(exc).strip(), "an error without a message"
        assert "\n" not in str(exc), f"an error message of several lines: {exc!s:.300}"
        return None


# ------------------------------------------------------------------------------- journal

#: Fragments a journal line is made of, valid and hostile, recombined by hypothesis.
_JOURNAL_TOKENS = st.sampled_from([
    b"A", b"B", b"C", b"D", b"Z", b"0", b"\t", b"\t\t", b"CREATED", b"DELETED",
    b"RETRIEVE_JOB", b"1600000000", b"-1", b"99999999999999999999999", b"NONE", b"0",
    AID.encode(), HASH.encode(), b"f" * 63, b"name", b"../x", b"/abs", b"a//b", b"\x00",
    b"\r", b"\xff\xfe", b"\xc3\x28", "Я".encode(), b" ", b"\n", b"1e3", b"+5", b"\xe2\x80\x8b",
])
_JOURNAL_LINES = st.one_of(
    st.binary(max_size=400),
    st.lists(_JOURNAL_TOKENS, max_size=14).map(b"".join),
    st.tuples(
        st.sampled_from([b"A", b"B", b"C", b"D", b"0"]),
        st.integers(-5, 2**70), st.sampled_from([b"CREATED", b"DELETED", b"RETRIEVE_JOB"]),
        st.sampled_from([AID.encode(), b"x", b""]), st.integers(-5, 2**70),
        st.sampled_from([b"NONE", b"17", b"-1", b"x"]),
        st.sampled_from([HASH.encode(), b"zz", b""]),
        st.text(max_size=30).map(lambda t: t.encode("utf-8", "surrogatepass")),
    ).map(lambda f: b"\t".join(x if isinstance(x, bytes) else str(x).encode() for x in f)),
)


@FUZZ
@given(line=_JOURNAL_LINES, lineno=st.integers(1, 10**9))
@example(line=b"B\t1\tCREATED\t" + AID.encode() + b"\t1\tNONE\t" + HASH.encode() + b"\t../x",
         lineno=1)
@example(line=b"\xff" * 10, lineno=3)
@example(line=b"D\t1\tCREATED", lineno=2)
def test_journal_record_parse_untrusted(line: bytes, lineno: int) -> None:
    record = _typed(lambda: JournalRecord.parse_untrusted(line, "j.log", lineno), JournalError)
    if record is not None:
        # Whatever parses must be writable again, and read back the same.
        again = JournalRecord.parse_untrusted(record.to_line(), "j.log", lineno)
        assert again == record
        if record.name is not None:
            assert is_safe_relative_name(record.name)


def test_journal_error_names_file_and_line() -> None:
    with pytest.raises(JournalError, match=r"j\.log, line 7"):
        JournalRecord.parse_untrusted(b"Z\t1\tCREATED\tx", "j.log", 7)


_JOURNAL_FILES = st.one_of(
    st.binary(max_size=2000),
    st.lists(_JOURNAL_LINES, max_size=12).map(lambda ls: b"\n".join(ls)),
    st.lists(_JOURNAL_LINES, max_size=12).map(lambda ls: b"".join(x + b"\n" for x in ls)),
)


@FUZZ
@given(data=_JOURNAL_FILES, strict=st.booleans())
def test_read_journal_arbitrary_files(tmp_path: Path, data: bytes, strict: bool) -> None:
    path = tmp_path / "journal.log"
    path.write_bytes(data)
    state = _typed(lambda: read_journal(path, strict=strict), JournalError)
    assert path.read_bytes() == data, "a reader modified the journal"
    if state is not None:
        for entry in state.archives.values():
            assert is_safe_relative_name(entry.name)
        assert all(isinstance(w, str) for w in state.warnings)


def test_read_journal_refuses_a_future_version(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    path.write_bytes(b"D\t1600000000\tCREATED\t" + AID.encode() + b"\t1\t1\t"
                     + HASH.encode() + b"\tname\n")
    with pytest.raises(JournalError, match="line 1"):
        read_journal(path)


# ------------------------------------------------------------------------------- config

_CONFIG_LINES = st.one_of(
    st.text(max_size=80),
    st.sampled_from([
        "vault=x", "concurrency=4", "concurrency=abc", "concurrency=0", "concurrency=65",
        "partsize=3", "partsize=99999999999999999999", "key=AKIA", "secret=s", "filter=+*",
        "include=*.txt", "exclude=x", "unknown=1", "=", "==", "# c", "  # c", " key = v ",
        "dry-run", "dir", "protocol=gopher", "timeout=-1", "max-size=12Q", "region=\x00",
        "journal=\u2028", "\ufeffvault=x", "vault=x\r", "\r",
    ]),
)


@FUZZ
@given(lines=st.lists(_CONFIG_LINES, max_size=10), ending=st.sampled_from(["\n", "\r\n"]))
def test_parse_config_text(lines: list[str], ending: str) -> None:
    values = _typed(lambda: parse_config_text(ending.join(lines), "c.conf"), ConfigError)
    if values is not None:
        for name, value in values.items():
            assert "\x00" not in value
            assert values.lines[name] >= 1


@FUZZ
@given(data=st.one_of(
    st.binary(max_size=500),
    st.lists(_CONFIG_LINES, max_size=8).map(
        lambda ls: "\n".join(ls).encode("utf-8", "surrogatepass")),
))
def test_read_config_file_arbitrary_bytes(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "c.conf"
    path.write_bytes(data)
    try:
        _bounded(lambda: read_config_file(path))
    except ConfigError as exc:
        assert str(path) in str(exc), "a config error must name the file"


# ------------------------------------------------------------------------------- metadata

_DESCRIPTIONS = st.one_of(
    st.none(),
    st.text(max_size=1100),
    st.builds(lambda t: "mt2 " + t, st.text(max_size=200)),
    st.builds(lambda t: "mt1 " + t, st.text(max_size=200)),
    st.builds(lambda p, lm: f"<m><v>2</v><p>{p}</p><lm>{lm}</lm></m>",
              st.text(max_size=60), st.text(max_size=30)),
    st.builds(lambda t: "grsync|" + t, st.text(max_size=80)),
    st.builds(lambda t: '{"Path":' + t + "}", st.text(max_size=80)),
    st.sampled_from(["mt2 eyJmaWxlbmFtZSI6Ii4uL3giLCJtdGltZSI6IjIwMjAifQ", "mt2 ====",
                     "mt2 " + "A" * 1020, "mt2 e30", "mt2 bnVsbA", "mt1 W10",
                     "mt2 eyJmaWxlbmFtZSI6WzFdfQ", "<m><v>2</v><p>////</p><lm>x</lm></m>"]),
)


@FUZZ
@given(text=_DESCRIPTIONS)
def test_decode_description_never_raises(text: str | None) -> None:
    decoded = _bounded(lambda: decode_description(text))
    assert isinstance(decoded, DecodedDescription)
    if decoded.source is None:
        assert decoded.name is None and decoded.mtime is None


@FUZZ
@given(name=st.text(min_size=1, max_size=300), mtime=st.integers(-(2**40), 2**40))
def test_encode_mt2_round_trips_or_refuses(name: str, mtime: int) -> None:
    try:
        text = _bounded(lambda: encode_mt2(name, mtime))
    except GlacierlibError:
        return
    assert len(text) <= 1024
    decoded = decode_description(text)
    assert (decoded.name, decoded.mtime, decoded.source) == (name, mtime, "mt2")


# ------------------------------------------------------------------------------- filters

_PATTERN_BITS = st.sampled_from(["*", "**", "?", "/", "+", "-", " ", "!", "[", "]", "(", ")",
                                 "\\", "a", ".", "$", "^", "{", "}", "|", "\x00", "é"])


@FUZZ
@given(options=st.lists(st.tuples(
    st.sampled_from(["filter", "include", "exclude", "filter", "bogus"]),
    st.one_of(st.text(max_size=40), st.lists(_PATTERN_BITS, max_size=30).map("".join)),
), max_size=6), paths=st.lists(st.text(min_size=1, max_size=40), max_size=5))
def test_filter_set_from_options(options: list[tuple[str, str]], paths: list[str]) -> None:
    filters = _typed(lambda: FilterSet.from_options(options), ConfigError)
    if filters is None:
        return
    _bounded(lambda: [(filters.includes(p), filters.prunes_dir(p)) for p in paths])


def test_filter_error_names_the_option() -> None:
    with pytest.raises(ConfigError, match=r"filter"):
        FilterSet.from_options([("filter", "nosign")])


# ------------------------------------------------------------------------------- inventory


def _drain(body: bytes, *, content_type: str | None = None,
           fmt: Any = None) -> list[InventoryArchive] | None:
    def run() -> list[InventoryArchive]:
        reader = open_inventory(io.BufferedReader(io.BytesIO(body)),
                                content_type=content_type, format=fmt)
        return list(reader)

    return _typed(run, InventoryError)


def _entry() -> st.SearchStrategy[dict[str, Any]]:
    hostile_values = st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
        st.text(max_size=50), st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
        st.sampled_from([AID, HASH, "../x", "/abs", "\x00", "\n", "2012-03-20T17:03:43Z",
                         "x" * 5000]),
    )
    return st.fixed_dictionaries(
        {},
        optional={"ArchiveId": hostile_values, "ArchiveDescription": hostile_values,
                  "CreationDate": hostile_values, "Size": hostile_values,
                  "SHA256TreeHash": hostile_values},
    )


def _document() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries(
            {"ArchiveList": st.one_of(st.lists(_entry(), max_size=5), st.integers(),
                                      st.text(max_size=5), st.none())},
            optional={"VaultARN": st.one_of(st.text(max_size=20), st.integers()),
                      "InventoryDate": st.one_of(st.text(max_size=20), st.none()),
                      "Extra": st.recursive(st.integers(), lambda c: st.lists(c, max_size=3),
                                            max_leaves=10)},
        ),
        st.recursive(st.none() | st.integers() | st.text(max_size=10),
                     lambda c: st.lists(c, max_size=3) | st.dictionaries(
                         st.text(max_size=5), c, max_size=3), max_leaves=15),
    )


@FUZZ
@given(body=st.one_of(
    st.binary(max_size=1000),
    st.builds(lambda b: b"{" + b, st.binary(max_size=300)),
    st.builds(lambda b: b'{"ArchiveList":[' + b, st.binary(max_size=300)),
))
@example(body=b'{"ArchiveList":[{"ArchiveId":"' + b"x" * 3_000_000)
@example(body=b'{"ArchiveList":[' + b"\xff\xfe")
def test_inventory_json_arbitrary_bytes(body: bytes) -> None:
    _drain(body, fmt="JSON")


@pytest.mark.parametrize("depth", [100_000])
def test_inventory_json_deep_nesting_is_an_inventory_error(depth: int) -> None:
    with pytest.raises(InventoryError):
        list(open_inventory(io.BufferedReader(io.BytesIO(
            b'{"ArchiveList":' + b"[" * depth)), format="JSON"))


@FUZZ
@given(doc=_document(), spacing=st.sampled_from([None, 0, 2]))
def test_inventory_json_hostile_documents(doc: Any, spacing: int | None) -> None:
    body = json.dumps(doc, indent=spacing).encode()
    archives = _drain(body, content_type="application/json")
    for archive in archives or ():
        assert archive.archive_id and archive.size >= 0


_CSV_FIELDS = st.one_of(
    st.text(max_size=30), st.sampled_from(
        [AID, HASH, "12", "-1", "1e3", '""', '"a,b"', '"\\"', '\\"', "\x00", "2012-03-20T17:03:43Z",
         '"' + "x" * 3000 + '"', "../x", "/abs"]),
)
_CSV_HEADER = "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash"


@FUZZ
@given(rows=st.lists(st.lists(_CSV_FIELDS, min_size=0, max_size=7), max_size=6),
       header=st.sampled_from([_CSV_HEADER, '"ArchiveId","ArchiveDescription","CreationDate",'
                               '"Size","SHA256TreeHash"', "ArchiveId", "ArchiveId,Size", ""]),
       ending=st.sampled_from(["\n", "\r\n"]))
def test_inventory_csv_hostile_documents(rows: list[list[str]], header: str,
                                         ending: str) -> None:
    text = ending.join([header, *(",".join(r) for r in rows)])
    archives = _drain(text.encode("utf-8", "surrogatepass"), content_type="text/csv")
    for archive in archives or ():
        assert archive.archive_id and archive.size >= 0


@FUZZ
@given(body=st.one_of(st.binary(max_size=800),
                      st.builds(lambda b: _CSV_HEADER.encode() + b"\n" + b,
                                st.binary(max_size=500))))
@example(body=_CSV_HEADER.encode() + b"\n" + b"x" * 3_000_000)
@example(body=_CSV_HEADER.encode() + b"\n\xff\xfe,\n")
def test_inventory_csv_arbitrary_bytes(body: bytes) -> None:
    _drain(body, fmt="CSV")


@FUZZ
@given(head=st.binary(max_size=100), content_type=st.one_of(
    st.none(), st.sampled_from(["text/csv", "application/json", "text/csv; charset=utf-8",
                                "application/octet-stream", ""]), st.text(max_size=20)))
def test_inventory_format_sniffing(head: bytes, content_type: str | None) -> None:
    _drain(head, content_type=content_type)


def test_valid_inventory_parses_after_all_that() -> None:
    """The guard for every test above: a valid body yields its archives (the parser works)."""
    body = json.dumps({"VaultARN": "arn", "InventoryDate": "2020-01-01T00:00:00Z",
                       "ArchiveList": [{"ArchiveId": AID, "ArchiveDescription": "d",
                                        "CreationDate": "2020-01-01T00:00:00Z", "Size": 3,
                                        "SHA256TreeHash": HASH}]}).encode()
    archives = _drain(body)
    assert archives is not None and [a.size for a in archives] == [3]
    csv = (_CSV_HEADER + "\n" + f'{AID},"a \\"q\\", b",2020-01-01T00:00:00Z,3,{HASH}\n').encode()
    parsed = _drain(csv)
    assert parsed is not None and parsed[0].description == 'a "q", b'


# ------------------------------------------------------------------- inventory -> journal

_ARCHIVE_IDS = st.one_of(
    st.sampled_from([AID, "b" * 138, "../../x", "/abs", "x", "a" * 5000]),
    st.text(alphabet=st.characters(blacklist_categories=("Zs", "Cc", "Zl", "Zp")),
            min_size=1, max_size=40),
)


@FUZZ
@given(entries=st.lists(st.tuples(
    _ARCHIVE_IDS,
    st.one_of(_DESCRIPTIONS, st.builds(lambda n: encode_mt2(n, 1_600_000_000),
                                       st.text(min_size=1, max_size=60))),
    st.one_of(st.sampled_from(["2012-03-20T17:03:43.221Z", "2020-02-30T00:00:00Z", "yesterday",
                               "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"]),
              st.text(min_size=1, max_size=25)),
    st.integers(0, MAX_ARCHIVE_SIZE),
), max_size=5))
def test_inventory_to_journal_writes_safe_lines_or_refuses(
    entries: list[tuple[str, str | None, str, int]],
) -> None:
    """Whatever the inventory parser accepts becomes readable journal lines or a typed error.

    (Out-of-range sizes and archive ids with white space are refused by the parser itself:
    ``test_out_of_range_fields_are_inventory_errors`` in ``tests/hostile``.)
    """
    from glacierlib.operations.inventory import inventory_to_journal

    archives = [InventoryArchive.parse_untrusted(aid, desc, date, size, HASH, where="t")
                for aid, desc, date, size in entries]
    out = io.BytesIO()
    try:
        _bounded(lambda: inventory_to_journal(archives, out))
    except GlacierlibError as exc:
        assert "\n" not in str(exc)
        return
    for lineno, line in enumerate(out.getvalue().splitlines(keepends=True), start=1):
        record = JournalRecord.parse_untrusted(line, "rebuilt", lineno)
        assert record.name is not None and is_safe_relative_name(record.name)
