"""Benchmark: the local server's CPU time per small UploadArchive, read from /proc.

    python benchmarks/server_request_cpu.py [--calls 2000] [--checkout DIR ...]

The server runs in a child process from each ``--checkout`` in turn (default: this one), so
two commits can be compared side by side in one run (``git archive REV | tar -x -C DIR``);
the client (this checkout, 4 threads) is the same for all. CPU time, not wall time: it does
not depend on how busy the machine is as much.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_SERVER = """
import sys
from glacierlib.localserver import running_server
with running_server(None) as s:
    print(s.endpoint_url, s.region, s.access_key, s.secret_key, flush=True)
    sys.stdin.read()
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(checkout: Path, calls: int) -> float:
    """Milliseconds of server CPU per 4 KiB UploadArchive, server code from ``checkout``."""
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
        data = os.urandom(4096)

        def upload(_: int) -> None:
            store.upload_archive("bench", PartBody.from_bytes(data), "bench")

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(upload, range(100)))
            before = _cpu_seconds(proc.pid)
            list(pool.map(upload, range(calls)))
            after = _cpu_seconds(proc.pid)
        store.close()  # type: ignore[attr-defined]
        return (after - before) / calls * 1000
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--checkout", type=Path, action="append")
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    checkouts = opts.checkout or [Path(__file__).resolve().parent.parent]
    for _ in range(opts.rounds):
        print("  ".join(f"{c}: {measure(c, opts.calls):.3f} ms" for c in checkouts))


if __name__ == "__main__":
    main()
