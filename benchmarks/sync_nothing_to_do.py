"""Benchmark: a sync with nothing to do over N files and an N-line journal.

    python benchmarks/sync_nothing_to_do.py --files 1000000    # target: <= 30 s, <= 1 GB RSS

The tree (1-byte files in directories of 1000) and a matching journal are generated, then
``mtglacier sync`` runs against a local server; it must send no request and append nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from sync_support import local_server, run_cli

HASH = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"  # tree hash of b"1"


def build(root: Path, journal: Path, files: int) -> None:
    now = int(time.time())
    with open(journal, "w", encoding="utf-8") as out:
        for i in range(files):
            rel = f"dir{i // 1000:04d}/file-{i:07d}.txt"
            if i % 1000 == 0:
                (root / rel).parent.mkdir(parents=True)
            path = root / rel
            with open(path, "wb") as handle:
                handle.write(b"1")
            mtime = os.stat(path).st_mtime_ns // 1_000_000_000
            aid = f"{i:012d}" + "A" * 126
            out.write(f"B\t{now}\tCREATED\t{aid}\t1\t{mtime}\t{HASH}\t{rel}\n")


def measure(root: Path, journal: Path, files: int) -> None:
    before = journal.read_bytes()
    with local_server() as server:
        run = run_cli("sync", "--dir", str(root), *server.args(), "--vault", "bench",
                      "--journal", str(journal))
    assert run.returncode == 0, run.stdout
    assert "Uploaded 0 file(s)" in run.stdout, run.stdout
    assert journal.read_bytes() == before
    print(f"nothing-to-do sync over {files} files: {run.seconds:.2f} s, peak RSS "
          f"{run.peak_rss_mib:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=None, help="scratch dir (default: /tmp)")
    parser.add_argument("--keep", type=Path, default=None,
                        help="build the tree here once and reuse it on later runs")
    parser.add_argument("--runs", type=int, default=1)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=opts.work) as tmp:
        base = opts.keep or Path(tmp)
        root = base / "data"
        journal = base / "j.log"
        if not journal.exists():
            root.mkdir(parents=True)
            started = time.perf_counter()
            build(root, journal, opts.files)
            print(f"built {opts.files} files and journal in "
                  f"{time.perf_counter() - started:.1f} s")
        for _ in range(opts.runs):
            measure(root, journal, opts.files)


if __name__ == "__main__":
    main()
