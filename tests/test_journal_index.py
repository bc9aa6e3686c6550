"""The journal index: a cache of the parsed state that must never change what a load returns."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import glacierlib.journal as journal_module
from glacierlib.exceptions import JournalError
from glacierlib.journal import JournalState, JournalWriter, read_journal
from glacierlib.treehash import TreeHash

H = TreeHash.from_hex("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")


@pytest.fixture(autouse=True)
def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Index journals of a few records, so the tests stay small."""
    monkeypatch.setattr(journal_module, "INDEX_MIN_RECORDS", 5)


def snapshot(state: JournalState) -> tuple[object, ...]:
    return (dict(state._live), dict(state._jobs), state.records,
            {name: e.archive_id for name, e in state.latest_by_name().items()})


def build(path: Path, count: int = 20, *, start: int = 0) -> None:
    with JournalWriter.open(path, fsync=False) as writer:
        for i in range(start, start + count):
            writer.created(f"A{i:04d}", i + 1, 1000 + i, H, f"dir/f{i % 7}.txt", time=2000 + i)
            if i % 5 == 4:
                writer.deleted(f"A{i - 2:04d}", f"dir/f{(i - 2) % 7}.txt", time=3000 + i)
            if i % 6 == 0:
                writer.retrieve_job(f"A{i:04d}", f"J{i}", time=4000 + i)


def full_parse(path: Path) -> tuple[object, ...]:
    index = path.with_name(path.name + ".index")
    saved = index.read_bytes() if index.exists() else None
    index.unlink(missing_ok=True)
    try:
        return snapshot(read_journal(path))
    finally:
        if saved is not None:
            index.write_bytes(saved)


def test_writer_saves_an_index_that_restores_the_same_state(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    build(path)
    assert (tmp_path / "j.log.index").exists()
    state = read_journal(path)
    assert state._indexed_size == path.stat().st_size  # really came from the index
    assert snapshot(state) == full_parse(path)


def test_lines_appended_after_the_index_are_parsed(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    build(path)
    index_before = (tmp_path / "j.log.index").read_bytes()
    with open(path, "ab") as f:  # another tool (mt-aws-glacier) appends without an index
        f.write(b"B\t9000\tCREATED\tZ1\t5\tNONE\t" + H.hex.encode() + b"\tnew.txt\n")
        f.write(b"B\t9001\tDELETED\tA0001\tdir/f1.txt\n")
    assert (tmp_path / "j.log.index").read_bytes() == index_before
    state = read_journal(path)
    assert 0 < state._indexed_size < path.stat().st_size
    assert "Z1" in state.archives and "A0001" not in state.archives
    assert snapshot(state) == full_parse(path)
    assert state.records == full_parse(path)[2]


def test_errors_in_appended_lines_name_the_right_line(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    build(path)
    lines = path.read_bytes().count(b"\n")
    with open(path, "ab") as f:
        f.write(b"garbage\n")
    with pytest.raises(journal_module.JournalError, match=f"line {lines + 1}"):
        read_journal(path)


@pytest.mark.parametrize("change", ["rewrite", "truncate", "edit_tail", "damage_index",
                                    "damage_payload", "garbage_index", "other_journal"])
def test_an_index_that_does_not_match_is_ignored(tmp_path: Path, change: str) -> None:
    path = tmp_path / "j.log"
    build(path)
    index = tmp_path / "j.log.index"
    data = path.read_bytes()
    if change == "rewrite":  # grep -v or an editor: a new file with fewer lines
        kept = b"".join(line for line in data.splitlines(keepends=True) if b"A0003" not in line)
        path.unlink()
        path.write_bytes(kept)
    elif change == "truncate":
        path.write_bytes(data[: data.rindex(b"\n", 0, len(data) - 1) + 1])
    elif change == "edit_tail":  # same size, same inode, last record changed in place
        with open(path, "r+b") as f:
            f.seek(len(data) - 3)
            f.write(b"XY\n")
    elif change == "damage_index":
        raw = bytearray(index.read_bytes())
        raw[-10] ^= 0xFF
        index.write_bytes(bytes(raw))
    elif change == "damage_payload":  # a bit flipped in the archives, not the header
        raw = bytearray(index.read_bytes())
        raw[len(raw) // 3] ^= 0x01
        index.write_bytes(bytes(raw))
    elif change == "garbage_index":
        index.write_bytes(b"not an index at all")
    elif change == "other_journal":  # an index copied from a different journal
        other = tmp_path / "other.log"
        build(other, 30, start=100)
        os.replace(tmp_path / "other.log.index", index)
    state = read_journal(path)
    assert state._indexed_size == 0
    assert snapshot(state) == full_parse(path)


def test_filtered_and_strict_loads_parse_in_full(tmp_path: Path) -> None:
    class OnlyF1:
        def includes(self, rel: str) -> bool:
            return rel == "dir/f1.txt"

    path = tmp_path / "j.log"
    build(path)
    filtered = read_journal(path, filters=OnlyF1())
    assert filtered._indexed_size == 0
    assert {e.name for e in filtered.archives.values()} <= {"dir/f1.txt"}
    assert read_journal(path, strict=True)._indexed_size == 0


def test_small_journals_get_no_index(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    build(path, 3)
    assert not (tmp_path / "j.log.index").exists()


def test_writer_reopening_continues_from_the_index(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    build(path)
    build(path, 10, start=50)  # opens via the index, appends, rewrites the index
    state = read_journal(path)
    assert state._indexed_size == path.stat().st_size
    assert snapshot(state) == full_parse(path)


def test_torn_repair_note_is_not_replayed_by_the_index(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    build(path)
    with open(path, "ab") as f:
        f.write(b"B\t1\tCREATED\tpartial")  # a crash mid-write
    build(path, 5, start=60)  # repairs the tail, appends, saves the index
    assert list(tmp_path.glob("j.log.torn-*"))  # the writer moved the fragment aside
    assert read_journal(path).warnings == []  # and later loads do not report it again


def _big_journal(path: Path, records: int = 30_000) -> None:
    """Well over 1 MiB + 64 KiB, so its middle lies outside what the old fingerprint hashed."""
    lines = [f"B\t{1000 + i}\tCREATED\tID{i:07d}\t{i + 1}\t{500 + i}\t{H.hex}\tdir/f{i:07d}.txt\n"
             for i in range(records)]
    path.write_text("".join(lines))
    assert path.stat().st_size > 3 << 20


@pytest.mark.parametrize("edit", [b"20009", b"2000x"])
def test_an_edit_in_the_middle_of_the_same_length_is_seen(tmp_path: Path, edit: bytes) -> None:
    path = tmp_path / "j.log"
    _big_journal(path)
    JournalWriter.open(path, fsync=False).close()  # saves the index
    data = path.read_bytes()
    field = b"\tID0020000\t20001\t"  # line 20001: after the first MiB, before the last 64 KiB
    assert (1 << 20) < data.index(field) < len(data) - (64 << 10)
    at = data.index(field) + len(field) - 6
    before = os.stat(path)
    with open(path, "r+b") as f:  # in place: same inode, same size
        f.seek(at)
        f.write(edit)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # even the mtime put back
    assert path.stat().st_size == len(data)
    if edit == b"2000x":
        with pytest.raises(JournalError, match="size") as e:
            read_journal(path)
        assert e.value.line == 20001
        return
    state = read_journal(path)
    assert state._indexed_size == 0
    assert state.archives["ID0020000"].size == 20009
    assert snapshot(state) == full_parse(path)


def test_a_reader_saves_the_index_and_the_next_load_uses_it(tmp_path: Path) -> None:
    path = tmp_path / "j.log"
    build(path, 3)  # below the threshold: no index from the writer
    with open(path, "ab") as f:  # another tool appends (mt-aws-glacier, download-inventory)
        for i in range(20):
            f.write(f"B\t9{i}\tCREATED\tX{i}\t1\t1\t{H.hex}\tx/{i}\n".encode())
    index = tmp_path / "j.log.index"
    assert not index.exists()
    first = read_journal(path)
    assert first._indexed_size == 0
    assert index.exists()  # saved by the reader
    second = read_journal(path)
    assert second._indexed_size == path.stat().st_size
    assert snapshot(second) == snapshot(first)


class OnlyF1:
    def includes(self, rel: str) -> bool:
        return rel == "dir/f1.txt"


def test_only_a_full_read_of_an_idle_journal_saves_the_index(tmp_path: Path) -> None:
    """Not while a writer holds the journal (it saves its own), not filtered, not strict."""
    path = tmp_path / "j.log"
    index = tmp_path / "j.log.index"
    with JournalWriter.open(path, fsync=False) as writer:
        for i in range(20):
            writer.created(f"A{i}", 1, 1, H, f"dir/f{i}.txt", time=5)
        state = read_journal(path)
        assert len(state.archives) == 20 and "another process" in state.warnings[0]
        assert not index.exists()
    index.unlink()  # the writer's own
    read_journal(path, filters=OnlyF1())
    read_journal(path, strict=True)
    assert not index.exists()
    read_journal(path)
    assert index.exists()
