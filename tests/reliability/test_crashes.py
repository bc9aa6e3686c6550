"""Crash suite (issue 7): 20 trials, each killing a CLI subprocess with SIGKILL at a random moment;
and (issue 11) 10 trials stopping it with SIGTERM or SIGHUP, which must be a clean stop.

The server runs in this process (``running_server``, loopback HTTP, real signatures); the
victim is a separate ``python -m glacierlib_cli sync`` (15 trials) or ``restore-completed``
(5 trials) process. Real ``delay`` faults (tens of milliseconds per request, server side)
stretch the run so a kill lands mid-transfer; the moment is drawn at random after the victim's
first request reached the server. After each kill:

* the journal still parses, strictly;
* a rerun (in-process CLI) completes with exit 0;
* multipart bytes sent over both runs exceed the files' sizes by at most concurrency x part
  size (the resume bound), and the rerun never sends more than a full re-upload would;
* the vault holds exactly the journal's live archives, except archives created just before
  the kill and not yet journaled: those must be archives that existed at the kill, and
  ``check-remote`` (after an inventory) must name each one as an orphan; uploads left on the
  server must be listed by ``list-uploads``;
* a killed restore-completed leaves, after its rerun, exactly the original files.

A SIGTERM (``systemctl stop``, ``docker stop``, ``timeout``) or SIGHUP is no crash: the victim
exits 143 / 129 having journaled every archive it stored, so the vault matches the journal at
once, with no orphan and nothing uploaded twice by the rerun.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest

from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer, ServerConfig, running_server
from glacierlib.treehash import tree_hash_bytes
from glacierlib_cli.main import main

from .support import (
    MIB,
    Endpoint,
    assert_vault_matches_journal,
    cli_command,
    cli_env,
    journal_ids,
    make_tree,
    read_tree,
    resume_lines,
    vault_archive_ids,
    vault_state,
)

pytestmark = pytest.mark.slow

TRIALS = 20
RESTORE_TRIALS = frozenset({3, 7, 11, 15, 19})
CONCURRENCY = 2
PART_SIZE = MIB
#: Longer than the server-side delays plus the handling of one request.
SETTLE = 0.4


@attrs.define
class Tally:
    """Numbers over all trials, for the final assertions (and the report)."""

    killed_mid_run: int = 0
    finished_before_kill: int = 0
    resumed_uploads: int = 0
    resent_bytes: list[int] = attrs.Factory(list)
    saved_bytes: int = 0
    orphans: int = 0
    stale_uploads: int = 0
    restores_killed: int = 0


@pytest.fixture(scope="module")
def server() -> Iterator[LocalServer]:
    with running_server(config=ServerConfig()) as srv:
        yield srv


def _requests(server: LocalServer, operations: tuple[str, ...]) -> int:
    counts = server.control.stats()["requests"]
    return sum(int(counts.get(op, 0)) for op in operations)


@contextmanager
def _victim(args: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    """The CLI in a subprocess that never outlives the test, whatever the test asserts."""
    proc = subprocess.Popen(cli_command(args), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=cli_env())
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _catches(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler installed for ``sig`` (Linux: SigCgt)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next((line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")),
                "0")
    return bool(int(mask, 16) >> (sig - 1) & 1)


def _kill_at_random(server: LocalServer, args: list[str], operations: tuple[str, ...],
                    rng: random.Random, window: float, sig: int = signal.SIGKILL) -> bool:
    """Start the CLI, wait for its first request, send ``sig`` ``uniform(0, window)`` s later.

    Returns whether it was stopped (False: it had already exited, which must be with 0).
    SIGKILL must kill it; SIGTERM and SIGHUP must make it exit with 128 + the signal number.
    """
    stopped = -signal.SIGKILL if sig == signal.SIGKILL else 128 + sig
    before = _requests(server, operations)
    with _victim(args) as proc:
        deadline = time.monotonic() + 60
        while _requests(server, operations) == before and proc.poll() is None:
            assert time.monotonic() < deadline, "the victim never reached the server"
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, window))
        if sig != signal.SIGKILL:
            # A request seen by the server may still be the previous trial's; a stop signal
            # must reach this victim once it handles it, not while it is still starting up.
            while not _catches(proc.pid, sig) and proc.poll() is None:
                assert time.monotonic() < deadline, "the victim never handled the signal"
                time.sleep(0.01)
        if proc.poll() is not None:
            assert proc.returncode == 0
            return False
        proc.send_signal(sig)
        proc.wait(timeout=30)
        # 0: it finished between the poll and the signal.
        assert proc.returncode in (0, stopped), proc.returncode
        # Requests the victim had sent (their bodies already in the socket buffers) still
        # finish on the server after it died: let them settle before looking at the vault.
        time.sleep(SETTLE)
        return proc.returncode != 0


def _sync_args(ep: Endpoint, vault: str, root: Path, journal: Path) -> list[str]:
    return ["sync", "--dir", str(root), "--vault", vault, "--journal", str(journal),
            "--partsize", str(PART_SIZE // MIB), "--concurrency", str(CONCURRENCY), *ep.args()]


def _orphans_reported_by_check_remote(ep: Endpoint, server: LocalServer, vault: str,
                                      journal: Path, capsys: pytest.CaptureFixture[str],
                                      ) -> str:
    server.control.take_inventory(vault)
    assert main(["retrieve-inventory", "--vault", vault, *ep.args()]) == 0
    capsys.readouterr()
    main(["check-remote", "--vault", vault, "--journal", str(journal), *ep.args()])
    return capsys.readouterr().out


def _sync_trial(server: LocalServer, ep: Endpoint, base: Path, trial: int,
                rng: random.Random, tally: Tally, capsys: pytest.CaptureFixture[str]) -> None:
    vault = f"crash{trial}"
    root, journal = base / "data", base / "journal.log"
    sizes = [rng.randint(3 * MIB // 2, 3 * MIB) for _ in range(3)]
    files = make_tree(root, small=12, big_sizes=sizes, seed=trial)
    assert main(["create-vault", vault, *ep.args()]) == 0
    server.control.reset_stats()
    # Server-side pacing, so a kill can land anywhere in the transfer.
    server.control.inject_fault("UploadArchive", "delay", 40, delay=0.05)
    server.control.inject_fault("UploadMultipartPart", "delay", 40, delay=0.12)
    killed = _kill_at_random(server, _sync_args(ep, vault, root, journal),
                             ("UploadArchive", "InitiateMultipartUpload"), rng, window=0.8)
    server.control.clear_faults()
    if killed:
        tally.killed_mid_run += 1
    else:
        tally.finished_before_kill += 1

    # The journal survives the kill: it parses, strictly, and names no file twice.
    at_kill = read_journal(journal, strict=True)
    archives_at_kill = set(vault_archive_ids(server.control, vault))
    uploads_at_kill = {u["upload_id"]: u for u in vault_state(server.control, vault)["uploads"]}
    unjournaled_big = sum(size for rel, size in
                          ((r, len(d)) for r, d in files.items() if r.startswith("big/"))
                          if at_kill.latest(rel) is None)
    first_run = int(server.control.stats()["bytes_received"].get("UploadMultipartPart", 0))
    server.control.reset_stats()

    capsys.readouterr()
    assert main(_sync_args(ep, vault, root, journal)) == 0
    captured = capsys.readouterr()
    tally.resumed_uploads += (captured.out + captured.err).count("resuming an interrupted upload")
    rerun = int(server.control.stats()["bytes_received"].get("UploadMultipartPart", 0))

    state = read_journal(journal, strict=True)
    assert sorted(e.name for e in state.archives.values()) == sorted(files)
    ids = vault_archive_ids(server.control, vault)
    assert max(ids.values()) == 1, "duplicate archive id"
    assert journal_ids(journal) <= set(ids), "journaled archive missing from the vault"
    orphans = set(ids) - journal_ids(journal)
    # The one allowed exception: archives created just before the kill, not yet journaled.
    assert orphans <= archives_at_kill
    orphan_bytes = 0
    if orphans:
        tally.orphans += len(orphans)
        report = _orphans_reported_by_check_remote(ep, server, vault, journal, capsys)
        sizes_by_id = {a["archive_id"]: a["size"]
                       for a in vault_state(server.control, vault)["archives"]}
        for archive_id in orphans:
            assert f"ORPHAN (not in journal) archive_id {archive_id}" in report \
                or (f"archive_id {archive_id}" in report and "ORPHAN" in report), report
            if sizes_by_id[archive_id] > PART_SIZE:
                orphan_bytes += int(sizes_by_id[archive_id])

    # Resume bound: bytes sent twice stay within concurrency x part size (a file whose
    # archive was completed but not journaled is the allowed exception: sent again whole).
    big_total = sum(len(d) for r, d in files.items() if r.startswith("big/"))
    resent = first_run + rerun - big_total - orphan_bytes
    assert resent <= CONCURRENCY * PART_SIZE, (first_run, rerun, big_total, orphan_bytes)
    assert rerun <= unjournaled_big
    tally.resent_bytes.append(max(resent, 0))
    tally.saved_bytes += unjournaled_big - rerun

    # Uploads the rerun did not clean up (initiated, but killed before they were recorded)
    # are never forgotten: list-uploads shows each one.
    stale = vault_state(server.control, vault)["uploads"]
    if stale:
        tally.stale_uploads += len(stale)
        capsys.readouterr()
        assert main(["list-uploads", "--vault", vault, *ep.args()]) == 0
        listed = capsys.readouterr().out
        for upload in stale:
            assert upload["upload_id"] in listed
            assert upload["upload_id"] in uploads_at_kill
    assert not resume_leftovers(journal)


def resume_leftovers(journal: Path) -> list[str]:
    """Lines of ``<journal>.uploads`` still pending after a complete run (should be none)."""
    path = Path(str(journal) + ".uploads")
    return path.read_text().splitlines() if path.exists() else []


def _restore_trial(server: LocalServer, ep: Endpoint, base: Path, trial: int,
                   rng: random.Random, tally: Tally, capsys: pytest.CaptureFixture[str],
                   sig: int = signal.SIGKILL) -> None:
    vault = f"crash{trial}"
    root, journal = base / "data", base / "journal.log"
    files = make_tree(root, small=6, big_sizes=(3 * MIB, 2 * MIB + 5, 3 * MIB - 1), seed=trial)
    assert main(["create-vault", vault, *ep.args()]) == 0
    assert main(_sync_args(ep, vault, root, journal)) == 0
    shutil.rmtree(root)
    root.mkdir()
    common = ["--dir", str(root), "--vault", vault, "--journal", str(journal), *ep.args()]
    assert main(["restore", "--max-number-of-files", "100", *common]) == 0
    capsys.readouterr()
    server.control.inject_fault("GetJobOutput", "delay", 40, delay=0.05)
    killed = _kill_at_random(
        server, ["restore-completed", "--segment-size", "1", "--concurrency",
                 str(CONCURRENCY), *common], ("GetJobOutput",), rng, window=0.6, sig=sig)
    server.control.clear_faults()
    tally.restores_killed += int(killed)
    read_journal(journal, strict=True)
    assert main(["restore-completed", "--segment-size", "1", *common]) == 0
    # Byte-identical, and nothing else left behind (no partial or temporary files).
    assert read_tree(root) == files
    capsys.readouterr()


def test_sigkill_at_random_moments(tmp_path: Path, server: LocalServer,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    ep = Endpoint.of(server)
    tally = Tally()
    rng = random.Random(int(os.environ.get("RELIABILITY_SEED", "20261126")))
    for trial in range(TRIALS):
        base = tmp_path / f"t{trial}"
        base.mkdir()
        if trial in RESTORE_TRIALS:
            _restore_trial(server, ep, base, trial, rng, tally, capsys)
        else:
            _sync_trial(server, ep, base, trial, rng, tally, capsys)
    with capsys.disabled():
        print(f"\ncrash trials: {tally}")
    sync_trials = TRIALS - len(RESTORE_TRIALS)
    # The kills landed mid-run, not after the victim had finished.
    assert tally.killed_mid_run >= sync_trials // 2, tally
    assert tally.restores_killed >= len(RESTORE_TRIALS) // 2, tally
    assert tally.resumed_uploads >= 1, tally


STOP_TRIALS = 10
STOP_RESTORE_TRIALS = frozenset({4, 9})
HANGUP_TRIALS = frozenset({2, 7, 9})


def _stop_sync_trial(server: LocalServer, ep: Endpoint, base: Path, trial: int,
                     rng: random.Random, sig: int) -> bool:
    """Stop a sync with ``sig`` mid-run: nothing stored may be left unjournaled."""
    vault = f"stop{trial}"
    root, journal = base / "data", base / "journal.log"
    sizes = [rng.randint(3 * MIB // 2, 3 * MIB) for _ in range(3)]
    files = make_tree(root, small=12, big_sizes=sizes, seed=100 + trial)
    assert main(["create-vault", vault, *ep.args()]) == 0
    server.control.inject_fault("UploadArchive", "delay", 40, delay=0.05)
    server.control.inject_fault("UploadMultipartPart", "delay", 40, delay=0.12)
    stopped = _kill_at_random(server, _sync_args(ep, vault, root, journal),
                              ("UploadArchive", "InitiateMultipartUpload"), rng, window=0.8,
                              sig=sig)
    server.control.clear_faults()

    # A clean stop, not a crash: every archive in the vault is journaled, at once.
    read_journal(journal, strict=True)
    assert_vault_matches_journal(server.control, vault, journal)
    # Multipart uploads left unfinished are the ones recorded for the rerun to resume.
    pending = {json.loads(line)["upload_id"] for line in resume_lines(journal)
               if json.loads(line)["op"] == "start"}
    assert {u["upload_id"] for u in vault_state(server.control, vault)["uploads"]} <= pending

    assert main(_sync_args(ep, vault, root, journal)) == 0
    assert sorted(e.name for e in read_journal(journal, strict=True).archives.values()) \
        == sorted(files)
    # Nothing was uploaded twice: the vault holds exactly the journal's archives.
    assert_vault_matches_journal(server.control, vault, journal)
    assert vault_state(server.control, vault)["uploads"] == []
    assert resume_lines(journal) == []
    return stopped


def test_sigterm_and_sighup_stop_cleanly(tmp_path: Path, server: LocalServer,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """SIGTERM/SIGHUP at random moments of sync and restore-completed: exit 143/129, every
    stored archive journaled, a rerun that uploads nothing twice and leaves no partial file."""
    ep = Endpoint.of(server)
    tally = Tally()
    rng = random.Random(int(os.environ.get("RELIABILITY_SEED", "20261205")))
    stopped = 0
    for trial in range(STOP_TRIALS):
        base = tmp_path / f"s{trial}"
        base.mkdir()
        sig = signal.SIGHUP if trial in HANGUP_TRIALS else signal.SIGTERM
        if trial in STOP_RESTORE_TRIALS:
            _restore_trial(server, ep, base, 100 + trial, rng, tally, capsys, sig=sig)
        else:
            stopped += _stop_sync_trial(server, ep, base, trial, rng, sig)
        capsys.readouterr()
    with capsys.disabled():
        print(f"\nstop trials: {stopped} syncs and {tally.restores_killed} restores stopped "
              "mid-run")
    assert stopped >= (STOP_TRIALS - len(STOP_RESTORE_TRIALS)) // 2
    assert tally.restores_killed >= 1


def test_file_changed_after_kill_is_uploaded_fresh(
    tmp_path: Path, server: LocalServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed mid-upload, then the file changes: the rerun aborts the stale upload and
    uploads the new content from scratch (never a mix of old and new parts)."""
    ep = Endpoint.of(server)
    vault = "changed"
    root, journal = tmp_path / "data", tmp_path / "journal.log"
    make_tree(root, small=0, big_sizes=(3 * MIB,), seed=41)
    big = root / "big" / "b00.bin"
    assert main(["create-vault", vault, *ep.args()]) == 0
    server.control.inject_fault("UploadMultipartPart", "delay", 10, delay=0.3)
    with _victim(_sync_args(ep, vault, root, journal)) as proc:
        deadline = time.monotonic() + 60
        while not any(u["parts"] for u in vault_state(server.control, vault)["uploads"]):
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    time.sleep(SETTLE + 0.3)
    server.control.clear_faults()
    stale = [u["upload_id"] for u in vault_state(server.control, vault)["uploads"]]
    assert len(stale) == 1
    new_content = random.Random(42).randbytes(3 * MIB - 12345)
    big.write_bytes(new_content)

    assert main(_sync_args(ep, vault, root, journal)) == 0
    assert vault_state(server.control, vault)["uploads"] == []  # the stale one was aborted
    entry = read_journal(journal, strict=True).latest("big/b00.bin")
    assert entry is not None
    assert entry.tree_hash == tree_hash_bytes(new_content)
    assert entry.size == len(new_content)
    archives = {a["archive_id"]: a for a in vault_state(server.control, vault)["archives"]}
    assert set(archives) == {entry.archive_id}
    assert archives[entry.archive_id]["tree_hash"] == entry.tree_hash.hex
    assert resume_leftovers(journal) == []
    capsys.readouterr()


def _helpers_of(pid: int) -> set[int]:
    """Upload helper processes (glacierlib.wrappers.offload) whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"glacierlib.wrappers.offload" in cmdline:
            found.add(int(entry.name))
    return found


@pytest.mark.parametrize("trial", range(3))
def test_sigkill_while_helper_processes_upload(
    tmp_path: Path, server: LocalServer, capsys: pytest.CaptureFixture[str], trial: int,
) -> None:
    """Enough small files for sync to start its upload helpers, then SIGKILL the sync: the
    helpers exit on their own, the journal parses, and the rerun leaves the vault matching
    the journal but for archives that existed at the kill, each named by check-remote."""
    rng = random.Random(1000 + trial)
    ep = Endpoint.of(server)
    vault = f"helpers{trial}"
    root, journal = tmp_path / "data", tmp_path / "journal.log"
    files = make_tree(root, small=120, big_sizes=(), seed=500 + trial)
    assert main(["create-vault", vault, *ep.args()]) == 0
    server.control.inject_fault("UploadArchive", "delay", 400, delay=0.02)
    before = _requests(server, ("UploadArchive",))
    helpers: set[int] = set()
    with _victim(_sync_args(ep, vault, root, journal)) as proc:
        deadline = time.monotonic() + 60
        while not helpers and proc.poll() is None:  # the helpers start after 32 uploads
            assert time.monotonic() < deadline, "the helpers never started"
            helpers = _helpers_of(proc.pid)
            time.sleep(0.02)
        time.sleep(rng.uniform(0.2, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    server.control.clear_faults()
    assert helpers, "the run ended before its helpers started"
    assert _requests(server, ("UploadArchive",)) > before
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in helpers):
        assert time.monotonic() < deadline, "upload helpers outlived the killed sync"
        time.sleep(0.05)
    time.sleep(SETTLE)

    read_journal(journal, strict=True)
    archives_at_kill = set(vault_archive_ids(server.control, vault))
    assert main(_sync_args(ep, vault, root, journal)) == 0
    state = read_journal(journal, strict=True)
    assert sorted(e.name for e in state.archives.values()) == sorted(files)
    ids = vault_archive_ids(server.control, vault)
    assert max(ids.values()) == 1
    orphans = set(ids) - journal_ids(journal)
    assert orphans <= archives_at_kill
    if orphans:
        report = _orphans_reported_by_check_remote(ep, server, vault, journal, capsys)
        assert all(f"archive_id {archive_id}" in report for archive_id in orphans)
        assert report.count("ORPHAN (not in journal)") >= len(orphans)


def test_sigterm_while_helper_processes_upload(
    tmp_path: Path, server: LocalServer, capsys: pytest.CaptureFixture[str],
) -> None:
    """SIGTERM (sent to the whole group, as ``systemctl stop`` does to its unit) while upload
    helpers work: the helpers ignore it and finish their request, the sync exits 143 with
    every stored archive journaled, and the helpers exit."""
    ep = Endpoint.of(server)
    vault = "helpers-term"
    root, journal = tmp_path / "data", tmp_path / "journal.log"
    files = make_tree(root, small=120, big_sizes=(), seed=777)
    assert main(["create-vault", vault, *ep.args()]) == 0
    server.control.inject_fault("UploadArchive", "delay", 400, delay=0.02)
    helpers: set[int] = set()
    with _victim(_sync_args(ep, vault, root, journal)) as proc:
        deadline = time.monotonic() + 60
        while not helpers and proc.poll() is None:
            assert time.monotonic() < deadline, "the helpers never started"
            helpers = _helpers_of(proc.pid)
            time.sleep(0.02)
        time.sleep(0.3)
        for pid in (proc.pid, *helpers):
            os.kill(pid, signal.SIGTERM)
        proc.wait(timeout=30)
    server.control.clear_faults()
    assert helpers and proc.returncode == 143, proc.returncode
    deadline = time.monotonic() + 5
    while any(Path(f"/proc/{pid}").exists() for pid in helpers):
        assert time.monotonic() < deadline, "upload helpers outlived the stopped sync"
        time.sleep(0.05)
    read_journal(journal, strict=True)
    assert_vault_matches_journal(server.control, vault, journal)
    assert 0 < len(journal_ids(journal)) < len(files)
    assert main(_sync_args(ep, vault, root, journal)) == 0
    assert_vault_matches_journal(server.control, vault, journal)
    assert sorted(e.name for e in read_journal(journal).archives.values()) == sorted(files)
    capsys.readouterr()
