"""Benchmark: many small files through ``mtglacier sync``, files per second.

    python benchmarks/sync_small_files.py --files 5000 --size 4096    # target: >= 300 files/s

Each file is one UploadArchive plus one journal line (fsync on, the default, unless
``--no-fsync``).

For scale, the same run then measures bare ``upload_archive`` calls from one process with
``--concurrency`` threads (no walk, journal or progress): botocore's CPU per request caps
that single process, which is why sync sends small uploads from helper processes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sync_support import Server, local_server, run_cli


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--no-fsync", action="store_true")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "data"
        for i in range(opts.files):
            d = root / f"d{i // 500:03d}"
            if i % 500 == 0:
                d.mkdir(parents=True)
            (d / f"f{i:06d}.txt").write_bytes(os.urandom(opts.size))
        with local_server() as server:
            assert run_cli("create-vault", "bench", *server.args()).returncode == 0
            run = run_cli("sync", "--dir", str(root), *server.args(), "--vault", "bench",
                          "--journal", f"{tmp}/j.log", "--concurrency", str(opts.concurrency),
                          *(["--no-fsync"] if opts.no_fsync else []))
            bare = one_process_calls(server, opts.size, opts.concurrency)
        assert run.returncode == 0, run.stdout
        lines = Path(f"{tmp}/j.log").read_bytes().count(b"\n")
        assert lines == opts.files, lines
        print(f"{opts.files} files of {opts.size} B, concurrency {opts.concurrency}, fsync "
              f"{'off' if opts.no_fsync else 'on'}: {run.seconds:.2f} s, "
              f"{opts.files / run.seconds:.0f} files/s, peak RSS {run.peak_rss_mib:.0f} MiB")
    print(f"one process, {opts.concurrency} threads, bare upload_archive calls: {bare:.0f}/s; "
          f"the sync reached {opts.files / run.seconds / bare:.2f}x that")


def one_process_calls(server: Server, size: int, threads: int, calls: int = 2000) -> float:
    """Calls per second of ``upload_archive`` alone, from this one process."""
    from glacierlib.client import Connection, open_store
    from glacierlib.storage import PartBody

    store = open_store(Connection(region=server.region, endpoint_url=server.endpoint_url,
                                  protocol="http", access_key=server.key,
                                  secret_key=server.secret, concurrency=threads))
    data = os.urandom(size)

    def upload(_: int) -> None:
        store.upload_archive("bench", PartBody.from_bytes(data), "bare")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(upload, range(50)))
        started = time.perf_counter()
        list(pool.map(upload, range(calls)))
        elapsed = time.perf_counter() - started
    store.close()
    return calls / elapsed


if __name__ == "__main__":
    main()
