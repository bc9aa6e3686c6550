"""``import glacierlib`` for people who embed it: the operations, lazily; gc left as it was;
``restore_file`` end to end against the local server with a job delay."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import glacierlib
from glacierlib.api import FileRestore, NotInJournal
from glacierlib.config import Settings
from glacierlib.exceptions import ConfigError
from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer, ServerConfig, running_server
from glacierlib.progress import ProgressEvent

ROOT = Path(__file__).resolve().parent.parent
HOUR = 3600

# ---------------------------------------------------------------------------------------------
# The operations at the top level, loaded on first use

OPERATIONS = {
    "sync": "glacierlib.operations.sync",
    "restore": "glacierlib.operations.restore",
    "restore_completed": "glacierlib.operations.restore_completed",
    "check_local_hash": "glacierlib.operations.check_local_hash",
    "check_remote": "glacierlib.operations.check_remote",
    "upload_file": "glacierlib.operations.upload_file",
    "purge_vault": "glacierlib.operations.purge_vault",
    "retrieve_inventory": "glacierlib.operations.inventory",
    "download_inventory": "glacierlib.operations.inventory",
    "list_jobs": "glacierlib.operations.jobs",
    "list_uploads": "glacierlib.operations.uploads",
    "abort_uploads": "glacierlib.operations.uploads",
    "create_vault": "glacierlib.operations.vaults",
    "delete_vault": "glacierlib.operations.vaults",
    "list_vaults": "glacierlib.operations.vaults",
    "restore_file": "glacierlib.api",
}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_each_operation_is_a_top_level_name(name: str) -> None:
    module = sys.modules.get(OPERATIONS[name]) or __import__(OPERATIONS[name], fromlist=["_"])
    assert getattr(glacierlib, name) is getattr(module, name)
    assert name in glacierlib.__all__ and name in dir(glacierlib)


def test_every_exported_name_resolves() -> None:
    missing = [name for name in glacierlib.__all__ if not hasattr(glacierlib, name)]
    assert missing == []
    with pytest.raises(AttributeError, match="no attribute 'snyc'"):
        glacierlib.snyc  # type: ignore[attr-defined]  # noqa: B018


def test_import_glacierlib_loads_neither_botocore_nor_pytest() -> None:
    code = (
        "import sys, glacierlib\n"
        "print(sorted(m for m in ('botocore', 'pytest', 'glacierlib.testing', "
        "'glacierlib.operations.sync', 'glacierlib.api') if m in sys.modules))\n"
        "glacierlib.sync\n"
        "print('botocore' in sys.modules, 'pytest' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["[]", "True False"]


# ---------------------------------------------------------------------------------------------
# sync leaves the process's garbage collector as it found it


@pytest.fixture
def tree(tmp_path: Path) -> Settings:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha")
    (root / "sub" / "b.txt").write_text("beta" * 1000)
    return glacierlib.settings(dir=root, vault="v", journal=tmp_path / "j.log",
                               local_dir=tmp_path / "glacier", concurrency=2)


@pytest.fixture
def gc_state() -> Iterator[None]:
    """Restore this process's collector whatever a test did to it."""
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()


def test_sync_freezes_only_while_it_runs(tree: Settings, gc_state: None) -> None:
    during: list[int] = []

    def on_event(_event: ProgressEvent) -> None:
        during.append(gc.get_freeze_count())

    gc.unfreeze()
    report = glacierlib.sync(tree, on_event)
    assert report.ok and report.result.uploaded == 2
    assert during and min(during) > 0  # the 1M-file speed-up still applies
    assert gc.get_freeze_count() == 0 and gc.isenabled()


def test_sync_keeps_the_callers_own_freeze(tree: Settings, gc_state: None) -> None:
    """A pre-fork server froze its heap: sync must not thaw it (gc.unfreeze thaws all)."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    assert glacierlib.sync(tree).ok
    # A frozen object may still die of its refcount (a few of the test's own do), but none
    # may be thawed (unfreeze: 0) and none added (a second freeze: more than before).
    assert frozen - 100 <= gc.get_freeze_count() <= frozen
    assert gc.isenabled()


def test_sync_leaves_a_disabled_collector_alone(tree: Settings, gc_state: None) -> None:
    """A caller that disabled the collector manages it: no freeze, even while sync runs."""
    during: list[int] = []
    gc.unfreeze()
    gc.disable()
    assert glacierlib.sync(tree, lambda _e: during.append(gc.get_freeze_count())).ok
    assert during and set(during) == {0}
    assert not gc.isenabled()
    assert gc.get_freeze_count() == 0


# ---------------------------------------------------------------------------------------------
# restore_file: one call, repeated until done


@pytest.fixture
def slow_server() -> Iterator[LocalServer]:
    """Retrieval jobs take an hour of the simulated clock, as Expedited-ish jobs do."""
    with running_server(config=ServerConfig().with_job_delay(HOUR)) as server:
        yield server


@pytest.fixture
def backed_up(slow_server: LocalServer, tmp_path: Path) -> Settings:
    root = tmp_path / "photos"
    (root / "2024").mkdir(parents=True)
    (root / "2024" / "a.jpg").write_bytes(os.urandom(3 * (1 << 20) + 123))
    (root / "b.jpg").write_bytes(b"b" * 100)
    settings = glacierlib.settings(
        endpoint_url=slow_server.endpoint_url, region=slow_server.region,
        access_key=slow_server.access_key, secret_key=slow_server.secret_key,
        vault="photos", dir=root, journal=tmp_path / "photos.journal", concurrency=2)
    glacierlib.create_vault(settings, "photos")
    assert glacierlib.sync(settings).ok
    return settings


def _retrievals(server: LocalServer) -> int:
    state = server.control.state()
    jobs = state["vaults"]["photos"]["jobs"]
    return sum(1 for job in jobs if job["action"] == "ArchiveRetrieval")


def test_restore_file_initiates_waits_then_downloads(
    backed_up: Settings, slow_server: LocalServer, tmp_path: Path,
) -> None:
    assert backed_up.dir is not None and backed_up.journal is not None
    original = (backed_up.dir / "2024" / "a.jpg").read_bytes()
    (backed_up.dir / "2024" / "a.jpg").unlink()

    first = glacierlib.restore_file(backed_up, "2024/a.jpg")
    assert (first.status, first.initiated, first.downloaded) == ("pending", True, False)
    assert first.job_id is not None and not first.done
    assert first.path == backed_up.dir / "2024" / "a.jpg" and not first.path.exists()
    assert read_journal(backed_up.journal).retrieve_jobs.keys() == {first.archive_id}

    again = glacierlib.restore_file(backed_up, "2024/a.jpg")
    assert (again.status, again.initiated, again.job_id) == ("pending", False, first.job_id)
    assert _retrievals(slow_server) == 1  # asking again never pays again

    slow_server.control.advance_clock(HOUR)
    done = glacierlib.restore_file(backed_up, "2024/a.jpg")
    assert (done.status, done.downloaded, done.job_id) == ("done", True, first.job_id)
    assert done.path.read_bytes() == original and done.size == len(original)

    outputs = slow_server.control.stats()["requests"]["GetJobOutput"]
    settled = glacierlib.restore_file(backed_up, "2024/a.jpg")
    assert (settled.status, settled.downloaded, settled.initiated) == ("done", False, False)
    assert slow_server.control.stats()["requests"]["GetJobOutput"] == outputs
    assert _retrievals(slow_server) == 1


def test_restore_file_to_another_place(backed_up: Settings, slow_server: LocalServer,
                                       tmp_path: Path) -> None:
    elsewhere = tmp_path / "restored"
    elsewhere.mkdir()
    assert glacierlib.restore_file(backed_up, "b.jpg", dest=elsewhere).status == "pending"
    slow_server.control.advance_clock(HOUR)
    into_dir = glacierlib.restore_file(backed_up, "b.jpg", dest=elsewhere)
    assert into_dir.done and into_dir.path == elsewhere / "b.jpg"
    as_file = glacierlib.restore_file(backed_up, "b.jpg", dest=tmp_path / "copy.jpg")
    assert as_file.done and (tmp_path / "copy.jpg").read_bytes() == b"b" * 100
    assert _retrievals(slow_server) == 1  # the succeeded job serves every download


def test_restore_file_refusals(backed_up: Settings, tmp_path: Path) -> None:
    with pytest.raises(NotInJournal, match=r"'nope\.jpg' is not in the journal"):
        glacierlib.restore_file(backed_up, "nope.jpg")
    other = tmp_path / "other.jpg"
    other.write_bytes(b"not the archive")
    with pytest.raises(ConfigError, match=r"exists and is not the archived 'b\.jpg'"):
        glacierlib.restore_file(backed_up, "b.jpg", dest=other)
    assert other.read_bytes() == b"not the archive"
    # The local file is the archive already: done, nothing asked of the vault.
    present = glacierlib.restore_file(backed_up, "b.jpg")
    assert (present.status, present.initiated, present.downloaded) == ("done", False, False)


def test_restore_file_under_local_dir_is_one_call(tree: Settings) -> None:
    assert glacierlib.sync(tree).ok
    assert tree.dir is not None
    (tree.dir / "sub" / "b.txt").unlink()
    result: FileRestore = glacierlib.restore_file(tree, "sub/b.txt")
    assert (result.status, result.initiated, result.downloaded) == ("done", True, True)
    assert (tree.dir / "sub" / "b.txt").read_text() == "beta" * 1000


def test_the_15_line_example_backs_up_and_says_so(tmp_path: Path) -> None:
    script = ROOT / "examples" / "backup_in_15_lines.py"
    assert len(script.read_text().splitlines()) <= 15
    args = [sys.executable, str(script), str(ROOT / "examples" / "sample"), "demo",
            str(tmp_path / "demo.journal"), str(tmp_path / "glacier")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False,
                           env=env)
    assert (first.returncode, first.stdout) == (0, "uploaded 4 file(s), deleted 0\n")
    again = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False,
                           env=env)
    assert (again.returncode, again.stdout) == (0, "uploaded 0 file(s), deleted 0\n")
    assert len(read_journal(tmp_path / "demo.journal").archives) == 4
