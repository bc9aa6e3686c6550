"""The pure planner: decisions of every --detect mode, deletions, caps, part size rule."""

from __future__ import annotations

import itertools

import pytest

from glacierlib.exceptions import ConfigError
from glacierlib.journal import JournalRecord, JournalState
from glacierlib.metadata import decode_description
from glacierlib.plan import (
    Delete,
    Replace,
    Skip,
    SyncOptions,
    Upload,
    Verify,
    choose_part_size,
    describe_action,
    plan_purge,
    plan_sync,
)
from glacierlib.treehash import MIB, TreeHash
from glacierlib.walk import LocalFile, WalkProblem

HASH = TreeHash(b"\x01" * 32)


def _journal(*entries: tuple[str, str, int, int | None]) -> JournalState:
    """A journal state holding (archive id, name, size, mtime) entries."""
    state = JournalState()
    for lineno, (archive_id, name, size, mtime) in enumerate(entries, 1):
        record = JournalRecord.created(1000 + lineno, archive_id, size, mtime, HASH, name)
        state._apply(record, "j", lineno, None, False)
    return state


def _file(rel: str, size: int = 10, mtime: int = 500) -> LocalFile:
    return LocalFile(rel, "/data/" + rel, size, mtime * 1_000_000_000)


def test_new_files_upload_with_mt2_description() -> None:
    actions = list(plan_sync([_file("a/b.txt", mtime=1352924178)], _journal(), SyncOptions()))
    assert len(actions) == 1
    upload = actions[0]
    assert isinstance(upload, Upload)
    decoded = decode_description(upload.description)
    assert (decoded.name, decoded.mtime, decoded.source) == ("a/b.txt", 1352924178, "mt2")
    assert describe_action(upload) == "Will UPLOAD /data/a/b.txt"


def test_existing_files_left_alone_without_replace_modified() -> None:
    journal = _journal(("A1", "a", 10, 1))
    assert list(plan_sync([_file("a", size=99)], journal, SyncOptions())) == []


@pytest.mark.parametrize(
    ("detect", "size", "mtime", "expected"),
    [
        ("always-positive", 10, 500, Replace),
        ("size-only", 10, 999, None),
        ("size-only", 11, 500, Replace),
        ("mtime", 10, 500, None),
        ("mtime", 10, 501, Replace),
        ("treehash", 10, 500, Verify),
        ("mtime-and-treehash", 10, 500, None),
        ("mtime-and-treehash", 10, 501, Verify),
        ("mtime-and-treehash", 12, 500, Replace),
        ("mtime-or-treehash", 10, 501, Replace),
        ("mtime-or-treehash", 10, 500, Verify),
    ],
)
def test_detect_modes(detect: str, size: int, mtime: int, expected: type | None) -> None:
    journal = _journal(("A1", "f", 10, 500))
    options = SyncOptions(new=False, replace_modified=True, detect=detect)
    actions = list(plan_sync([_file("f", size, mtime)], journal, options))
    if expected is None:
        assert actions == []
    else:
        assert [type(a) for a in actions] == [expected]
        assert actions[0].old.archive_id == "A1"  # type: ignore[union-attr]


def test_unknown_journal_mtime_is_not_a_difference() -> None:
    journal = _journal(("A1", "f", 10, None))
    options = SyncOptions(new=False, replace_modified=True, detect="mtime")
    assert list(plan_sync([_file("f", mtime=7)], journal, options)) == []


def test_delete_removed_deletes_the_latest_archive_of_a_vanished_name() -> None:
    journal = _journal(("A1", "gone", 5, 1), ("A2", "gone", 5, 2), ("A3", "kept", 10, 500),
                       ("A4", "emptied", 3, 1))
    files = [_file("kept"), _file("emptied", size=0)]
    actions = list(plan_sync(files, journal, SyncOptions(new=True, delete_removed=True)))
    deletes = sorted((a.archive_id, a.name, a.size) for a in actions if isinstance(a, Delete))
    # An emptied file exists: it keeps its archive (issue #11); deletions carry the size.
    assert deletes == [("A2", "gone", 5)]
    skips = [a for a in actions if isinstance(a, Skip)]
    assert [(s.display, s.error, s.kind, s.kept) for s in skips] == [
        ("emptied", False, "emptied", 1)]


def test_unstorable_names_become_skips_and_the_plan_goes_on() -> None:
    long_name = "x" * 800
    entries = [WalkProblem("bad\\xff", "name is not valid UTF-8"), _file(long_name), _file("ok")]
    actions = list(plan_sync(entries, _journal(), SyncOptions()))
    assert [type(a) for a in actions] == [Skip, Skip, Upload]
    assert actions[0] == Skip("bad\\xff", "name is not valid UTF-8", True)
    assert "too long" in actions[1].reason  # type: ignore[union-attr]


def test_max_number_of_files_caps_actions() -> None:
    files = [_file(f"f{i}") for i in range(10)]
    options = SyncOptions(max_number_of_files=3, delete_removed=True)
    actions = list(plan_sync(files, _journal(("A1", "gone", 1, 1)), options))
    assert len(actions) == 3
    assert all(isinstance(a, Upload) for a in actions)


def test_names_created_during_the_run_are_not_deleted() -> None:
    state = _journal(("A1", "old", 1, 1))
    options = SyncOptions(delete_removed=True)
    plan = plan_sync(iter([_file("new")]), state, options)
    upload = next(plan)
    assert isinstance(upload, Upload)
    # The executor journals the upload while the plan is still being pulled.
    state._apply(JournalRecord.created(2000, "A2", 10, 500, HASH, "new"), "j", 9, None, False)
    assert [(a.archive_id, a.name) for a in plan] == [("A1", "old")]  # type: ignore[union-attr]


def test_plan_is_lazy() -> None:
    consumed = []

    def files():  # type: ignore[no-untyped-def]
        for i in itertools.count():
            consumed.append(i)
            yield _file(f"f{i}")

    first = next(plan_sync(files(), _journal(), SyncOptions()))
    assert isinstance(first, Upload)
    assert consumed == [0]


def test_purge_plans_every_live_archive() -> None:
    journal = _journal(("A1", "a", 1, 1), ("A2", "b", 1, 1), ("A3", "a", 1, 2))
    actions = list(plan_purge(journal))
    assert [(a.archive_id, a.reason) for a in actions] == [
        ("A1", "purge"), ("A3", "purge"), ("A2", "purge")]
    assert describe_action(actions[0]) == "Will DELETE archive A1 (filename a)"


@pytest.mark.parametrize(
    ("size", "requested", "expected"),
    [
        (1, MIB, (MIB, False)),
        (10_000 * MIB, MIB, (MIB, False)),
        (10_000 * MIB + 1, MIB, (2 * MIB, True)),
        (10 * 1024 * MIB, 16 * MIB, (16 * MIB, False)),
        (200_000 * MIB, 16 * MIB, (32 * MIB, True)),
        (40_000 * 1024 * MIB, MIB, (4096 * MIB, True)),
    ],
)
def test_choose_part_size(size: int, requested: int, expected: tuple[int, bool]) -> None:
    assert choose_part_size(size, requested) == expected


def test_choose_part_size_limits() -> None:
    with pytest.raises(ConfigError):
        choose_part_size(40_000 * 1024 * MIB + 1, MIB)
    with pytest.raises(ConfigError):
        choose_part_size(1, 3 * MIB)


def test_part_size_raise_is_carried_by_the_action() -> None:
    big = _file("big", size=20_000 * MIB)
    action = next(plan_sync([big], _journal(), SyncOptions(part_size=MIB)))
    assert isinstance(action, Upload)
    assert (action.part_size, action.part_size_raised) == (2 * MIB, True)
