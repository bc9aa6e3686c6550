"""``--wait`` and ``--max-retrieval-rate`` against the local server's clock (real botocore).

Jobs take an hour of the server's simulated clock; the tests drive that clock through the
control plane, either from a :class:`SimClock` handed to the library (whose ``sleep`` advances
the server) or between CLI runs, so nothing here waits for real hours.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from glacierlib.config import Settings
from glacierlib.localserver import LocalServer, ServerConfig, running_server
from glacierlib.operations.restore import restore
from glacierlib.pacing import RetrievalRate, parse_rate, schedule
from glacierlib.progress import ProgressEvent, Waiting
from glacierlib.waiting import (
    WaitPolicy,
    WaitStatus,
    WaitTimedOut,
    parse_duration,
    positive_duration,
    wait_for,
)
from tests.conftest import make_glacier_client
from tests.restore_support import (
    VAULT,
    connection_args,
    files_in,
    pattern,
    run_cli,
    seed_vault,
    server_store,
)

HOUR = 3600.0
ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


@pytest.fixture
def slow_server() -> Iterator[LocalServer]:
    """Every job takes an hour of the server's clock."""
    with running_server(config=ServerConfig().with_job_delay(HOUR)) as server:
        yield server


class SimClock:
    """The run's clock: ``sleep`` advances it and the server's clock by the same amount."""

    def __init__(self, server: LocalServer, start: float) -> None:
        self.server = server
        self.t = start
        self.sleeps: list[float] = []
        self.interrupt_after: int | None = None

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        if self.interrupt_after is not None and len(self.sleeps) >= self.interrupt_after:
            raise KeyboardInterrupt
        self.sleeps.append(seconds)
        self.t += seconds
        self.server.control.advance_clock(seconds)


def _settings(server: LocalServer, tmp_path: Path, **kw: object) -> Settings:
    return Settings(
        access_key=server.access_key, secret_key=server.secret_key, region=server.region,
        endpoint_url=server.endpoint_url, vault=VAULT, journal=tmp_path / "journal",
        dir=tmp_path / "restored", max_number_of_files=100, fsync=False, **kw,
    )


def _jobs(server: LocalServer) -> list[str]:
    with server_store(server) as store:
        return [j.job_id for j in store.list_jobs(VAULT) if j.action == "ArchiveRetrieval"]


FILES = {"a.bin": pattern(3000, 1), "b/c.bin": pattern(70000, 2), "d.bin": pattern(5, 3)}


def test_restore_wait_downloads_everything_in_one_run(
        slow_server: LocalServer, tmp_path: Path) -> None:
    seed_vault(slow_server, tmp_path / "journal", FILES)
    clock = SimClock(slow_server, 1e9)
    events: list[ProgressEvent] = []
    report = restore(_settings(slow_server, tmp_path, wait=True), events.append, clock=clock)
    assert report.ok and len(report.initiated) == 3
    assert report.downloads is not None and len(report.downloads.downloaded) == 3
    assert files_in(tmp_path / "restored") == FILES
    waits = [e for e in events if isinstance(e, Waiting)]
    # The first check comes after the Standard default (15 min), then the interval doubles.
    assert waits[0].pending == 3 and waits[0].done == 0 and waits[0].next_check == 900
    assert clock.sleeps[:3] == [900, 1800, 3600][: len(clock.sleeps[:3])]


def test_timeout_exits_75_and_rerun_finishes_without_a_second_job(
        slow_server: LocalServer, tmp_path: Path) -> None:
    seed_vault(slow_server, tmp_path / "journal", FILES)
    args = ("restore", "--dir", tmp_path / "restored", "--vault", VAULT, "--journal",
            tmp_path / "journal", "--max-number-of-files", "10", "--wait",
            "--wait-timeout", "0.3s", "--poll-interval", "0.05s")
    first = run_cli(slow_server, *args)
    assert first.code == 75, first.err
    assert "--wait-timeout passed with 3 retrieval job(s) still pending" in first.err
    jobs = _jobs(slow_server)
    assert len(jobs) == 3
    slow_server.control.advance_clock(HOUR)
    second = run_cli(slow_server, *args)
    assert second.code == 0, second.err
    assert sorted(_jobs(slow_server)) == sorted(jobs)  # never a second paid retrieval
    assert files_in(tmp_path / "restored") == FILES


def test_interrupt_mid_wait_then_rerun_reuses_the_jobs(
        slow_server: LocalServer, tmp_path: Path) -> None:
    seed_vault(slow_server, tmp_path / "journal", FILES)
    clock = SimClock(slow_server, 1e9)
    clock.interrupt_after = 1  # Ctrl-C during the second sleep
    with pytest.raises(KeyboardInterrupt):
        restore(_settings(slow_server, tmp_path, wait=True), clock=clock)
    jobs = _jobs(slow_server)
    assert len(jobs) == 3
    clock.interrupt_after = None
    report = restore(_settings(slow_server, tmp_path, wait=True), clock=clock)
    assert report.initiated == () and len(report.plan.skipped) == 3
    assert sorted(_jobs(slow_server)) == sorted(jobs)
    assert files_in(tmp_path / "restored") == FILES


def test_restore_completed_wait(slow_server: LocalServer, tmp_path: Path) -> None:
    seed_vault(slow_server, tmp_path / "journal", FILES)
    assert run_cli(slow_server, "restore", "--dir", tmp_path / "restored", "--vault", VAULT,
                   "--journal", tmp_path / "journal", "--max-number-of-files", "10").code == 0
    common = ("restore-completed", "--dir", tmp_path / "restored", "--vault", VAULT,
              "--journal", tmp_path / "journal")
    assert run_cli(slow_server, *common).code == 75  # without --wait: as before
    slow_server.control.advance_clock(HOUR - 3)
    done = run_cli(slow_server, *common, "--wait", "--poll-interval", "0.5s")
    assert done.code == 0, done.err
    assert "waiting: 3 pending, 0 ready, 0 done" in done.out + done.err
    assert files_in(tmp_path / "restored") == FILES


def test_pacing_spreads_jobs_across_a_simulated_day(
        slow_server: LocalServer, tmp_path: Path) -> None:
    files = {f"f{i:02d}": pattern(MIB, i) for i in range(12)}
    seed_vault(slow_server, tmp_path / "journal", files)
    clock = SimClock(slow_server, 2e9)
    start = clock.now()
    rate = parse_rate("6M/d")  # six 1 MiB archives a day: one every 4 hours
    report = restore(_settings(slow_server, tmp_path, wait=True, max_retrieval_rate=rate),
                     clock=clock)
    assert report.ok and len(report.initiated) == 12
    times = [j.initiated_at - start for j in report.initiated]
    assert times == [i * 4 * HOUR for i in range(12)]
    for t in times:  # no day-long window holds more than the budget
        assert sum(MIB for u in times if t <= u < t + 86400) <= rate.budget
    assert files_in(tmp_path / "restored") == files


def test_pacing_without_wait_defers_the_rest_with_exit_75(
        slow_server: LocalServer, tmp_path: Path) -> None:
    seed_vault(slow_server, tmp_path / "journal", FILES)
    res = run_cli(slow_server, "restore", "--dir", tmp_path / "restored", "--vault", VAULT,
                  "--journal", tmp_path / "journal", "--max-number-of-files", "10",
                  "--max-retrieval-rate", "100K/h")
    assert res.code == 75, res.err
    assert len(_jobs(slow_server)) == 1  # a.bin (3000 bytes); b/c.bin must wait 105 s
    assert "Deferred by the retrieval budget: 2 archive(s)" in res.out


def test_retrieval_policy_refusal_line(local_server: LocalServer, tmp_path: Path) -> None:
    seed_vault(local_server, tmp_path / "journal", FILES)
    make_glacier_client(local_server).set_data_retrieval_policy(
        accountId="-", Policy={"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": 4000}]})
    res = run_cli(local_server, "restore", "--dir", tmp_path / "restored", "--vault", VAULT,
                  "--journal", tmp_path / "journal", "--max-number-of-files", "10")
    assert res.code == 1
    assert ("ERROR: b/c.bin: 70000 bytes is more than the retrieval budget allows "
            "(4000 bytes per hour)") in res.err
    assert "the data retrieval policy allows 4000 bytes per hour" in res.out + res.err


def test_dry_run_says_how_long_the_pace_takes(tmp_path: Path, local_server: LocalServer) -> None:
    seed_vault(local_server, tmp_path / "journal", {f"f{i}": pattern(MIB, i) for i in range(3)})
    res = run_cli(None, "restore", "--dir", tmp_path / "restored", "--vault", VAULT,
                  "--journal", tmp_path / "journal", "--max-number-of-files", "10",
                  "--dry-run", "--max-retrieval-rate", "1M/h")
    assert res.code == 0, res.err
    assert "the last job starts after 2:00:00" in res.out


def test_schedule_and_parsers() -> None:
    assert parse_rate("1G/h") == RetrievalRate(1024**3, 3600)
    assert parse_rate("20G/d") == RetrievalRate(20 * 1024**3, 86400)
    assert parse_rate("500M").window == 3600
    assert parse_duration("90m") == 5400 and parse_duration("2d") == 172800
    with pytest.raises(ValueError):
        parse_rate("fast")
    assert parse_duration("0s") == 0 and parse_duration("15min") == 900
    with pytest.raises(ValueError):
        positive_duration("0s")
    with pytest.raises(ValueError):
        parse_duration("-5m")
    assert schedule([RetrievalRate(100, 3600)], [50, 50, 200, 100]) == [0, 1800, None, 5400]


def test_wait_for_backs_off_and_times_out() -> None:
    class Clock:
        def __init__(self) -> None:
            self.t = 0.0
            self.slept: list[float] = []

        def now(self) -> float:
            return self.t

        def sleep(self, s: float) -> None:
            self.slept.append(s)
            self.t += s

    clock = Clock()
    calls: list[int] = []

    def step() -> WaitStatus:
        calls.append(1)
        assert len(calls) < 20, "the timeout never came"
        return WaitStatus(1)

    with pytest.raises(WaitTimedOut):
        wait_for(step, WaitPolicy(10, 40, timeout=100), clock=clock)
    assert clock.slept == [10, 20, 40, 30]


def _inventory_jobs(server: LocalServer) -> list[str]:
    with server_store(server) as store:
        return [j.job_id for j in store.list_jobs(VAULT) if j.action == "InventoryRetrieval"]


def test_retrieve_inventory_wait_times_out_then_rerun_reuses_the_job(
        slow_server: LocalServer, tmp_path: Path) -> None:
    seed_vault(slow_server, tmp_path / "journal", FILES)
    slow_server.control.take_inventory(VAULT)
    args = ("retrieve-inventory", "--vault", VAULT, "--wait", "--poll-interval", "0.05s")
    first = run_cli(slow_server, *args, "--wait-timeout", "0.3s")
    assert first.code == 75, first.err
    assert "--wait-timeout passed with 1 inventory job(s) still pending" in first.err
    jobs = _inventory_jobs(slow_server)
    assert len(jobs) == 1
    slow_server.control.advance_clock(HOUR)
    second = run_cli(slow_server, *args, "--new-journal", tmp_path / "new", "--wait-timeout", "5s")
    assert second.code == 0, second.err
    assert _inventory_jobs(slow_server) == jobs
    assert f"Retrieved Inventory, job id {jobs[0]} (JSON), finished" in second.out
    assert "Wrote 3 archive(s)" in second.out
    assert len((tmp_path / "new").read_text().splitlines()) == 3


def test_download_inventory_wait_starts_a_job_and_waits(
        slow_server: LocalServer, tmp_path: Path) -> None:
    from glacierlib.operations.inventory import download_inventory

    seed_vault(slow_server, tmp_path / "journal", FILES)
    slow_server.control.take_inventory(VAULT)
    new = tmp_path / "new"
    assert run_cli(slow_server, "download-inventory", "--vault", VAULT, "--new-journal",
                   new).code == 75  # without --wait: as before, and no job started
    assert _inventory_jobs(slow_server) == []
    clock = SimClock(slow_server, 1e9)
    events: list[ProgressEvent] = []
    report = download_inventory(_settings(slow_server, tmp_path, wait=True, new_journal=new),
                                events.append, clock=clock)
    assert report.archives == 3 and len(_inventory_jobs(slow_server)) == 1
    assert clock.sleeps[0] == 1800  # inventories: the first check after 30 minutes
    assert [e.pending for e in events if isinstance(e, Waiting)] == [1] * len(clock.sleeps)


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_mid_wait_stops_cleanly_and_a_rerun_continues(
        slow_server: LocalServer, tmp_path: Path, sig: int, code: int) -> None:
    """The real CLI in a child process, sleeping in the wait: the signal ends it at once."""
    seed_vault(slow_server, tmp_path / "journal", FILES)
    args = ["restore", "--dir", str(tmp_path / "restored"), "--vault", VAULT, "--journal",
            str(tmp_path / "journal"), "--max-number-of-files", "10", "--wait",
            "--poll-interval", "1h", *connection_args(slow_server)]
    child = subprocess.Popen(
        [sys.executable, "-m", "glacierlib_cli", *args], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert child.stderr is not None
        lines = []
        for line in child.stderr:  # wait until the child sleeps for its next check
            lines.append(line)
            if line.startswith("waiting: 3 pending"):
                break
        assert "next check in 1:00:00" in lines[-1], lines
        time.sleep(0.5)  # let it reach the sleep: the signal must end the sleep itself
        child.send_signal(sig)
        _out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == code, err
    assert "Traceback" not in err
    jobs = _jobs(slow_server)
    assert len(jobs) == 3
    slow_server.control.advance_clock(HOUR)
    rerun = run_cli(slow_server, *args[:-len(connection_args(slow_server))])
    assert rerun.code == 0, rerun.err
    assert sorted(_jobs(slow_server)) == sorted(jobs)
    assert files_in(tmp_path / "restored") == FILES


def test_an_unreadable_retrieval_policy_is_a_warning_not_a_failure(
        local_server: LocalServer, tmp_path: Path) -> None:
    seed_vault(local_server, tmp_path / "journal", FILES)
    local_server.control.inject_fault("GetDataRetrievalPolicy", "error", 1, status=403,
                                      code="AccessDeniedException")
    res = run_cli(local_server, "restore", "--dir", tmp_path / "restored", "--vault", VAULT,
                  "--journal", tmp_path / "journal", "--max-number-of-files", "10")
    assert res.code == 0, res.err
    assert "WARNING: could not read the data retrieval policy" in res.err
    assert len(_jobs(local_server)) == 3
