"""A hostile walk under ``sync --delete-removed``: nothing the walk could not see is deleted.

Issue #11: a directory that could not be read (mode 000), or listed but not searched (mode 644),
lost the archives of every file under it, an unreadable ``--dir`` emptied the whole vault, and
a file emptied with ``: > f`` lost its only archive. The rule under test: a journaled name is
removed only when the walk proved it absent; everything a walk error hid keeps its archive, the
run says how many deletions it held back and why (dry run included), and a file that exists is
never removed, whatever its size.

Permission cases run the sync as a real child process (``python -m glacierlib_cli sync --local``)
without ``CAP_DAC_OVERRIDE``: root ignores file modes, so under root the child is started by
``setpriv`` with that capability (and ``CAP_DAC_READ_SEARCH``) out of its bounding set. Files
that vanish or shrink to zero *during* the walk are made to do so deterministically: a filter
(the walk's own seam, asked about each name just before it is stat'ed) changes the tree at that
moment; the sync is the library's, against a real local server over HTTP.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest
from hostile_support import Result, assert_no_traceback

from glacierlib.config import Settings
from glacierlib.filters import FilterSet
from glacierlib.journal import read_journal
from glacierlib.operations.sync import SyncReport, sync
from glacierlib_cli.main import main

FILES = {
    "top.txt": 1100,
    "a/one.txt": 1200,
    "a/b/two.txt": 1300,
    "a/b/c/three.txt": 1400,
    "d/four.txt": 1500,
}
DROP_DAC = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--inh-caps=-all",
            "--"]


def _unprivileged() -> list[str]:
    """The prefix that runs a command without the capabilities that ignore file modes."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root, which ignores file modes, and setpriv (util-linux) is "
                    "not available to drop CAP_DAC_OVERRIDE for the victim process")
    probe = subprocess.run([*DROP_DAC, "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("running as root and setpriv cannot drop CAP_DAC_OVERRIDE here: "
                    + probe.stderr.decode(errors="replace").strip())
    return DROP_DAC


@attrs.frozen
class Tree:
    base: Path

    @property
    def src(self) -> Path:
        return self.base / "src"

    @property
    def journal(self) -> Path:
        return self.base / "journal.log"

    def args(self, *extra: str) -> list[str]:
        return ["sync", "--local", str(self.base / "glacier"), "--vault", "v", "--journal",
                str(self.journal), "--dir", str(self.src), *extra]

    def live(self) -> dict[str, int]:
        """Journaled live names and their sizes."""
        return {n: e.size for n, e in read_journal(self.journal).latest_by_name().items()}

    def sync_in_process(self, capsys: pytest.CaptureFixture[str], *extra: str) -> Result:
        capsys.readouterr()
        code = main(self.args(*extra))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    def sync_unprivileged(self, *extra: str) -> Result:
        """The CLI in a child process that file modes apply to."""
        prefix = _unprivileged()
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",
               "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        proc = subprocess.run(
            [*prefix, sys.executable, "-m", "glacierlib_cli", *self.args(*extra)],
            capture_output=True, timeout=120, env=env, check=False, encoding="utf-8",
            errors="surrogateescape")
        return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Tree]:
    """Five files at depths 0 to 3, all backed up by a first sync."""
    t = Tree(tmp_path)
    for rel, size in FILES.items():
        path = t.src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    first = t.sync_in_process(capsys)
    assert first.code == 0, first.text()
    assert t.live() == FILES
    yield t
    t.src.chmod(0o755)  # let pytest clean up whatever a test locked (top-down: parents first)
    for dirpath, _, _ in os.walk(t.src):
        os.chmod(dirpath, 0o755)


def _held_back(result: Result, count: int, where: str) -> None:
    assert f"HELD BACK: {count} deletion(s)" in result.out, result.text()
    assert any(line.startswith(f"  {where}: ") and f"{count} archive(s)" in line
               for line in result.out.splitlines()), result.text()


# -- unreadable directories ---------------------------------------------------------------------


@pytest.mark.parametrize("locked", ["a", "a/b", "a/b/c"])
def test_unreadable_directory_keeps_every_archive_under_it(tree: Tree, locked: str) -> None:
    (tree.src / "d" / "four.txt").unlink()  # really removed: still deleted
    (tree.src / locked).chmod(0)
    result = tree.sync_unprivileged("--delete-removed")
    assert_no_traceback(result)
    assert result.code == 1, result.text()  # a directory could not be read: the run failed
    hidden = {n: s for n, s in FILES.items() if n.startswith(locked + "/")}
    expected = {n: s for n, s in FILES.items() if n != "d/four.txt"}
    assert tree.live() == expected, result.text()
    assert "deleted 1 archive(s)" in result.out, result.text()
    _held_back(result, len(hidden), locked + "/")
    assert "NOT READ: 1 " in result.out and f"  {locked}/: cannot read directory" in (
        result.out), result.text()
    assert "names cannot be stored" not in result.out, result.text()


def test_unreadable_root_deletes_nothing(tree: Tree) -> None:
    (tree.src / "d" / "four.txt").unlink()
    tree.src.chmod(0)
    result = tree.sync_unprivileged("--delete-removed")
    assert_no_traceback(result)
    assert result.code == 1, result.text()
    assert tree.live() == FILES, result.text()  # even the removed one: nothing was proven
    assert "deleted 0 archive(s)" in result.out, result.text()
    _held_back(result, len(FILES), str(tree.src))


def test_listable_but_not_searchable_directory_deletes_nothing(tree: Tree) -> None:
    (tree.src / "a").chmod(0o644)  # names can be listed; nothing in it can be stat'ed
    # And a modified file that can be stat'ed but not opened: its replacement fails, so the
    # old archive stays (a file that exists is never removed, under any mode).
    unopenable = tree.src / "d" / "four.txt"
    unopenable.write_bytes(os.urandom(999))
    unopenable.chmod(0)
    result = tree.sync_unprivileged("--new", "--replace-modified", "--delete-removed")
    assert_no_traceback(result)
    assert result.code == 1, result.text()
    assert tree.live() == FILES, result.text()
    assert "HELD BACK: 3 deletion(s)" in result.out, result.text()
    assert "  a/one.txt: cannot stat: Permission denied" in result.out, result.text()
    assert "FAILED: 1 file(s):" in result.out and "  d/four.txt: " in result.out, result.text()


def test_dry_run_shows_the_held_back_deletions(tree: Tree) -> None:
    (tree.src / "d" / "four.txt").unlink()
    (tree.src / "a" / "b").chmod(0)
    journal_before = tree.journal.read_bytes()
    result = tree.sync_unprivileged("--delete-removed", "--dry-run")
    assert_no_traceback(result)
    assert tree.journal.read_bytes() == journal_before
    will_delete = [line for line in result.out.splitlines() if line.startswith("Will DELETE")]
    assert len(will_delete) == 1 and "(filename d/four.txt)" in will_delete[0], result.text()
    assert "Will KEEP 2 archive(s) of a/b/ (--delete-removed)" in result.out, result.text()
    _held_back(result, 2, "a/b/")


# -- files that exist are never removed ----------------------------------------------------------


def test_emptied_file_keeps_its_archive_and_is_named(tree: Tree,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (tree.src / "top.txt").write_bytes(b"")  # : > src/top.txt
    result = tree.sync_in_process(capsys, "--delete-removed")
    assert_no_traceback(result)
    assert result.code == 0, result.text()
    assert tree.live() == FILES, result.text()
    assert any(line.startswith("WARNING: top.txt: empty now") for line in
               result.err.splitlines()), result.text()
    dry = tree.sync_in_process(capsys, "--delete-removed", "--dry-run")
    assert "Will DELETE" not in dry.out, dry.text()


@attrs.frozen
class RaceInWalk(FilterSet):
    """Includes everything; when the walk asks about ``target``, runs ``act`` first.

    The walk asks a filter about a file after listing it and before stat'ing it, and about a
    directory before entering it: the exact window in which a real file can vanish or shrink.
    The journal reader asks too, so only a call from the walk itself counts.
    """

    target: str = ""
    act: Callable[[], object] = print

    def includes(self, rel: str) -> bool:
        if rel == self.target and sys._getframe(1).f_code.co_name == "walk_tree":
            self.act()
        return super().includes(rel)

    def prunes_dir(self, rel_dir: str) -> bool:
        if rel_dir == self.target + "/" and sys._getframe(1).f_code.co_name == "walk_tree":
            self.act()
        return super().prunes_dir(rel_dir)


def _racing_sync(tree: Tree, target: str, act: Callable[[], object]) -> SyncReport:
    settings = Settings(local_dir=tree.base / "glacier", vault="v", journal=tree.journal,
                        dir=tree.src, delete_removed=True, filters=RaceInWalk(target=target,
                                                                             act=act))
    return sync(settings)


def test_file_vanishing_during_the_walk_is_not_deleted(tree: Tree) -> None:
    victim = tree.src / "a" / "b" / "two.txt"
    fired: list[bool] = []

    def vanish() -> None:
        victim.unlink()
        fired.append(True)

    report = _racing_sync(tree, "a/b/two.txt", vanish)
    assert fired == [True]
    assert tree.live() == FILES
    assert report.result.deleted == 0
    assert report.held_back == 1
    # The next walk proves it absent: then, and only then, it is deleted.
    again = sync(Settings(local_dir=tree.base / "glacier", vault="v", journal=tree.journal,
                          dir=tree.src, delete_removed=True))
    assert again.result.deleted == 1
    assert "a/b/two.txt" not in tree.live()


def test_directory_vanishing_during_the_walk_is_not_deleted(tree: Tree) -> None:
    def vanish() -> None:
        shutil.rmtree(tree.src / "a" / "b")

    report = _racing_sync(tree, "a/b", vanish)
    assert tree.live() == FILES
    assert report.result.deleted == 0
    assert report.held_back == 2


def test_file_shrinking_to_zero_during_the_walk_is_not_deleted(tree: Tree) -> None:
    victim = tree.src / "d" / "four.txt"
    report = _racing_sync(tree, "d/four.txt", lambda: victim.write_bytes(b""))
    assert victim.stat().st_size == 0
    assert tree.live() == FILES
    assert report.result.deleted == 0
    assert [s.display for s in report.result.skipped
            if s.kind == "emptied"] == ["d/four.txt"]


def test_file_on_disk_that_the_walk_does_not_enter_is_not_deleted(
        tree: Tree, capsys: pytest.CaptureFixture[str]) -> None:
    """Backed up through a symlinked directory with --follow; synced later without it."""
    outside = tree.base / "outside"
    outside.mkdir()
    (outside / "o.txt").write_bytes(b"still here")
    (tree.src / "linked").symlink_to(outside)
    assert tree.sync_in_process(capsys, "--follow").code == 0
    assert "linked/o.txt" in tree.live()
    result = tree.sync_in_process(capsys, "--delete-removed")
    assert result.code == 0, result.text()
    assert "linked/o.txt" in tree.live(), result.text()
    assert "  linked/o.txt: 1 archive(s); not proven absent: the file exists" in result.out, (
        result.text())


# -- small things ------------------------------------------------------------------------------


def test_deletions_print_the_archive_size(tree: Tree,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    (tree.src / "d" / "four.txt").unlink()
    result = tree.sync_in_process(capsys, "--delete-removed", "--verbose")
    assert result.code == 0, result.text()
    lines = [line for line in (result.out + result.err).splitlines()
             if line.startswith("delete done d/four.txt")]
    assert len(lines) == 1 and "(1.5 KiB)" in lines[0], result.text()


def test_journal_inside_dir_is_never_uploaded(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "data.txt").write_bytes(b"data")
    journal = src / "backup.journal"
    args = ["sync", "--local", str(tmp_path / "glacier"), "--vault", "v", "--journal",
            str(journal), "--dir", str(src)]
    for _ in range(3):
        (src / "data.txt").write_bytes(os.urandom(64))
        assert main([*args, "--new", "--replace-modified", "--delete-removed"]) == 0
        capsys.readouterr()
    (src / "backup.journal.torn-20260101T000000Z").write_bytes(b"x")
    assert main([*args, "--new", "--replace-modified", "--delete-removed"]) == 0
    assert set(read_journal(journal).latest_by_name()) == {"data.txt"}
    # Another name that merely starts like the journal is data, and is backed up.
    (src / "backup.journal.txt").write_bytes(b"notes")
    assert main(args) == 0
    assert set(read_journal(journal).latest_by_name()) == {"data.txt", "backup.journal.txt"}
