"""Benchmark: what counting ahead (``sync(count_first=True)``, on a terminal) costs a sync.

    python benchmarks/sync_count_first.py --files 3000 --size 1024

A fresh vault and journal per run; runs alternate without and with the count so both see the
same machine load. Prints the median wall time of each and their ratio side by side, and how
long after the start the final totals were known with the count (without it they come when the
plan runs out, near the end).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from glacierlib.config import Settings
from glacierlib.localserver import ServerConfig, running_server
from glacierlib.operations.sync import sync
from glacierlib.progress import PlanReady, ProgressEvent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=3000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    opts = parser.parse_args()
    times: dict[bool, list[float]] = {False: [], True: []}
    known: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        for i in range(opts.files):
            d = root / f"d{i // 500:03d}"
            d.mkdir(parents=True, exist_ok=True)
            (d / f"f{i:06d}.txt").write_bytes(os.urandom(opts.size))
        with running_server(config=ServerConfig()) as server:
            run = 0
            for _ in range(opts.repeat):
                for count_first in (False, True):
                    run += 1
                    vault = f"bench{run}"
                    settings = Settings(
                        endpoint_url=server.endpoint_url, region=server.region,
                        access_key=server.access_key, secret_key=server.secret_key,
                        protocol="http", vault=vault, journal=Path(tmp) / f"j{run}", dir=root,
                        concurrency=4, fsync=False)
                    from glacierlib.operations.vaults import create_vault

                    create_vault(settings, vault)
                    start = time.perf_counter()
                    first: list[float] = []

                    def on_event(event: ProgressEvent, first: list[float] = first,
                                 start: float = start) -> None:
                        if isinstance(event, PlanReady) and event.complete and not first:
                            first.append(time.perf_counter() - start)

                    report = sync(settings, on_event, count_first=count_first)
                    times[count_first].append(time.perf_counter() - start)
                    known[count_first].append(first[0])
                    assert report.result.uploaded == opts.files
    without, with_count = statistics.median(times[False]), statistics.median(times[True])
    print(f"{opts.files} files of {opts.size} B, median of {opts.repeat}:")
    for label, key in (("without count", False), ("with count   ", True)):
        runs = " ".join(f"{t:.2f}" for t in times[key])
        print(f"  {label}: {statistics.median(times[key]):.2f} s ({runs}), totals final "
              f"after {statistics.median(known[key]):.2f} s")
    print(f"  ratio with/without: {with_count / without:.3f}")


if __name__ == "__main__":
    main()
