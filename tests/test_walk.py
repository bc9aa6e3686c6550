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


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any directory")
def test_unreadable_directory_reported(tmp_path: Path) -> None:
    _tree(tmp_path, {"ok/a": b"a", "locked/b": b"b"})
    (tmp_path / "locked").chmod(0)
    try:
        entries = list(walk_tree(tmp_path))
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert _rels(entries) == {"ok/a"}
    assert [e.display for e in entries if isinstance(e, WalkProblem)] == ["locked"]


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
