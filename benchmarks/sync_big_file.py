"""Benchmark: one big file through ``mtglacier sync``, MB/s and the client's peak RSS.

    python benchmarks/sync_big_file.py --size-mib 1024            # issue target: >= 300 MB/s
    python benchmarks/sync_big_file.py --size-mib 10240           # RSS <= 100 MB + c x part size
    python benchmarks/sync_big_file.py --checkout /tmp/old --checkout .   # before/after

Loopback, for each ``--checkout`` (default: this one) and each store side by side: a
``local-server`` process in memory, the same on disk, and the whole user command
``mtglacier sync --local DIR`` as one process. The bound checked is the issue's: peak RSS
<= 100 MiB + concurrency x part size. The first line says which CPU ran it, with or without
SHA extensions (``sha_ni``), since the floor depends on it.

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
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sync_support import Run, cpu_flags, local_server, make_file, run_cli


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
    parser.add_argument("--checkout", type=Path, action="append",
                        help="run the CLI and server from this source tree (repeatable)")
    opts = parser.parse_args()
    checkouts: list[Path | None] = list(opts.checkout or [None])
    size = opts.size_mib << 20
    bound = 100 + opts.concurrency * opts.partsize
    print(f"{cpu_flags()}; size {opts.size_mib} MiB, concurrency {opts.concurrency}, part "
          f"{opts.partsize} MiB")
    with tempfile.TemporaryDirectory(dir=opts.work) as tmp:
        root = Path(tmp) / "data"
        root.mkdir()
        make_file(root / "big.bin", size)
        # The machine may be shared: the floor is measured right before and after each run
        # and the run is compared with their mean; stores and checkouts are interleaved.
        floor_size = min(size, 256 << 20)
        for store in ("memory", "disk", "--local"):
            for checkout in checkouts:
                work = Path(tempfile.mkdtemp(dir=tmp))
                before = hashing_ceiling(floor_size)
                run = _sync(root, work, store, opts, checkout)
                floor = (before + hashing_ceiling(floor_size)) / 2
                rate = size / run.seconds / 1e6
                print(f"{checkout or 'this checkout'}, {store}: {run.seconds:.2f} s, "
                      f"{rate:.0f} MB/s = {rate / floor:.2f}x the floor of {floor:.0f} MB/s "
                      f"(4 SHA-256 passes per byte on every CPU, measured around the run); "
                      f"client peak RSS {run.peak_rss_mib:.0f} MiB (bound {bound} MiB: "
                      f"{'ok' if run.peak_rss_mib <= bound else 'EXCEEDED'})")
                shutil.rmtree(work)


def _sync(root: Path, work: Path, store: str, opts: argparse.Namespace,
          checkout: Path | None) -> Run:
    common = ["--vault", "bench", "--journal", str(work / "j.log"), "--concurrency",
              str(opts.concurrency), "--partsize", str(opts.partsize), "--no-fsync"]
    if store == "--local":
        run = run_cli("sync", "--dir", str(root), "--local", str(work / "local"), *common,
                      checkout=checkout)
    else:
        with local_server(work / "server" if store == "disk" else None, checkout) as server:
            assert run_cli("create-vault", "bench", *server.args(),
                           checkout=checkout).returncode == 0
            run = run_cli("sync", "--dir", str(root), *server.args(), *common,
                          checkout=checkout)
    assert run.returncode == 0, run.stdout
    return run


if __name__ == "__main__":
    main()
