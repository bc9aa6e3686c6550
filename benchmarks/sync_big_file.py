"""Benchmark: one big file through ``mtglacier sync``, MB/s and the client's peak RSS.

    python benchmarks/sync_big_file.py --size-mib 1024            # issue target: >= 300 MB/s
    python benchmarks/sync_big_file.py --size-mib 10240           # RSS <= 100 MB + c x part size

Loopback, local server (in memory) in another process. The bound checked is the issue's:
peak RSS <= 100 MiB + concurrency x part size.

Glacier makes every byte cost four SHA-256 passes on one machine: the client's linear hash
(signed as ``x-amz-content-sha256``) and tree hash, and the server checking both. The run
also measures that floor here, in the same process and moment: four SHA-256 passes over the
same number of bytes spread over every CPU, with no I/O, HTTP or Python around them. The
ratio of the two is the figure to compare between machines.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sync_support import local_server, make_file, run_cli


def hashing_ceiling(size: int, passes: int = 4) -> float:
    """MB/s of ``size`` bytes when each needs ``passes`` SHA-256 passes on every CPU at once."""
    block = os.urandom(16 << 20)
    blocks = passes * max(1, size // len(block))
    workers = os.cpu_count() or 1

    def work(count: int) -> None:
        for _ in range(count):
            hashlib.sha256(block).digest()  # releases the GIL: threads use every core

    shares = [blocks // workers + (i < blocks % workers) for i in range(workers)]
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, shares))
    return (blocks // passes) * len(block) / (time.perf_counter() - started) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--partsize", type=int, default=16)
    parser.add_argument("--work", type=Path, default=None, help="scratch dir (default: /tmp)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=opts.work) as tmp:
        root = Path(tmp) / "data"
        root.mkdir()
        size = opts.size_mib << 20
        make_file(root / "big.bin", size)
        with local_server() as server:
            base = [*server.args(), "--vault", "bench", "--journal", f"{tmp}/j.log"]
            assert run_cli("create-vault", "bench", *server.args()).returncode == 0
            run = run_cli("sync", "--dir", str(root), *base, "--concurrency",
                          str(opts.concurrency), "--partsize", str(opts.partsize), "--no-fsync")
        assert run.returncode == 0, run.stdout
        bound = 100 + opts.concurrency * opts.partsize
        print(f"size {opts.size_mib} MiB, concurrency {opts.concurrency}, part "
              f"{opts.partsize} MiB: {run.seconds:.2f} s, {size / run.seconds / 1e6:.0f} MB/s, "
              f"peak RSS {run.peak_rss_mib:.0f} MiB (bound {bound} MiB: "
              f"{'ok' if run.peak_rss_mib <= bound else 'EXCEEDED'})")
    ceiling = hashing_ceiling(size)
    print(f"hashing floor on this machine (4 SHA-256 passes per byte, {os.cpu_count()} CPUs, "
          f"nothing else): {ceiling:.0f} MB/s; the sync reached "
          f"{size / run.seconds / 1e6 / ceiling:.0%} of it")


if __name__ == "__main__":
    main()
