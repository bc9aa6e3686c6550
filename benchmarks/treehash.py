"""Tree hash throughput against hashlib.sha256 over the same cached bytes, side by side.

Prints two ratios measured in one run (machines here are shared and noisy, so only ratios
taken back to back mean anything):

* single thread: ``tree_hash_file(path)`` vs a plain ``hashlib.sha256`` pass reading the same
  file with the same buffer size (target >= 0.95x);
* multi-thread: ``tree_hash_file(path, threads=N)`` vs the single-thread tree hash
  (target >= 1.7x on two cores).

Usage: python benchmarks/treehash.py [--size-mib 1024] [--rounds 3] [--threads N]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

from glacierlib.treehash import MIB, tree_hash_file

CHUNK = 8 * MIB


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while True:
            got = handle.readinto(buffer)
            if not got:
                break
            digest.update(view[:got])
    return digest.hexdigest()


def machine_ceiling(threads: int, mib: int = 256) -> float:
    """How well plain hashlib.sha256 itself scales on this machine: N threads vs one.

    On a shared VM two vCPUs rarely give 2x; this is the upper bound any threaded hash can
    reach here, printed so the tree-hash ratio can be read against it.
    """
    from concurrent.futures import ThreadPoolExecutor

    data = os.urandom(MIB)

    def work(n: int) -> None:
        for _ in range(n):
            hashlib.sha256(data).digest()

    start = time.perf_counter()
    work(mib)
    one = time.perf_counter() - start
    with ThreadPoolExecutor(threads) as pool:
        start = time.perf_counter()
        list(pool.map(work, [mib // threads] * threads))
        many = time.perf_counter() - start
    return one / many


def best_of(rounds: int, func: object) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        func()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.bin"
        block = os.urandom(MIB)
        with open(path, "wb") as handle:
            for _ in range(args.size_mib):
                handle.write(block)
        size = args.size_mib * MIB
        sha256_file(path)  # warm the page cache

        # Interleave the contenders round by round so drift on a shared box hits all alike.
        t_sha = t_tree = t_multi = float("inf")
        for _ in range(args.rounds):
            t_sha = min(t_sha, best_of(1, lambda: sha256_file(path)))
            t_tree = min(t_tree, best_of(1, lambda: tree_hash_file(path)))
            t_multi = min(t_multi, best_of(1, lambda: tree_hash_file(path, threads=args.threads)))

    ceiling = machine_ceiling(args.threads)
    mb = size / 1e6
    print(f"file: {args.size_mib} MiB cached, best of {args.rounds} rounds, cpus={os.cpu_count()}")
    print(f"hashlib.sha256 (1 thread) : {mb / t_sha:8.1f} MB/s")
    print(f"tree hash      (1 thread) : {mb / t_tree:8.1f} MB/s")
    print(f"tree hash ({args.threads} threads)     : {mb / t_multi:8.1f} MB/s")
    print(f"ratio single-thread tree/sha256 : {t_sha / t_tree:.3f}x (target >= 0.95)")
    n = args.threads
    print(f"ratio {n}-thread tree/1-thread tree : {t_tree / t_multi:.3f}x (target >= 1.7)")
    print(f"machine ceiling: in-memory hashlib.sha256 on {args.threads} threads = {ceiling:.3f}x")


if __name__ == "__main__":
    main()
