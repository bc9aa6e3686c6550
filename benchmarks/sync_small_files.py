"""Benchmark: many small files through ``mtglacier sync``, files per second.

    python benchmarks/sync_small_files.py --files 5000 --size 4096    # target: >= 300 files/s

Each file is one UploadArchive plus one journal line (fsync on, the default, unless
``--no-fsync``).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from sync_support import local_server, run_cli


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
        assert run.returncode == 0, run.stdout
        lines = Path(f"{tmp}/j.log").read_bytes().count(b"\n")
        assert lines == opts.files, lines
        print(f"{opts.files} files of {opts.size} B, concurrency {opts.concurrency}, fsync "
              f"{'off' if opts.no_fsync else 'on'}: {run.seconds:.2f} s, "
              f"{opts.files / run.seconds:.0f} files/s, peak RSS {run.peak_rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
