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


# -- issue #11: delete only what the walk proved absent ------------------------------------------


def _deleted(actions: list[object]) -> list[str]:
    return sorted(a.name for a in actions if isinstance(a, Delete))


def _kept(actions: list[object]) -> dict[str, int]:
    return {a.display: a.kept for a in actions if isinstance(a, Skip) and a.kind == "kept"}


def test_walk_problem_under_a_directory_protects_every_name_under_it() -> None:
    journal = _journal(("A1", "a/b/x", 1, 1), ("A2", "a/b/c/y", 1, 1), ("A3", "a/bc", 1, 1),
                       ("A4", "a/b", 1, 1), ("A5", "gone", 1, 1))
    problem = WalkProblem("a/b/", "cannot read directory: Permission denied", "read", "a/b")
    actions = list(plan_sync([problem], journal, SyncOptions(new=False, delete_removed=True)))
    # "a/bc" only shares a string prefix: it is not under a/b/, and was proven absent.
    assert _deleted(actions) == ["a/bc", "gone"]
    assert _kept(actions) == {"a/b/": 3}
    read = [a for a in actions if isinstance(a, Skip) and a.kind == "read"]
    assert [(s.display, s.error) for s in read] == [("a/b/", True)]
    held = next(a for a in actions if isinstance(a, Skip) and a.kind == "kept")
    assert describe_action(held) == ("Will KEEP 3 archive(s) of a/b/ (--delete-removed): not "
                                     "proven absent: cannot read directory: Permission denied")


def test_walk_problem_on_the_root_protects_everything() -> None:
    journal = _journal(("A1", "x", 1, 1), ("A2", "d/y", 1, 1))
    problem = WalkProblem("/data", "cannot read directory: Permission denied", "read", "")
    actions = list(plan_sync([problem], journal, SyncOptions(delete_removed=True)))
    assert _deleted(actions) == []
    assert _kept(actions) == {"/data": 2}


def test_file_problems_protect_that_file_only() -> None:
    journal = _journal(("A1", "d/x", 1, 1), ("A2", "d/y", 1, 1), ("A3", "d/z", 1, 1),
                       ("A4", "journal.log", 1, 1))
    entries = [WalkProblem("d/x", "cannot stat: Permission denied", "read", "d/x"),
               WalkProblem("d/y", "vanished during the walk", "vanished", "d/y"),
               WalkProblem("journal.log", "the journal", "journal", "journal.log"),
               WalkProblem("d/bad\\xff", "name is not valid UTF-8")]
    actions = list(plan_sync(entries, journal, SyncOptions(delete_removed=True)))
    assert _deleted(actions) == ["d/z"]
    assert _kept(actions) == {"d/x": 1, "d/y": 1, "journal.log": 1}
    errors = {a.display: a.error for a in actions if isinstance(a, Skip) and a.kind != "kept"}
    assert errors == {"d/x": True, "d/y": False, "journal.log": False, "d/bad\\xff": True}


def test_held_back_deletions_do_not_spend_the_budget() -> None:
    journal = _journal(("A1", "hidden/a", 1, 1), ("A2", "hidden/b", 1, 1), ("A3", "gone", 7, 1))
    problem = WalkProblem("hidden/", "cannot read directory", "read", "hidden")
    options = SyncOptions(delete_removed=True, max_number_of_files=1)
    actions = list(plan_sync([problem], journal, options))
    assert [(a.name, a.size) for a in actions if isinstance(a, Delete)] == [("gone", 7)]
    assert _kept(actions) == {"hidden/": 2}


def test_new_empty_file_is_reported_not_kept() -> None:
    actions = list(plan_sync([_file("new", size=0)], _journal(), SyncOptions()))
    assert actions == [Skip("new", "zero-size file (Glacier cannot store an empty archive)",
                            error=False, kind="empty")]


def test_walk_problem_kinds_are_validated() -> None:
    with pytest.raises(ValueError, match="kind"):
        WalkProblem("x", "y", "bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind"):
        Skip("x", "y", kind="bogus")


def test_a_name_still_on_disk_is_not_deleted() -> None:
    """The walk's proof is checked once more per deletion (glacierlib.walk.not_absent)."""
    journal = _journal(("A1", "gone", 1, 1), ("A2", "back", 1, 1))
    asked: list[str] = []

    def not_absent(name: str) -> str | None:
        asked.append(name)
        return "the file exists" if name == "back" else None

    actions = list(plan_sync([], journal, SyncOptions(delete_removed=True),
                             not_absent=not_absent))
    assert _deleted(actions) == ["gone"]
    assert _kept(actions) == {"back": 1}
    assert sorted(asked) == ["back", "gone"]
