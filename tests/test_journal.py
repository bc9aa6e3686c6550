"""Journal: mt-aws-glacier 1.120 fixture, each version and quirk, bad input, locks, torn lines."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glacierlib.exceptions import JournalError, JournalLockedError
from glacierlib.journal import (
    CREATED,
    DELETED,
    MAX_ARCHIVE_SIZE,
    MAX_MTIME,
    MIN_MTIME,
    RETRIEVE_JOB,
    ArchiveEntry,
    JournalRecord,
    JournalWriter,
    read_journal,
)
from glacierlib.treehash import TreeHash

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "journal-b-sample.log"
H1 = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
H2 = "829742b987cc1765a5682d52498ce954201fdaf966f22e0bbcc000758891a9fd"
RUSSIAN = "sub/файл с пробелом.txt"


class OnlyUnder:
    """Stand-in for filters.FilterSet: includes names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def includes(self, rel: str) -> bool:
        return rel.startswith(self.prefix)


def write(tmp_path: Path, content: bytes | str, name: str = "journal.log") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def created(aid: str, name: str, *, t: int = 100, mtime: str = "50", size: int = 1,
            h: str = H1, v: str = "B") -> str:
    return f"{v}\t{t}\tCREATED\t{aid}\t{size}\t{mtime}\t{h}\t{name}\n"


def deleted(aid: str, name: str, *, t: int = 100, v: str = "B") -> str:
    return f"{v}\t{t}\tDELETED\t{aid}\t{name}\n"


# ---------------------------------------------------------------------------------------------
# The mt-aws-glacier 1.120 fixture


def test_fixture_reads_back_to_the_live_set_derived_by_hand(tmp_path: Path) -> None:
    # By hand: ids 5, 7, 8 created; 10 replaces a.txt (5 deleted); 12 piped/x.txt; four
    # retrieve jobs at 1795684045; then 8, 10, 7, 12 deleted: nothing is live at the end.
    state = read_journal(FIXTURE)
    assert dict(state.archives) == {}
    assert state.warnings == []
    assert state.records == 14
    assert dict(state.retrieve_jobs) == {
        "00000000007_01795684043_00001_00016_5926712510": 1795684045,
        "00000000010_01795684044_00001_00021_5926712510": 1795684045,
        "00000000012_01795684044_00001_00023_5926712510": 1795684045,
        "00000000008_01795684043_00001_00018_5926712510": 1795684045,
    }
    # The first six lines: after the re-sync and the stdin upload.
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    state = read_journal(write(tmp_path, b"".join(lines[:6])))
    assert sorted(state.names_sorted()) == ["a.txt", "big.bin", "piped/x.txt", RUSSIAN]
    a = state.latest("a.txt")
    assert a == ArchiveEntry(
        "00000000010_01795684044_00001_00021_5926712510", 8, 1795684043,
        TreeHash.from_hex("7f8b1dfc466b6249f06cbe55c9174df2578e7754da793fded244ef5cba2a38f1"),
        "a.txt", 1795684044)
    assert "00000000005_01795684043_00001_00014_5926712510" not in state.archives
    big = state.archives["00000000007_01795684043_00001_00016_5926712510"]
    assert (big.size, big.mtime, big.tree_hash.hex) == (3000000, 1795684043, H2)
    assert state.latest(RUSSIAN) is not None
    assert state.latest(RUSSIAN).size == 1  # type: ignore[union-attr]


def test_writer_reproduces_the_fixture_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    records = [JournalRecord.parse_untrusted(line, FIXTURE, i)
               for i, line in enumerate(FIXTURE.read_bytes().splitlines(keepends=True), 1)]
    with JournalWriter.open(path) as w:
        for r in records:
            if r.kind == CREATED:
                assert r.size is not None and r.tree_hash is not None and r.name is not None
                w.created(r.archive_id, r.size, r.mtime, r.tree_hash, r.name, time=r.time)
            elif r.kind == DELETED:
                assert r.name is not None
                w.deleted(r.archive_id, r.name, time=r.time)
            else:
                assert r.job_id is not None
                w.retrieve_job(r.archive_id, r.job_id, time=r.time)
        assert dict(w.state.archives) == {}
        assert len(w.state.retrieve_jobs) == 4
    assert path.read_bytes() == FIXTURE.read_bytes()


def test_to_line_of_each_parsed_fixture_line_is_identical() -> None:
    for i, line in enumerate(FIXTURE.read_bytes().splitlines(keepends=True), 1):
        assert JournalRecord.parse_untrusted(line, FIXTURE, i).to_line() == line


# ---------------------------------------------------------------------------------------------
# Versions and quirks


def test_version_0_lines(tmp_path: Path) -> None:
    path = write(tmp_path,
                 f"100 CREATED id1 7 {H1} dir/a b.txt\n"
                 f"101 CREATED id2 8 {H2} c.txt\n"
                 "102   DELETED \t id2   c.txt\n"
                 "103 RETRIEVE_JOB id1\n")
    state = read_journal(path)
    assert list(state.archives) == ["id1"]
    entry = state.archives["id1"]
    assert (entry.name, entry.size, entry.mtime, entry.time) == ("dir/a b.txt", 7, None, 100)
    assert dict(state.retrieve_jobs) == {"id1": 103}


def test_version_a_and_its_archive_id_as_name_quirk(tmp_path: Path) -> None:
    path = write(tmp_path, created("idA", "idA", mtime="777", v="A")
                 + created("idB", "b.txt", mtime="777", v="A"))
    state = read_journal(path)
    assert state.archives["idA"].mtime is None  # the id written as the name: mtime unknown
    assert state.archives["idB"].mtime == 777


def test_version_a_refuses_none_mtime(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="NONE") as e:
        read_journal(write(tmp_path, created("x", "a", mtime="NONE", v="A")))
    assert e.value.line == 1


def test_version_c_reads_like_b_and_none_and_negative_mtime(tmp_path: Path) -> None:
    path = write(tmp_path, created("c1", "a", mtime="NONE", v="C")
                 + created("b1", "b", mtime="-5", v="B") + deleted("c1", "a", v="C")
                 + created("c2", "a", mtime="+9", v="C"))
    state = read_journal(path)
    assert state.archives["b1"].mtime == -5
    assert state.archives["c2"].mtime == 9
    assert "c1" not in state.archives


def test_crlf_line_ends_are_accepted(tmp_path: Path) -> None:
    text = created("i1", "a.txt") + deleted("i1", "a.txt") + created("i2", "a.txt")
    state = read_journal(write(tmp_path, text.replace("\n", "\r\n")))
    assert list(state.archives) == ["i2"]
    assert state.archives["i2"].name == "a.txt"


def test_latest_rule_examples_from_the_reference(tmp_path: Path) -> None:
    state = read_journal(write(tmp_path, created("arch1", "f", mtime="500", t=100)
                               + created("arch2", "f", mtime="400", t=200)))
    assert state.latest("f").archive_id == "arch1"  # type: ignore[union-attr]
    state = read_journal(write(tmp_path, created("arch1", "f", mtime="NONE", t=100)
                               + created("arch2", "f", mtime="150", t=120)))
    assert state.latest("f").archive_id == "arch2"  # type: ignore[union-attr]
    # Equal mtime: upload time decides; a full tie goes to the later line.
    state = read_journal(write(tmp_path, created("late", "f", mtime="10", t=300)
                               + created("early", "f", mtime="10", t=200)
                               + created("t1", "g", mtime="10", t=200)
                               + created("t2", "g", mtime="10", t=200)))
    assert state.latest("f").archive_id == "late"  # type: ignore[union-attr]
    assert state.latest("g").archive_id == "t2"  # type: ignore[union-attr]
    assert state.latest_by_name()["g"].archive_id == "t2"
    assert state.latest("missing") is None
    assert state.names_sorted() == ["f", "g"]


def test_retrieve_job_keeps_newest_time(tmp_path: Path) -> None:
    text = "".join(f"B\t{t}\tRETRIEVE_JOB\tid1\tjob{t}\n" for t in (5, 9, 7))
    assert dict(read_journal(write(tmp_path, text)).retrieve_jobs) == {"id1": 9}


def test_filters_ignore_excluded_created_and_excuse_their_deleted(tmp_path: Path) -> None:
    path = write(tmp_path, created("k1", "keep/a") + created("s1", "skip/b")
                 + deleted("s2", "skip/c"))
    state = read_journal(path, filters=OnlyUnder("keep/"), strict=True)
    assert list(state.archives) == ["k1"]
    assert state.warnings == []
    with pytest.raises(JournalError, match="s2"):
        read_journal(path, strict=True)


def test_real_filter_set_excludes_names(tmp_path: Path) -> None:
    from glacierlib.filters import FilterSet

    filters = FilterSet.from_options([("exclude", "*.tmp")])
    path = write(tmp_path, created("k1", "a.txt") + created("s1", "b.tmp")
                 + deleted("s2", "c.tmp"))
    state = read_journal(path, filters=filters, strict=True)
    assert list(state.archives) == ["k1"]


def test_missing_journal_is_empty_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nope.log"
    state = read_journal(path)
    assert len(state.archives) == 0
    assert not path.exists()


# ---------------------------------------------------------------------------------------------
# Tolerated and fatal states


def test_identical_duplicate_created_is_tolerated_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, created("d1", "a", t=100) + created("d1", "a", t=105))
    state = read_journal(path)
    assert state.archives["d1"].time == 100
    assert len(state.warnings) == 1
    assert "line 2" in state.warnings[0]
    with pytest.raises(JournalError, match="duplicate") as e:
        read_journal(path, strict=True)
    assert e.value.line == 2


def test_conflicting_duplicate_created_is_fatal(tmp_path: Path) -> None:
    path = write(tmp_path, created("d1", "a", size=1) + created("d1", "a", size=2))
    with pytest.raises(JournalError, match="contradicts") as e:
        read_journal(path)
    assert (e.value.path, e.value.line) == (path, 2)


def test_deleted_of_unknown_id_is_tolerated_with_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, created("i1", "a") + deleted("ghost", "b"))
    state = read_journal(path)
    assert list(state.archives) == ["i1"]
    assert "ghost" in state.warnings[0]
    with pytest.raises(JournalError, match="ghost") as e:
        read_journal(path, strict=True)
    assert e.value.line == 2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("garbage here\n", "unknown record format"),
        ("\n", "blank line"),
        ("B\t1\n", "broken"),
        ("D\t1\tCREATED\tx\n", "future"),
        ("Z\tanything\n", "future"),
        ("B\t1\tFROBNICATED\tx\ty\n", "broken"),
        (f"B\t-1\tCREATED\tx\t1\t1\t{H1}\ta\n", "time"),
        (f"B\t1\tCREATED\tx\t1e3\t1\t{H1}\ta\n", "size"),
        ("B\t1\tCREATED\tx\t1\t1\tnothex\ta\n", "broken"),
        (f"B\t1\tCREATED\tx\t1\tlater\t{H1}\ta\n", "mtime"),
        (f"B\t1\tCREATED\tx y\t1\t1\t{H1}\ta\n", "archive id"),
        (f"B\t1\tCREATED\t\t1\t1\t{H1}\ta\n", "archive id"),
        (f"B\t1\tCREATED\tx\t1\t1\t{H1}\t\n", "name"),
        ("B\t1\tDELETED\t\ta\n", "archive id"),
        (f"B\t1\tCREATED\tx\t1\t1\t{H1}\ta\tb\n", "8 fields"),
        (f"B\t123456789012345678901\tCREATED\tx\t1\t1\t{H1}\ta\n", "time"),
        (f"B\t١٢\tCREATED\tx\t1\t1\t{H1}\ta\n", "time"),
        ("B\t1\tDELETED\tx\n", "5 fields"),
        ("123 CREATED short\n", "version 0"),
    ],
)
def test_bad_lines_name_file_line_and_reason(tmp_path: Path, content: str, reason: str) -> None:
    path = write(tmp_path, created("ok", "fine.txt") + content)
    with pytest.raises(JournalError, match=reason) as e:
        read_journal(path)
    assert (e.value.path, e.value.line) == (path, 2)
    assert f"{path}, line 2" in str(e.value)


@pytest.mark.parametrize(
    "name",
    ["/abs", "a//b", "../x", "a/../b", "a/./b", ".", "dir/", "a\x01b", "a\x00b", "a\rb"],
)
def test_invalid_file_names_are_refused(tmp_path: Path, name: str) -> None:
    path = write(tmp_path, created("ok", "fine") + created("bad", name))
    with pytest.raises(JournalError, match=r"name|broken") as e:
        read_journal(path)
    assert e.value.line == 2
    path = write(tmp_path, created("ok", "fine") + deleted("ok", name))
    with pytest.raises(JournalError) as e:
        read_journal(path)
    assert e.value.line == 2


@pytest.mark.parametrize("name", [".profile", "a/.git/config", "a/...", "dir/x y", "ü/é"])
def test_unusual_but_valid_names_are_accepted(tmp_path: Path, name: str) -> None:
    state = read_journal(write(tmp_path, created("i", name)))
    assert state.archives["i"].name == name


def test_invalid_utf8_names_its_line(tmp_path: Path) -> None:
    content = (created("a", "x") + created("b", "y")).encode() + created("c", "z").encode()
    content = content.replace(b"\tz\n", b"\t\xff\xfe\n")
    with pytest.raises(JournalError, match="UTF-8") as e:
        read_journal(write(tmp_path, content))
    assert e.value.line == 3


def test_huge_line_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = write(tmp_path, created("a", "x").encode() + b"B\t1\t" + b"x" * (3 << 20) + b"\n")
    with pytest.raises(JournalError, match="1 MiB") as e:
        read_journal(path)
    assert e.value.line == 2


def test_truncated_last_line_reader_warns_and_ignores_it(tmp_path: Path) -> None:
    path = write(tmp_path, created("a", "x") + created("b", "y")[:30])
    state = read_journal(path)
    assert list(state.archives) == ["a"]
    assert "line 2" in state.warnings[0]
    assert "not fully written" in state.warnings[0]
    with pytest.raises(JournalError, match="not fully written") as e:
        read_journal(path, strict=True)
    assert e.value.line == 2


def test_many_warnings_are_capped_and_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "".join(deleted(f"g{i}", "x") for i in range(250)))
    state = read_journal(path)
    assert len(state.warnings) == 201
    assert state.warnings[-1].startswith("50 more")


# ---------------------------------------------------------------------------------------------
# Records


def test_record_validation_and_parse_untrusted_errors() -> None:
    h = TreeHash.from_hex(H1)
    with pytest.raises(ValueError, match="archive id"):
        JournalRecord.created(1, "", 1, 1, h, "a")
    with pytest.raises(ValueError, match="time"):
        JournalRecord.deleted(-1, "x", "a")
    with pytest.raises(ValueError):
        JournalRecord.retrieve_job(1, "x", "bad\njob")
    with pytest.raises(JournalError, match="UTF-8") as e:
        JournalRecord.parse_untrusted(b"B\t1\tDELETED\tx\t\xc3\n", "j", 7)
    assert (e.value.path, e.value.line) == ("j", 7)
    rec = JournalRecord.parse_untrusted(b"B\t1\tDELETED\tx\ta\r\n", "j", 1)
    assert rec == JournalRecord.deleted(1, "x", "a")
    assert rec.to_line() == b"B\t1\tDELETED\tx\ta\n"
    assert JournalRecord.created(5, "i", 0, None, h, "n").to_line() == (
        f"B\t5\tCREATED\ti\t0\tNONE\t{H1}\tn\n".encode())


SAFE_CHARS = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Cf"),
                           blacklist_characters="/")
COMPONENT = st.text(SAFE_CHARS, min_size=1, max_size=12).filter(lambda c: c not in (".", ".."))
NAMES = st.lists(COMPONENT, min_size=1, max_size=4).map("/".join)
IDS = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
              min_size=1, max_size=140)
TIMES = st.integers(0, MAX_MTIME)
SIZES = st.integers(0, MAX_ARCHIVE_SIZE)
MTIMES = st.none() | st.integers(MIN_MTIME, MAX_MTIME)
HASHES = st.binary(min_size=32, max_size=32).map(TreeHash)
RECORDS = st.one_of(
    st.builds(JournalRecord.created, TIMES, IDS, SIZES, MTIMES, HASHES, NAMES),
    st.builds(JournalRecord.deleted, TIMES, IDS, NAMES),
    st.builds(JournalRecord.retrieve_job, TIMES, IDS,
              st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=40)),
)


@settings(max_examples=300)
@given(RECORDS)
def test_record_round_trip(record: JournalRecord) -> None:
    line = record.to_line()
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert JournalRecord.parse_untrusted(line, "j", 1) == record


@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(RECORDS, max_size=30))
def test_loader_agrees_with_record_parser(tmp_path: Path, records: list[JournalRecord]) -> None:
    # The fast loader and the exact parser must see the same journal.
    path = write(tmp_path, b"".join(r.to_line() for r in records), "agree.log")
    live: dict[str, tuple[object, ...]] = {}
    jobs: dict[str, int] = {}
    expected_error = False
    for r in records:
        if r.kind == CREATED:
            if r.archive_id in live:
                old = live[r.archive_id]
                if old[1:] != (r.size, r.mtime, r.tree_hash, r.name):
                    expected_error = True
                    break
                continue
            live[r.archive_id] = (r.time, r.size, r.mtime, r.tree_hash, r.name)
        elif r.kind == DELETED:
            live.pop(r.archive_id, None)
        elif jobs.get(r.archive_id, -1) < r.time:
            jobs[r.archive_id] = r.time
    if expected_error:
        with pytest.raises(JournalError):
            read_journal(path)
        return
    state = read_journal(path)
    got = {a: (e.time, e.size, e.mtime, e.tree_hash, e.name) for a, e in state.archives.items()}
    assert got == live
    assert dict(state.retrieve_jobs) == jobs


TIMES_TXT = st.sampled_from(["1", "01", "-1", "+1", "١", "1" * 21, "", " 1", "1_0",
                             # around the fast path's digit limits and the ranges' ends
                             "9" * 11, "9" * 12, "9" * 13, "9" * 14, "253402300799",
                             "253402300800", "43980465111040", "43980465111041"])
IDS_TXT = st.sampled_from(["pre", "x", "", "x y", "a\x0bb", "a\xa0b", "ü"])
NAMES_TXT = st.sampled_from(["a", "/a", ".a", "a/.b", "a//b", "a/", "", "ü/é", "a\x7fb",
                             "a\x85b", "a b", "pre", "..", "a/..", "a\u2028b", "a\x01"])
SHAPES = st.one_of(
    st.tuples(st.sampled_from(["A", "B", "C", "D"]), TIMES_TXT, st.just("CREATED"), IDS_TXT,
              TIMES_TXT, st.sampled_from(["NONE", "-5", "+5", "5", "x", "1" * 21, "9" * 11,
                                          "9" * 12, "-30610224000", "-30610224001",
                                          "253402300799", "253402300800"]),
              st.sampled_from([H1, H1.upper(), "zz" * 32, H1[:63], H1[:62] + " a"]),
              NAMES_TXT),
    st.tuples(st.sampled_from(["A", "B", "C"]), TIMES_TXT, st.just("DELETED"), IDS_TXT,
              NAMES_TXT),
    st.tuples(st.sampled_from(["B", "C"]), TIMES_TXT, st.just("RETRIEVE_JOB"), IDS_TXT,
              st.sampled_from(["j", "", "j k", "j\x01"])),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(SHAPES)
def test_fast_loader_and_exact_parser_agree_line_by_line(tmp_path: Path,
                                                          fields: tuple[str, ...]) -> None:
    line = ("\t".join(fields) + "\n").encode()
    path = write(tmp_path, created("pre", "p").encode() + line, "shape.log")
    try:
        rec = JournalRecord.parse_untrusted(line, path, 2)
    except JournalError as exact:
        with pytest.raises(JournalError) as e:
            read_journal(path)
        assert (e.value.line, type(e.value)) == (exact.line, type(exact))
        return
    if rec.kind == CREATED and rec.archive_id == "pre":  # contradicts the first line
        with pytest.raises(JournalError, match="contradicts"):
            read_journal(path)
        return
    state = read_journal(path)
    if rec.kind == CREATED:
        entry = state.archives[rec.archive_id]
        assert (entry.time, entry.size, entry.mtime, entry.tree_hash, entry.name) == (
            rec.time, rec.size, rec.mtime, rec.tree_hash, rec.name)
    elif rec.kind == DELETED:
        assert ("pre" in state.archives) == (rec.archive_id != "pre")
    elif rec.kind == RETRIEVE_JOB:
        assert dict(state.retrieve_jobs) == {rec.archive_id: rec.time}


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from([b"B\t", b"A\t", b"C\t", b"D\t", b"1", b" ", b"\t", b"\n",
                              b"\r", b"CREATED", b"DELETED", b"RETRIEVE_JOB", b"NONE", b"-",
                              b"/", b".", b"x", H1.encode(), b"\xff", b"\xd1\x84"]),
             max_size=40).map(b"".join),
))
def test_reader_never_crashes_on_arbitrary_bytes(tmp_path: Path, content: bytes) -> None:
    path = write(tmp_path, content, "fuzz.log")
    try:
        state = read_journal(path)
    except JournalError as e:
        assert e.path == path
        assert e.line is not None and e.line >= 1
    else:
        for entry in state.archives.values():
            assert isinstance(entry, ArchiveEntry)


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_parse_untrusted_never_crashes(line: bytes) -> None:
    try:
        JournalRecord.parse_untrusted(line, "j", 3)
    except JournalError as e:
        assert e.line == 3


# ---------------------------------------------------------------------------------------------
# Writer: durability, torn lines, threads, locks


def test_writer_creates_appends_and_keeps_state_current(tmp_path: Path) -> None:
    path = tmp_path / "new.log"
    h = TreeHash.from_hex(H1)
    with JournalWriter.open(path, fsync=False) as w:
        w.created("i1", 3, 10, h, "a", time=20)
        w.created("i2", 4, None, h, "a", time=30)
        assert w.state.latest("a").archive_id == "i2"  # type: ignore[union-attr]
        w.deleted("i2", "a", time=40)
        assert w.state.latest("a").archive_id == "i1"  # type: ignore[union-attr]
        w.retrieve_job("i1", "job", time=50)
        assert dict(w.state.retrieve_jobs) == {"i1": 50}
        with pytest.raises(JournalError, match="already"):
            w.created("i1", 3, 10, h, "a")
        with pytest.raises(JournalError, match="not in the journal"):
            w.deleted("nope", "a")
    with pytest.raises(JournalError, match="closed"):
        w.deleted("i1", "a")
    assert path.read_bytes() == (
        f"B\t20\tCREATED\ti1\t3\t10\t{H1}\ta\nB\t30\tCREATED\ti2\t4\tNONE\t{H1}\ta\n"
        "B\t40\tDELETED\ti2\ta\nB\t50\tRETRIEVE_JOB\ti1\tjob\n").encode()
    assert list(read_journal(path).archives) == ["i1"]


def test_state_index_follows_appends(tmp_path: Path) -> None:
    h = TreeHash.from_hex(H1)
    with JournalWriter.open(tmp_path / "idx.log", fsync=False) as w:
        w.created("old", 1, 10, h, "f", time=1)
        assert w.state.latest("f").archive_id == "old"  # type: ignore[union-attr]
        w.created("new", 1, 20, h, "f", time=2)  # newer mtime: becomes the latest
        w.created("other", 1, 5, h, "g", time=3)
        assert w.state.latest("f").archive_id == "new"  # type: ignore[union-attr]
        w.created("older", 1, 15, h, "f", time=4)  # older mtime: not the latest
        assert w.state.latest("f").archive_id == "new"  # type: ignore[union-attr]
        w.deleted("old", "f")  # not the latest: the index stays
        assert w.state.latest("f").archive_id == "new"  # type: ignore[union-attr]
        w.deleted("new", "f")
        assert w.state.latest("f").archive_id == "older"  # type: ignore[union-attr]
        assert w.state.names_sorted() == ["f", "g"]


def test_torn_last_line_is_moved_aside_and_journal_repaired(tmp_path: Path) -> None:
    good = created("a", "x") + created("b", "y")
    torn = created("c", "z")[:40].encode()
    path = write(tmp_path, good.encode() + torn)
    with JournalWriter.open(path) as w:
        assert list(w.state.archives) == ["a", "b"]
        assert len(w.warnings) == 1
        assert "moved to" in w.warnings[0]
        w.deleted("a", "x", time=5)
    asides = list(tmp_path.glob("journal.log.torn-*"))
    assert len(asides) == 1
    assert asides[0].read_bytes() == torn
    assert path.read_bytes() == good.encode() + b"B\t5\tDELETED\ta\tx\n"
    state = read_journal(path)
    assert (list(state.archives), state.warnings) == (["b"], [])


def test_torn_journal_without_any_newline(tmp_path: Path) -> None:
    path = write(tmp_path, b"B\t1\tCREA")
    with JournalWriter.open(path) as w:
        assert len(w.state.archives) == 0
        assert w.warnings
    assert path.read_bytes() == b""
    assert [p.read_bytes() for p in tmp_path.glob("journal.log.torn-*")] == [b"B\t1\tCREA"]


def test_writer_threads_write_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "threads.log"
    h = TreeHash.from_hex(H2)
    with JournalWriter.open(path, fsync=False) as w:
        def work(k: int) -> None:
            for i in range(200):
                w.created(f"t{k}_{i}", i, i, h, f"d{k}/f{i}", time=i)
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(w.state.archives) == 800
    state = read_journal(path)
    assert len(state.archives) == 800
    assert state.records == 800


HOLD_WRITER = """
import sys
from glacierlib.journal import JournalWriter
w = JournalWriter.open(sys.argv[1])
print("locked", flush=True)
sys.stdin.readline()
w.created("fromchild", 1, 1, __import__("glacierlib.treehash").treehash.TreeHash(b"1" * 32),
          "child.txt", time=9)
w.close()
"""


def test_second_writer_from_another_process_is_refused_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, created("a", "x"))
    child = subprocess.Popen([sys.executable, "-c", HOLD_WRITER, str(path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdin is not None
        assert child.stdout.readline().strip() == "locked"
        with pytest.raises(JournalLockedError, match="another mtglacier process") as e:
            JournalWriter.open(path)
        assert e.value.path == path
        # A reader still gets the records written so far, with a warning.
        state = read_journal(path)
        assert list(state.archives) == ["a"]
        assert "another process is writing" in state.warnings[0]
        child.stdin.write("go\n")
        child.stdin.flush()
        assert child.wait(timeout=60) == 0
    finally:
        child.kill()
        child.wait()
    with JournalWriter.open(path) as w:
        assert sorted(w.state.archives) == ["a", "fromchild"]


HOLD_READER = """
import fcntl, pathlib, sys, time
f = open(sys.argv[1], "rb")
fcntl.flock(f.fileno(), fcntl.LOCK_SH)
print("shared", flush=True)
time.sleep(0.5)
pathlib.Path(sys.argv[2]).write_text("released")
fcntl.flock(f.fileno(), fcntl.LOCK_UN)
"""


def test_writer_waits_for_a_reader_holding_a_shared_lock(tmp_path: Path) -> None:
    path = write(tmp_path, created("a", "x"))
    marker = tmp_path / "released"
    child = subprocess.Popen([sys.executable, "-c", HOLD_READER, str(path), str(marker)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "shared"
        with JournalWriter.open(path) as w:
            assert marker.exists()  # the writer waited for the reader, it was not refused
            assert list(w.state.archives) == ["a"]
    finally:
        child.kill()
        child.wait()


def test_reader_takes_a_shared_lock(tmp_path: Path) -> None:
    # A reader blocks nothing but writers; check the lock really is taken while loading.
    path = write(tmp_path, created("a", "x"))
    with open(path, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        assert list(read_journal(path).archives) == ["a"]  # shared + shared is fine


def test_journal_kinds_are_the_mt_aws_glacier_words() -> None:
    assert (CREATED, DELETED, RETRIEVE_JOB) == ("CREATED", "DELETED", "RETRIEVE_JOB")
    assert os.linesep == "\n"


def test_concurrent_appends_share_syncs_and_each_returns_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Group commit: 8 threads x 10 records take fewer syncs than records, and no call returns
    before a completed sync that covered its line."""
    import time as time_module

    import glacierlib.journal as journal_module

    path = tmp_path / "j.log"
    real_sync = journal_module._sync
    covered: set[str] = set()  # archive ids whose lines a *completed* sync had on file
    syncs = 0
    guard = threading.Lock()

    def slow_sync(fd: int) -> None:
        nonlocal syncs
        on_file = {line.split("\t")[3] for line in path.read_text().splitlines()}
        time_module.sleep(0.01)  # a slow disk makes writers overlap
        real_sync(fd)
        with guard:
            covered.update(on_file)
            syncs += 1

    monkeypatch.setattr(journal_module, "_sync", slow_sync)
    h = TreeHash.from_hex(H1)
    not_durable: list[str] = []
    with JournalWriter.open(path) as writer:

        def work(t: int) -> None:
            for i in range(10):
                aid = f"T{t}-{i}"
                writer.created(aid, 1, 1, h, f"t{t}/f{i}")
                with guard:
                    if aid not in covered:
                        not_durable.append(aid)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not_durable == []
    assert 0 < syncs < 80
    assert len(read_journal(path).archives) == 80


# ---------------------------------------------------------------------------------------------
# Numeric fields: one range rule, checked at parse time (issue 11, item 7)


@pytest.mark.parametrize(
    ("line", "field"),
    [
        (created("m", "m.txt", mtime="9" * 20), "mtime"),  # 20 digits: OverflowError later
        (created("m", "m.txt", mtime="-" + "9" * 20), "mtime"),
        (created("m", "m.txt", mtime=str(MAX_MTIME + 1)), "mtime"),  # year 10000
        (created("m", "m.txt", mtime=str(MIN_MTIME - 1)), "mtime"),  # year 999
        (created("m", "m.txt", mtime="1" * 500), "mtime"),
        (created("s", "s.txt", size=10**25), "size"),  # 26 digits
        (created("s", "s.txt", size=MAX_ARCHIVE_SIZE + 1), "size"),  # over 40 TiB
        (created("t", "t.txt", t=MAX_MTIME + 1), "time"),
        (f"A\t1\tCREATED\tx\t1\t{'9' * 19}\t{H1}\tv.txt\n", "mtime"),  # version A too
        (deleted("ok", "fine.txt", t=10**19), "time"),
        (f"B\t{10**19}\tRETRIEVE_JOB\tok\tjob\n", "time"),
        (f"{10**19} CREATED v0id {10**19} {H1} v0.txt\n", "out of range"),  # version 0
    ],
)
def test_numbers_out_of_range_are_refused_naming_the_line(tmp_path: Path, line: str,
                                                          field: str) -> None:
    path = write(tmp_path, created("ok", "fine.txt") + line)
    with pytest.raises(JournalError, match="out of range") as e:
        read_journal(path)
    assert (e.value.path, e.value.line) == (path, 2)
    assert field in str(e.value)
    assert "not a decimal number" not in str(e.value)
    with pytest.raises(JournalError, match="out of range"):
        JournalRecord.parse_untrusted(line.encode(), path, 2)


@pytest.mark.parametrize(
    ("last_in", "first_out"),
    [
        (created("m", "m.txt", mtime=str(MAX_MTIME)),
         created("m", "m.txt", mtime=str(MAX_MTIME + 1))),
        (created("m", "m.txt", mtime=str(MIN_MTIME), v="C"),
         created("m", "m.txt", mtime=str(MIN_MTIME - 1), v="C")),
        (created("s", "s.txt", size=MAX_ARCHIVE_SIZE),
         created("s", "s.txt", size=MAX_ARCHIVE_SIZE + 1)),
        (created("t", "t.txt", t=MAX_MTIME, mtime="NONE"),
         created("t", "t.txt", t=MAX_MTIME + 1, mtime="NONE")),
    ],
)
def test_each_range_ends_exactly_at_its_limit(tmp_path: Path, last_in: str,
                                              first_out: str) -> None:
    record = JournalRecord.parse_untrusted(last_in.encode(), "j", 1)
    entry = read_journal(write(tmp_path, last_in)).archives[record.archive_id]
    assert (entry.size, entry.mtime, entry.time) == (record.size, record.mtime, record.time)
    with pytest.raises(JournalError, match="out of range") as e:
        read_journal(write(tmp_path, first_out))
    assert e.value.line == 1


def test_records_and_entries_refuse_numbers_out_of_range() -> None:
    h = TreeHash.from_hex(H1)
    with pytest.raises(ValueError, match="mtime out of range"):
        JournalRecord.created(1, "x", 1, 10**19, h, "a")
    with pytest.raises(ValueError, match="size out of range"):
        JournalRecord.created(1, "x", MAX_ARCHIVE_SIZE + 1, 1, h, "a")
    with pytest.raises(ValueError, match="time out of range"):
        JournalRecord.deleted(MAX_MTIME + 1, "x", "a")
    with pytest.raises(ValueError, match="mtime out of range"):
        ArchiveEntry("x", 1, MAX_MTIME + 1, h, "a", 1)


# ---------------------------------------------------------------------------------------------
# Regular files only (issue 11, item 8)

OPEN_IN_CHILD = """
import sys
from glacierlib.exceptions import JournalError
from glacierlib.journal import JournalWriter, read_journal
try:
    if sys.argv[2] == "read":
        read_journal(sys.argv[1])
    else:
        JournalWriter.open(sys.argv[1], fsync=False).close()
except JournalError as exc:
    print(exc)
    sys.exit(2)
print("no error")
"""


def _open_in_child(path: Path, how: str) -> subprocess.CompletedProcess[str]:
    """In a child with a deadline: on a FIFO the old code blocked in open() for ever."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.run([sys.executable, "-c", OPEN_IN_CHILD, str(path), how],
                          capture_output=True, text=True, timeout=30, env=env, check=False)


@pytest.mark.parametrize("how", ["read", "write"])
@pytest.mark.parametrize("side", ["journal", "journal index"])
def test_a_fifo_journal_or_index_is_refused_at_once(tmp_path: Path, how: str,
                                                    side: str) -> None:
    path = tmp_path / "journal.log"
    fifo = path if side == "journal" else write(tmp_path, created("a", "x")).with_name(
        "journal.log.index")
    os.mkfifo(fifo)
    try:
        child = _open_in_child(path, how)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{how}: hung on a FIFO {side}")
    assert child.returncode == 2, child.stdout + child.stderr
    assert child.stdout.strip().splitlines() == [
        f"{fifo}: the {side} is a FIFO (named pipe), not a regular file "
        f"(give a regular file as the {side})"]
    if side != "journal":
        assert path.read_bytes() == created("a", "x").encode()


def _make_special(tmp_path: Path, kind: str) -> tuple[Path, str, object]:
    path = tmp_path / "journal.log"
    keep: object = None
    if kind == "directory":
        path.mkdir()
        what = "a directory"
    elif kind == "device":
        path.symlink_to("/dev/null")  # a symlink to a journal is fine; to a device it is not
        what = "a character device"
    else:
        import socket

        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(path))
        keep = sock
        what = "a socket"
    return path, what, keep


@pytest.mark.parametrize("kind", ["directory", "device", "socket"])
def test_a_journal_that_is_not_a_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    path, what, keep = _make_special(tmp_path, kind)
    try:
        for attempt in (lambda: read_journal(path), lambda: JournalWriter.open(path)):
            with pytest.raises(JournalError) as e:
                attempt()
            assert str(e.value).startswith(f"{path}: the journal is {what}, not a regular file")
            assert e.value.path == path
    finally:
        if keep is not None:
            keep.close()  # type: ignore[attr-defined]
    if kind == "device":  # while a symlink to a regular journal is followed as before
        real = write(tmp_path, created("a", "x"), "real.log")
        path.unlink()
        path.symlink_to(real)
        assert list(read_journal(path).archives) == ["a"]
        with JournalWriter.open(path, fsync=False) as writer:
            writer.deleted("a", "x", time=5)
        assert read_journal(real).archives == {}
