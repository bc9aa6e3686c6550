"""The progress display tells the truth: totals as known, 100% only when done, fits the width.

Rendering is tested deterministically: events are fed with a fake clock into
``ProgressDisplay`` and the status lines are asserted. The sync tests go through real botocore
to the local server and check the events the library gives a display.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

from glacierlib.config import Settings
from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer
from glacierlib.operations.sync import sync
from glacierlib.progress import (
    BytesMoved,
    FileDone,
    FileSkipped,
    FileStarted,
    PlanReady,
    ProgressEvent,
)
from glacierlib_cli.main import main
from glacierlib_cli.progress import ProgressDisplay
from tests.events_support import Events

MIB = 1 << 20
VAULT = "progress"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def display(clock: Clock, *, draw: list[str] | None = None,
            written: list[str] | None = None, width: int = 200) -> ProgressDisplay:
    return ProgressDisplay(
        write=(written if written is not None else []).append,
        draw=draw.append if draw is not None else (lambda s: None),
        lock=threading.RLock(), clock=clock, width=lambda: width)


def replay_streaming_run(d: ProgressDisplay, clock: Clock, *, final_at: int | None) -> list[str]:
    """31 files of 8 MiB, uploaded one per second while the plan is pulled one file ahead (as
    the executor pulls it: only when a slot is free). ``final_at``: after that many files the
    totals become final (a count ahead); None: only when the plan runs out."""
    lines = []
    for i in range(31):
        clock.now = float(i)
        d(PlanReady(min(i + 2, 31), min(i + 2, 31) * 8 * MIB))  # executor: grows as pulled
        if final_at is not None and i == final_at:
            d(PlanReady(31, 31 * 8 * MIB, complete=True))
        if i == 30:
            d(PlanReady(31, 31 * 8 * MIB, complete=True))  # the plan ran out
        d(FileStarted(f"dir/file{i:02d}.bin", 8 * MIB))
        clock.now = i + 0.99
        d(BytesMoved(8 * MIB, f"dir/file{i:02d}.bin"))
        if i < 30:
            lines.append(d.status_line(width=200))  # drawn while a file is still in flight
        d(FileDone(f"dir/file{i:02d}.bin", 8 * MIB))
    return lines


def test_growing_totals_are_shown_as_known_without_percent_or_eta() -> None:
    clock = Clock()
    d = display(clock)
    lines = replay_streaming_run(d, clock, final_at=None)
    # The old bar said "100% 26/31 files ... ETA 0:00:00" for most of such a run.
    for line in lines:
        assert "%" not in line and "ETA" not in line, line
        assert re.search(r"\d+/\d+\+ files \(scanning\)", line), line
    assert lines[6] == "6/8+ files (scanning) 56.0 MiB/64.0 MiB+ 8.0 MiB/s > dir/file06.bin"
    # Without any totals (standard input, a stream of work): what is done is what is known.
    d2 = display(clock)
    d2(FileDone("x", 5))
    assert d2.status_line(width=200).startswith("1/1+ files (scanning)")


def test_final_totals_give_a_percentage_that_is_100_only_when_done() -> None:
    clock = Clock()
    d = display(clock)
    lines = replay_streaming_run(d, clock, final_at=0)
    assert all("(scanning)" not in line for line in lines)
    assert all("100%" not in line for line in lines)
    assert "  3% 0/31 files" in lines[0]
    assert " 51% 15/31 files 128.0 MiB/248.0 MiB" in lines[15]  # 16 of 31 files sent
    assert "ETA 0:00:15" in lines[15]
    # Every byte moved but one file still unfinished (its reply not yet in): not 100%.
    d2 = display(clock)
    d2(PlanReady(2, 2 * MIB, complete=True))
    d2(BytesMoved(2 * MIB))
    d2(FileDone("a", MIB))
    assert " 99% 1/2 files" in d2.status_line(width=200)
    d2(FileDone("b", MIB))
    assert d2.status_line(width=200).startswith("[####################] 100% 2/2 files")


def test_exact_totals_replace_a_count_ahead_that_guessed_too_many() -> None:
    clock = Clock()
    d = display(clock)
    d(PlanReady(5, 5 * MIB, complete=True))  # counted ahead: 2 deletions guessed
    d(PlanReady(3, 3 * MIB))  # the executor's growing count stays below: no effect
    assert (d.files_total, d.totals_final) == (5, True)
    d(PlanReady(4, 3 * MIB, complete=True))  # the plan ran out: one deletion held back
    for name in "abc":
        d(BytesMoved(MIB))
        d(FileDone(name, MIB))
    d(FileDone("gone", 0, "delete", "id"))
    assert "100% 4/4 files" in d.status_line(width=200)


def test_a_failed_file_counts_as_finished_for_the_percentage() -> None:
    clock = Clock()
    d = display(clock)
    d(PlanReady(2, 0, complete=True))  # no bytes to move: progress by files
    d(FileDone("a", 0, "delete", "id-a"))
    assert " 50% 1/2 files" in d.status_line(width=200)
    d(FileSkipped("bad\\nname", "cannot be stored", error=True))  # never planned
    assert " 50% 1/2 files" in d.status_line(width=200)
    d(FileStarted("b", 0))
    d(FileSkipped("b", "access denied", error=True))
    line = d.status_line(width=200)
    assert "100% 1/2 files" in line and "2 errors" in line


@pytest.mark.parametrize("width", [40, 72, 200])
def test_the_line_fits_the_width_and_keeps_percent_and_eta_whole(width: int) -> None:
    clock = Clock()
    d = display(clock, width=width)
    d(PlanReady(31, 260 * MIB, complete=True))
    d(FileStarted("photos/2024/summer/IMG_20240712_123456.jpg", 8 * MIB))
    d(BytesMoved(0))
    clock.now = 7.0
    d(BytesMoved(70 * MIB))
    for i in range(5):
        d(FileDone(f"f{i}", 14 * MIB))
    line = d.status_line()  # the terminal's width, as the redraw timer asks for it
    assert len(line) <= width - 1
    assert " 26% 5/31 files" in line
    assert "ETA 0:00:19" in line  # 190 MiB left at 10 MiB/s: cut at 72 columns before
    if width >= 72:
        assert "70.0 MiB/260.0 MiB" in line and "10.0 MiB/s" in line
    if width == 200:
        assert line.startswith("[#####---------------]")
        assert line.endswith("> photos/2024/summer/IMG_20240712_123456.jpg")


def test_rate_is_neither_a_spike_at_the_start_nor_stuck_after_a_stall() -> None:
    clock = Clock()
    d = display(clock)
    clock.now = 0.001
    d(BytesMoved(4 * MIB))  # two small files answered a millisecond apart, at the start
    clock.now = 0.002
    d(BytesMoved(4 * MIB))
    clock.now = 1.0
    assert d.rate() == 8 * MIB  # over the run so far, not 8 MiB per millisecond
    clock.now = 4.0
    assert d.rate() == 2 * MIB  # nothing since: the rate falls, it does not freeze
    clock.now = 30.0
    d(BytesMoved(10 * MIB))
    clock.now = 35.0
    assert d.rate() == MIB  # the last ten seconds only: 10 MiB since 25.0


def test_default_width_comes_from_the_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "40")  # shutil.get_terminal_size reads it first
    d = ProgressDisplay(write=lambda s: None, draw=lambda s: None, lock=threading.RLock())
    d(PlanReady(31, 260 * MIB, complete=True))
    d(BytesMoved(1))
    d(FileStarted("a/very/long/path/name/that/cannot/fit.bin", 1))
    assert len(d.status_line()) <= 39
    monkeypatch.setenv("COLUMNS", "200")
    assert d.status_line().endswith("> a/very/long/path/name/that/cannot/fit.bin")


def test_files_in_flight_newest_named_with_the_count_of_others() -> None:
    clock = Clock()
    d = display(clock)
    d(PlanReady(3, 3 * MIB, complete=True))
    for name in ("one", "two", "three"):
        d(FileStarted(name, MIB))
    assert d.in_flight == ["one", "two", "three"]
    assert d.status_line(width=200).endswith("> three (+2)")
    d(FileDone("three", MIB))
    d(FileSkipped("one", "gone", error=True))
    assert d.in_flight == ["two"]
    assert d.status_line(width=200).endswith("> two")
    long = "deep/" * 30 + "leaf-name.bin"
    d(FileStarted(long, MIB))
    line = d.status_line(width=72)
    assert len(line) <= 71 and line.endswith("leaf-name.bin (+1)") and "> ..." in line


def test_run_ends_with_elapsed_time_and_average_rate_in_human_units() -> None:
    clock = Clock()
    drawn: list[str] = []
    d = display(clock, draw=drawn)
    d(PlanReady(31, 31 * 8 * MIB, complete=True))
    for i in range(31):
        d(FileStarted(f"f{i}", 8 * MIB))
        d(BytesMoved(8 * MIB))
        d(FileDone(f"f{i}", 8 * MIB))
    clock.now = 40.0
    assert d.summary_line() == "done: 31 files, 248.0 MiB in 0:00:40, 6.2 MiB/s average"
    d._drawn = True  # as after a redraw by the timer
    d.stop()
    assert drawn[-2:] == ["done: 31 files, 248.0 MiB in 0:00:40, 6.2 MiB/s average", "\n"]
    d.stop()
    assert len(drawn) == 2  # once


def test_plain_output_ends_with_the_summary_only_when_something_happened() -> None:
    clock = Clock()
    written: list[str] = []
    quiet_run = ProgressDisplay(write=written.append, draw=None, lock=threading.RLock(),
                                clock=clock)
    quiet_run.stop()
    assert written == []  # a list command prints no "done: 0 files"
    busy = ProgressDisplay(write=written.append, draw=None, lock=threading.RLock(),
                           clock=clock)
    busy(FileDone("a", 3 * MIB // 2))
    busy(BytesMoved(3 * MIB // 2))
    clock.now = 3725.0
    busy.stop()
    assert written == ["upload done a (1.5 MiB)",
                       "done: 1 file, 1.5 MiB in 1:02:05, 422 B/s average"]


# ---------------------------------------------------------------------------------------------
# What sync tells a display


def connection(server: LocalServer) -> list[str]:
    return ["--endpoint-url", server.endpoint_url, "--key", server.access_key,
            "--secret", server.secret_key, "--region", server.region, "--protocol", "http"]


def _settings(server: LocalServer, root: Path, journal: Path, **extra: object) -> Settings:
    return Settings(endpoint_url=server.endpoint_url, region=server.region,
                    access_key=server.access_key, secret_key=server.secret_key,
                    protocol="http", vault=VAULT, journal=journal, dir=root,
                    part_size=MIB, concurrency=1, **extra)  # type: ignore[arg-type]


def _tree(root: Path, sizes: dict[str, int]) -> None:
    for name, size in sizes.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)


@pytest.fixture(autouse=True)
def _vault(request: pytest.FixtureRequest) -> None:
    if "local_server" in request.fixturenames:
        server = request.getfixturevalue("local_server")
        assert main(["create-vault", VAULT, *connection(server), "--quiet"]) == 0


def test_sync_says_when_totals_are_final(local_server: LocalServer, tmp_path: Path) -> None:
    root = tmp_path / "data"
    _tree(root, {f"d{i % 3}/f{i}": 1000 + i for i in range(12)})
    events = Events()
    report = sync(_settings(local_server, root, tmp_path / "j"), events)
    assert report.result.uploaded == 12
    final = events.final_totals()
    assert final == [PlanReady(12, sum(1000 + i for i in range(12)), complete=True)]
    # Before it, every total was a lower bound.
    assert all(not e.complete for e in events.items[:events.items.index(final[0])]
               if isinstance(e, PlanReady))


def test_count_first_gives_final_totals_while_the_first_upload_waits(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    root = tmp_path / "data"
    sizes = {f"d{i % 4}/f{i}": 2000 + i for i in range(40)}
    _tree(root, sizes)
    counted = threading.Event()
    seen: list[ProgressEvent] = []
    held: list[FileStarted] = []

    def on_event(event: ProgressEvent) -> None:
        seen.append(event)
        if isinstance(event, PlanReady) and event.complete:
            counted.set()
        if isinstance(event, FileStarted) and not held:
            # Hold the only upload slot: the real plan cannot run out before the count is in.
            held.append(event)
            counted.wait(20)

    report = sync(_settings(local_server, root, tmp_path / "j"), on_event, count_first=True)
    assert report.result.uploaded == 40
    first = next(e for e in seen if isinstance(e, PlanReady) and e.complete)
    assert first == PlanReady(40, sum(sizes.values()), complete=True)
    assert seen.index(first) < next(i for i, e in enumerate(seen) if isinstance(e, FileDone))


def test_count_first_counts_deletions_and_the_cap(local_server: LocalServer,
                                                   tmp_path: Path) -> None:
    root = tmp_path / "data"
    journal = tmp_path / "j"
    _tree(root, {"keep": 100, "gone1": 200, "gone2": 300})
    assert sync(_settings(local_server, root, journal)).ok
    (root / "gone1").unlink()
    (root / "gone2").unlink()
    _tree(root, {"new": 400})
    events = Events()
    report = sync(_settings(local_server, root, journal, delete_removed=True), events,
                  count_first=True)
    assert (report.result.uploaded, report.result.deleted) == (1, 2)
    assert events.final_totals() == [PlanReady(3, 400, complete=True)] * 2  # count, then the plan
    assert set(read_journal(journal).latest_by_name()) == {"keep", "new"}

    _tree(root, {"a": 10, "b": 20, "c": 30})
    events = Events()
    report = sync(_settings(local_server, root, journal, max_number_of_files=2), events,
                  count_first=True)
    assert report.result.uploaded == 2
    assert [e.files for e in events.final_totals()] == [2, 2]


def test_check_local_hash_and_purge_vault_give_final_totals_up_front(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    from glacierlib.operations.check_local_hash import check_local_hash
    from glacierlib.operations.purge_vault import purge_vault

    root, journal = tmp_path / "data", tmp_path / "j"
    _tree(root, {"a": 100, "b/c": 250})
    assert sync(_settings(local_server, root, journal)).ok
    events = Events()
    check_local_hash(_settings(local_server, root, journal), events)
    assert events.final_totals() == [PlanReady(2, 350, complete=True)]
    assert events.items.index(events.final_totals()[0]) == 0  # before the first file
    events = Events()
    assert purge_vault(_settings(local_server, root, journal), events).result.deleted == 2
    assert events.final_totals() == [PlanReady(2, 0, complete=True)]
    assert isinstance(events.items[0], PlanReady) and events.items[0].complete
