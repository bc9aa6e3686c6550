"""Benchmark: the local server's CPU per request in a vault with thousands of retrieval jobs.

    python benchmarks/server_many_jobs.py [--jobs 5000] [--calls 500] [--checkout DIR ...]

A restore of many files starts one job per archive; every later request (DescribeJob while
waiting, InitiateJob for the next file) must not pay for all the jobs already started. The
server runs in a child process from each ``--checkout`` in turn (default: this one), so two
commits are compared side by side in one run (``git archive REV | tar -x -C DIR``). Prints
server CPU milliseconds per InitiateJob over the last thousand jobs, per DescribeJob and per
UploadArchive once the vault holds ``--jobs`` jobs: CPU time read from /proc, so it depends
less on how busy the machine is.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from server_request_cpu import _SERVER, _cpu_seconds


def measure(checkout: Path, jobs: int, calls: int) -> dict[str, float]:
    """Milliseconds of server CPU per request, server code from ``checkout``."""
    from glacierlib.client import Connection, open_store
    from glacierlib.storage import PartBody

    env = dict(os.environ, PYTHONPATH=str(checkout))
    proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        endpoint, region, key, secret = proc.stdout.readline().split()
        store = open_store(Connection(region=region, endpoint_url=endpoint, protocol="http",
                                      access_key=key, secret_key=secret, concurrency=4))
        store.create_vault("bench")
        archive = store.upload_archive("bench", PartBody.from_bytes(b"x" * 1024), "a").archive_id
        out: dict[str, float] = {}
        with ThreadPoolExecutor(4) as pool:

            def start(_: int) -> str:
                return store.initiate_archive_retrieval("bench", archive)

            job_ids = list(pool.map(start, range(jobs - 1000)))
            before = _cpu_seconds(proc.pid)
            job_ids += list(pool.map(start, range(1000)))
            out["InitiateJob"] = (_cpu_seconds(proc.pid) - before) / 1000 * 1000

            def describe(i: int) -> None:
                store.describe_job("bench", job_ids[i % len(job_ids)])

            before = _cpu_seconds(proc.pid)
            list(pool.map(describe, range(calls)))
            out["DescribeJob"] = (_cpu_seconds(proc.pid) - before) / calls * 1000

            def upload(_: int) -> None:
                store.upload_archive("bench", PartBody.from_bytes(b"y" * 4096), "b")

            before = _cpu_seconds(proc.pid)
            list(pool.map(upload, range(calls)))
            out["UploadArchive"] = (_cpu_seconds(proc.pid) - before) / calls * 1000
        store.close()  # type: ignore[attr-defined]
        return out
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--checkout", type=Path, action="append")
    parser.add_argument("--rounds", type=int, default=1)
    opts = parser.parse_args()
    checkouts = opts.checkout or [Path(__file__).resolve().parent.parent]
    for _ in range(opts.rounds):
        results = {c: measure(c, opts.jobs, opts.calls) for c in checkouts}
        for op in ("InitiateJob", "DescribeJob", "UploadArchive"):
            print(f"{op:14}" + "  ".join(f"{c}: {r[op]:.3f} ms" for c, r in results.items()))


if __name__ == "__main__":
    main()
