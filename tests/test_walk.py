"""The streaming walk: files, names that cannot be stored, filters with pruning, --follow."""

from __future__ import annotations

import os
import types
from pathlib import Path

import pytest

from glacierlib.filters import FilterSet
from glacierlib.walk import LocalFile, WalkProblem, display_name, walk_tree


def _tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _rels(entries: object) -> set[str]:
    return {e.rel for e in entries if isinstance(e, LocalFile)}  # type: ignore[attr-defined]


def test_walk_yields_files_with_stat(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.txt": b"a", "d/b.txt": b"bb", "d/e/c.txt": b"ccc", "empty": b""})
    os.utime(tmp_path / "d/b.txt", (1_500_000_000, 1_500_000_000))
    entries = list(walk_tree(tmp_path))
    files = {e.rel: e for e in entries if isinstance(e, LocalFile)}
    assert set(files) == {"a.txt", "d/b.txt", "d/e/c.txt", "empty"}
    assert files["d/b.txt"].size == 2
    assert files["d/b.txt"].mtime == 1_500_000_000
    assert files["empty"].size == 0
    assert files["d/e/c.txt"].path == os.path.join(str(tmp_path), "d", "e", "c.txt")


def test_walk_is_lazy(tmp_path: Path) -> None:
    _tree(tmp_path, {f"f{i}": b"x" for i in range(10)})
    walker = walk_tree(tmp_path)
    assert isinstance(walker, types.GeneratorType)
    first = next(walker)
    assert isinstance(first, LocalFile)


def test_unstorable_names_are_reported_not_fatal(tmp_path: Path) -> None:
    _tree(tmp_path, {"good.txt": b"g", "tab\there": b"t", "dir\nline/x": b"x"})
    bad = os.fsencode(str(tmp_path)) + b"/bad\xff.txt"
    with open(bad, "wb") as handle:
        handle.write(b"b")
    entries = list(walk_tree(tmp_path))
    assert _rels(entries) == {"good.txt"}
    problems = {e.display: e.reason for e in entries if isinstance(e, WalkProblem)}
    assert problems == {
        "tab\\there": "name contains TAB, CR or LF",
        "dir\\nline/": "name contains TAB, CR or LF",
        "bad\\xff.txt": "name is not valid UTF-8",
    }


def test_display_name_escapes() -> None:
    assert display_name("caf\udcc3.txt") == "caf\\xc3.txt"
    assert display_name("файл с пробелом") == "файл с пробелом"


def test_filters_prune_directories(tmp_path: Path) -> None:
    _tree(tmp_path, {"keep/a.txt": b"a", "skip/b.txt": b"b", "x.log": b"l", "keep/y.log": b"y"})
    filters = FilterSet.from_options([("exclude", "skip/"), ("exclude", "*.log")])
    assert _rels(walk_tree(tmp_path, filters=filters)) == {"keep/a.txt"}


def test_pruned_directory_is_never_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path, {"ok/a": b"a", "private/deep/b": b"b"})
    scanned: list[str] = []
    real_scandir = os.scandir

    def recording_scandir(path: str) -> object:
        scanned.append(os.path.relpath(path, tmp_path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", recording_scandir)
    filters = FilterSet.from_options([("exclude", "/private/")])
    assert _rels(walk_tree(tmp_path, filters=filters)) == {"ok/a"}
    assert sorted(scanned) == [".", "ok"]


def test_filter_first_match_wins(tmp_path: Path) -> None:
    _tree(tmp_path, {"a.txt": b"a", "b.bin": b"b", "sub/c.txt": b"c"})
    filters = FilterSet.from_options([("filter", "+*.txt -")])
    assert _rels(walk_tree(tmp_path, filters=filters)) == {"a.txt", "sub/c.txt"}


def test_symlinked_dirs_only_with_follow_and_no_loops(tmp_path: Path) -> None:
    _tree(tmp_path, {"real/a.txt": b"a"})
    (tmp_path / "real" / "loop").symlink_to(tmp_path)
    (tmp_path / "alias").symlink_to(tmp_path / "real")
    (tmp_path / "file-link").symlink_to(tmp_path / "real" / "a.txt")
    assert _rels(walk_tree(tmp_path)) == {"real/a.txt", "file-link"}
    followed = _rels(walk_tree(tmp_path, follow=True))
    # Each directory is entered once: real/ or alias/ (whichever comes first), never the loop.
    assert "file-link" in followed
    assert len([r for r in followed if r.endswith("a.txt")]) == 1
    assert not any("loop" in r for r in followed)


def test_unreadable_directory_reported(tmp_path: Path) -> None:
    """(tests/hostile/test_hostile_walk.py runs this as a process that modes apply to.)"""
    _tree(tmp_path, {"ok/a": b"a", "locked/b": b"b"})
    (tmp_path / "locked").chmod(0)
    if os.access(tmp_path / "locked", os.R_OK):
        (tmp_path / "locked").chmod(0o755)
        pytest.skip("this process ignores file modes (root with CAP_DAC_OVERRIDE)")
    try:
        entries = list(walk_tree(tmp_path))
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert _rels(entries) == {"ok/a"}
    assert [(e.display, e.kind, e.unproven) for e in entries
            if isinstance(e, WalkProblem)] == [("locked/", "read", "locked")]


def test_partial_downloads_are_not_walked(tmp_path: Path) -> None:
    """A restore-completed interrupted in --dir leaves partial files; sync must not upload them."""
    from glacierlib.download import PARTIAL_PREFIX

    _tree(tmp_path, {
        "keep.txt": b"k",
        f"sub/{PARTIAL_PREFIX}abc.tmp": b"half an archive",
        f"sub/{PARTIAL_PREFIX}abc.tmp.state": b"{}",
        "__mtglacier_temp123_XYZ.tmp": b"mt-aws-glacier's temp file",
        "sub/real.bin": b"r",
    })
    assert _rels(walk_tree(tmp_path)) == {"keep.txt", "sub/real.bin"}


# -- issue #11: every walk error names what it hid ---------------------------------------------


class _Race(FilterSet):
    """Includes everything; removes or empties a name at the moment the walk asks about it."""

    def __init__(self, acts: dict[str, object]) -> None:
        super().__init__()
        object.__setattr__(self, "_acts", acts)

    def _fire(self, rel: str) -> None:
        act = self._acts.pop(rel, None)  # type: ignore[attr-defined]
        if act is not None:
            act()

    def includes(self, rel: str) -> bool:
        self._fire(rel)
        return True

    def prunes_dir(self, rel_dir: str) -> bool:
        self._fire(rel_dir)
        return False


def _problems(entries: list[object]) -> list[tuple[str, str, str | None]]:
    return [(e.display, e.kind, e.unproven) for e in entries if isinstance(e, WalkProblem)]


def test_names_vanishing_during_the_walk_are_unproven(tmp_path: Path) -> None:
    import shutil

    _tree(tmp_path, {"f": b"f", "d/x": b"x", "d/e/y": b"y", "keep": b"k", "shrinks": b"s"})
    race = _Race({"f": (tmp_path / "f").unlink, "d/e/": lambda: shutil.rmtree(tmp_path / "d/e"),
                  "shrinks": lambda: (tmp_path / "shrinks").write_bytes(b"")})
    entries = list(walk_tree(tmp_path, filters=race))
    assert sorted(_problems(entries)) == [
        ("d/e/", "vanished", "d/e"), ("f", "vanished", "f")]
    files = {e.rel: e.size for e in entries if isinstance(e, LocalFile)}
    assert files == {"d/x": 1, "keep": 1, "shrinks": 0}  # an emptied file is still a file


def test_missing_root_is_an_unproven_root(tmp_path: Path) -> None:
    for follow in (False, True):
        entries = list(walk_tree(tmp_path / "nope", follow=follow))
        assert [(e.kind, e.unproven) for e in entries] == [("read", "")]  # type: ignore[union-attr]


def test_journal_and_side_files_inside_the_tree_are_not_files(tmp_path: Path) -> None:
    side = ["j.log", "j.log.index", "j.log.index.123.tmp", "j.log.uploads", "j.log.uploads.tmp",
            "j.log.torn-20260101T000000Z", "j.log.torn-20260101T000000Z.2"]
    data = ["j.log.txt", "j.log.index.bak", "other/j.log", "xj.log"]
    _tree(tmp_path, {f"sub/{n}" if "/" not in n else n: b"x" for n in [*side, *data]})
    entries = list(walk_tree(tmp_path, journal=tmp_path / "sub" / "j.log"))
    assert _rels(entries) == {"sub/j.log.txt", "sub/j.log.index.bak", "other/j.log",
                              "sub/xj.log"}
    assert sorted(_problems(entries)) == sorted(
        (f"sub/{n}", "journal", f"sub/{n}") for n in side)
    # A journal outside the tree changes nothing; nor does one reached as "sub/../sub".
    assert len(_rels(walk_tree(tmp_path, journal=tmp_path.parent / "j.log"))) == 11
    assert _rels(walk_tree(tmp_path / "sub" / ".." / "sub", journal=tmp_path / "sub/j.log")) == {
        "j.log.txt", "j.log.index.bak", "xj.log"}


def test_not_absent_looks_at_the_path_once_more(tmp_path: Path) -> None:
    from glacierlib.walk import not_absent

    _tree(tmp_path, {"file": b"f", "d/x": b"x"})
    (tmp_path / "link").symlink_to(tmp_path / "d")
    check = not_absent(tmp_path)
    assert check("file") is not None  # a regular file is there
    assert check("link/x") is not None  # reached through a link the walk did not follow
    assert check("missing") is None
    assert check("file/below") is None  # ENOTDIR: a file where a directory was
    assert check("d") is None  # a directory is not the regular file that was backed up
