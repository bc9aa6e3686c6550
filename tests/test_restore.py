"""restore and restore-completed, end to end through the CLI against the local server."""

from __future__ import annotations

import os
from pathlib import Path

from restore_support import (
    VAULT,
    files_in,
    pattern,
    run_cli,
    seed_vault,
    server_store,
)

from glacierlib.localserver import LocalServer, ServerConfig, running_server

MIB = 1 << 20


def _restore(server: LocalServer, root: Path, journal: Path, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli(server, "restore", "--dir", root, "--vault", VAULT, "--journal", journal,
                   *extra)


def _completed(server: LocalServer, root: Path, journal: Path, *extra: str):  # type: ignore[no-untyped-def]
    return run_cli(server, "restore-completed", "--dir", root, "--vault", VAULT,
                   "--journal", journal, *extra)


def _initiated(server: LocalServer) -> int:
    return int(server.control.stats()["requests"].get("InitiateJob", 0))


def test_full_cycle_restores_identical_files_with_mtimes(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    journal = tmp_path / "journal"
    root = tmp_path / "restored"
    files = {
        "a.txt": b"hello glacier\n",
        "deep/dir/b.bin": pattern(3 * MIB + 12345, 1),
        "name with spaces & ünïcode.txt": pattern(70_000, 2),
        "no-mtime.dat": pattern(5000, 3),
    }
    mtimes: dict[str, int | None] = {
        "a.txt": 1_500_000_000, "deep/dir/b.bin": 1_400_000_001,
        "name with spaces & ünïcode.txt": 1_300_000_002, "no-mtime.dat": None,
    }
    seed_vault(local_server, journal, files, mtimes=mtimes)

    first = _restore(local_server, root, journal, "--max-number-of-files", "100")
    assert first.code == 0, first.err
    assert "Restore: 4 archive(s)" in first.out
    assert journal.read_text().count("\tRETRIEVE_JOB\t") == 4

    done = _completed(local_server, root, journal, "--segment-size", "1")
    assert done.code == 0, done.err
    assert done.out.rstrip().endswith("OK DONE")
    assert files_in(root) == files  # byte-identical, and no partial or state file left over
    for name, mtime in mtimes.items():
        if mtime is not None:
            assert os.stat(root / name).st_mtime == mtime, name
    # mt-aws-glacier crashed on an mtime of NONE (its #114); we leave the mtime alone.
    assert (root / "no-mtime.dat").read_bytes() == files["no-mtime.dat"]

    before = _initiated(local_server)
    again = _restore(local_server, root, journal, "--max-number-of-files", "100")
    assert again.code == 0
    assert "Nothing to restore" in again.out
    assert _initiated(local_server) == before


def test_second_restore_initiates_nothing_and_dry_run_touches_nothing(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    journal = tmp_path / "journal"
    root = tmp_path / "restored"
    seed_vault(local_server, journal, {"x": b"1" * 10, "y": b"2" * 20})
    journal_before = journal.read_bytes()

    dry = _restore(local_server, root, journal, "--max-size", "1K", "--dry-run",
                   "--tier", "Bulk")
    assert dry.code == 0, dry.err
    assert "Plan: 2 archive(s), 30 bytes, tier Bulk" in dry.out
    assert dry.out.count("Will RETRIEVE archive") == 2
    assert _initiated(local_server) == 0
    assert journal.read_bytes() == journal_before

    assert _restore(local_server, root, journal, "--max-size", "1K").code == 0
    assert _initiated(local_server) == 2
    second = _restore(local_server, root, journal, "--max-size", "1K")
    assert second.code == 0
    assert _initiated(local_server) == 2
    assert "2 already requested" in second.out


def test_caps_order_and_tier(local_server: LocalServer, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    root = tmp_path / "restored"
    # Sizes chosen so --max-size 300 stops at the third file in path order.
    files = {"d/4": b"d" * 100, "a/1": b"a" * 100, "c/3": b"c" * 150, "b/2": b"b" * 50}
    archives = seed_vault(local_server, journal, files)
    (root / "b").mkdir(parents=True)
    (root / "b" / "2").write_bytes(b"present locally")  # present: never retrieved

    capped = _restore(local_server, root, journal, "--max-number-of-files", "1",
                      "--tier", "Bulk")
    assert capped.code == 0, capped.err
    assert "(filename a/1)" in capped.out
    assert "2 left by the caps" in capped.out

    sized = _restore(local_server, root, journal, "--max-size", "200", "--tier", "Expedited")
    assert sized.code == 0, sized.err
    # a/1 already requested; c/3 (150) fits, d/4 (100) would exceed 200 bytes in total.
    assert "(filename c/3)" in sized.out
    assert "(filename d/4)" not in sized.out

    with server_store(local_server) as store:
        jobs = {j.archive_id: j for j in store.list_jobs(VAULT)}
    assert set(jobs) == {archives["a/1"].archive_id, archives["c/3"].archive_id}
    assert jobs[archives["a/1"].archive_id].tier == "Bulk"
    assert jobs[archives["c/3"].archive_id].tier == "Expedited"


def test_restore_needs_a_cap(local_server: LocalServer, tmp_path: Path) -> None:
    seed_vault(local_server, tmp_path / "j", {"x": b"x"})
    result = _restore(local_server, tmp_path / "r", tmp_path / "j")
    assert result.code == 2
    assert _initiated(local_server) == 0


def test_vault_job_list_prevents_paying_twice(tmp_path: Path) -> None:
    """A journal without the RETRIEVE_JOB line (rebuilt, or another machine's) still skips
    an archive whose retrieval is running in the vault."""
    with running_server(config=ServerConfig(standard_delay=3600)) as server:
        journal = tmp_path / "journal"
        archives = seed_vault(server, journal, {"big": b"B" * 1000, "small": b"s"})
        with server_store(server) as store:
            store.initiate_archive_retrieval(VAULT, archives["big"].archive_id)
        result = _restore(server, tmp_path / "r", journal, "--max-number-of-files", "5")
        assert result.code == 0, result.err
        assert "(filename small)" in result.out
        assert "(filename big)" not in result.out
        assert _initiated(server) == 2  # the test's own job + "small"


def test_jobs_in_progress_exit_75_then_complete(tmp_path: Path) -> None:
    with running_server(config=ServerConfig(standard_delay=4 * 3600)) as server:
        journal = tmp_path / "journal"
        root = tmp_path / "restored"
        files = {"one": pattern(2000, 5), "two": pattern(3000, 6)}
        seed_vault(server, journal, files)
        assert _restore(server, root, journal, "--max-number-of-files", "9").code == 0

        early = _completed(server, root, journal)
        assert early.code == 75
        assert "2 still in progress" in early.err
        assert not root.exists() or files_in(root) == {}

        server.control.advance_clock(4 * 3600 + 1)
        later = _completed(server, root, journal)
        assert later.code == 0, later.err
        assert files_in(root) == files


def test_no_job_at_all_exits_66_with_one_summary_line(local_server: LocalServer,
                                                      tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    seed_vault(local_server, journal, {"f": b"data", "g": b"more"})
    result = _completed(local_server, tmp_path / "r", journal)
    assert result.code == 66  # nothing restored, and waiting will not help: run restore
    assert "OK DONE" not in result.out
    assert [line for line in result.out.splitlines() if "retrieval job" in line] == [
        "No retrieval job for 2 missing file(s); run restore first (--verbose lists them). "
        "Nothing was restored."]
    verbose = _completed(local_server, tmp_path / "r", journal, "--verbose")
    assert "No retrieval job for f" in verbose.err and "No retrieval job for g" in verbose.err


def test_expired_job_output_suggests_restore(local_server: LocalServer, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    root = tmp_path / "r"
    seed_vault(local_server, journal, {"f": pattern(4000, 9)})
    assert _restore(local_server, root, journal, "--max-number-of-files", "1").code == 0
    # Listed as succeeded, but the output is gone by the time it is fetched.
    local_server.control.inject_fault("GetJobOutput", "error", 1, status=404,
                                      code="ResourceNotFoundException")
    result = _completed(local_server, root, journal)
    assert result.code == 1
    assert "restore" in result.err and "again" in result.err
    assert not (root / "f").exists()


def test_dry_run_lists_downloads(local_server: LocalServer, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    archives = seed_vault(local_server, journal, {"f": b"x"})
    result = _completed(local_server, tmp_path / "r", journal, "--dry-run")
    assert result.code == 0
    assert (f"Will DOWNLOAD (if available) archive {archives['f'].archive_id} (filename f)"
            in result.out)
    assert "ListJobs" not in local_server.control.stats()["requests"]


def test_sync_delete_restore_cycle(local_server: LocalServer, tmp_path: Path) -> None:
    """The issue's proof: sync, lose the files, restore, restore-completed: identical files
    and mtimes; then a journal rebuilt from the inventory passes check-local-hash."""
    root = tmp_path / "data"
    journal = tmp_path / "journal"
    files = {"docs/report final.pdf": pattern(3 * MIB + 99, 11), "small.txt": b"tiny\n",
             "x/y/z.bin": pattern(MIB, 12)}
    for i, (name, data) in enumerate(sorted(files.items())):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (1_450_000_000 + i, 1_450_000_000 + i))
    with server_store(local_server) as store:
        store.create_vault(VAULT)
    synced = run_cli(local_server, "sync", "--dir", root, "--vault", VAULT, "--journal",
                     journal, "--partsize", "1")
    assert synced.code == 0, synced.err
    mtimes = {name: os.stat(root / name).st_mtime for name in files}
    for name in files:
        (root / name).unlink()

    assert _restore(local_server, root, journal, "--max-size", "1G").code == 0
    done = _completed(local_server, root, journal, "--segment-size", "1", "--concurrency", "2")
    assert done.code == 0, done.err
    assert files_in(root) == files
    assert {name: os.stat(root / name).st_mtime for name in files} == mtimes

    local_server.control.take_inventory(VAULT)
    assert run_cli(local_server, "retrieve-inventory", "--vault", VAULT).code == 0
    rebuilt = tmp_path / "rebuilt.journal"
    assert run_cli(local_server, "download-inventory", "--vault", VAULT, "--new-journal",
                   rebuilt).code == 0
    check = run_cli(None, "check-local-hash", "--dir", root, "--journal", rebuilt)
    assert check.code == 0, check.out + check.err
    remote = run_cli(local_server, "check-remote", "--vault", VAULT, "--journal", journal)
    assert remote.code == 0, remote.out


LONG_NAME = "d/" + "x" * 300 + ".bin"  # one path component of 304 bytes: legal elsewhere


def _lines_naming(text: str, fragment: str) -> list[str]:
    return [line for line in text.splitlines() if fragment in line]


def test_an_over_long_name_fails_alone(local_server: LocalServer, tmp_path: Path) -> None:
    """Issue 11, item 6: a name the local filesystem cannot hold (ENAMETOOLONG) is one line
    naming it, in restore and in restore-completed; every other file is restored; exit 1."""
    journal, root = tmp_path / "journal", tmp_path / "out"
    seed_vault(local_server, journal, {LONG_NAME: b"long", "a.txt": b"first", "z.txt": b"last"})
    common = ("--dir", root, "--vault", VAULT, "--journal", journal)
    (root / "d").mkdir(parents=True)  # the long name's directory exists

    restore = run_cli(local_server, "restore", *common, "--max-number-of-files", "10")
    assert restore.code == 1, restore.err
    assert "unexpected" not in restore.err and "Traceback" not in restore.err
    named = _lines_naming(restore.out + restore.err, "x" * 300)
    assert len(named) == 1 and "too long" in named[0], restore.out + restore.err
    assert restore.out.count("Retrieved archive") == 2

    done = run_cli(local_server, "restore-completed", *common)
    assert done.code == 1, done.err
    assert "unexpected" not in done.err and "Traceback" not in done.err
    named = _lines_naming(done.out + done.err, "x" * 300)
    assert len(named) == 1 and "too long" in named[0], done.out + done.err
    assert files_in(root) == {"a.txt": b"first", "z.txt": b"last"}


def test_a_directory_in_a_files_place_is_refused_before_paying_or_downloading(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    """A directory where the journal has a file: restore asks for no retrieval of it, and
    restore-completed downloads nothing for it (it used to fetch the whole archive and then
    fail on the rename); one line each, exit 1, the other file restored."""
    journal, root = tmp_path / "journal", tmp_path / "out"
    seed_vault(local_server, journal, {"dir-now": b"was a file", "b.txt": b"bee"})
    common = ("--dir", root, "--vault", VAULT, "--journal", journal)
    (root / "dir-now").mkdir(parents=True)
    before = local_server.control.stats()["requests"]

    restore = run_cli(local_server, "restore", *common, "--max-number-of-files", "10")
    assert restore.code == 1, restore.err
    assert _lines_naming(restore.out + restore.err, "dir-now") == [
        "ERROR: dir-now: cannot be restored: a directory is in its place"]
    assert restore.out.count("Retrieved archive") == 1

    done = run_cli(local_server, "restore-completed", *common)
    assert done.code == 1, done.err
    assert _lines_naming(done.out + done.err, "dir-now") == [
        "ERROR: dir-now: cannot be restored: a directory is in its place"]
    assert "Nothing to download" not in done.out
    after = local_server.control.stats()["requests"]
    assert after.get("InitiateJob", 0) - before.get("InitiateJob", 0) == 1
    assert after.get("GetJobOutput", 0) - before.get("GetJobOutput", 0) == 1
    assert files_in(root) == {"b.txt": b"bee"}


def test_restore_completed_with_only_failures_does_not_say_nothing_to_download(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    """The refused file is one ERROR line, and no "Nothing to download" stands above it."""
    journal, root = tmp_path / "journal", tmp_path / "out"
    seed_vault(local_server, journal, {"sub/b.bin": b"bee"})
    (tmp_path / "outside").mkdir()
    root.mkdir()
    (root / "sub").symlink_to(tmp_path / "outside", target_is_directory=True)
    done = run_cli(local_server, "restore-completed", "--dir", root, "--vault", VAULT,
                   "--journal", journal)
    assert done.code == 1
    assert "Nothing to download" not in done.out
    errors = [x for x in _lines_naming(done.out + done.err, "sub/b.bin") if "ERROR" in x]
    assert len(errors) == 1, done.out + done.err
