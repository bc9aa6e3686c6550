"""Benchmark: download-inventory's parse-and-write path on a 1,000,000-archive inventory.

Generates an inventory body the way Glacier writes it (138-character archive ids, mt2
descriptions, AWS dates), in JSON and in Amazon's CSV dialect, then runs the same code
``download-inventory`` runs on the job output (``open_inventory`` + ``inventory_to_journal``)
in a fresh child process per format, reading the body from a file and writing the journal to
a file. The child reports wall time and its own peak RSS (``VmHWM``), so the figure is not
inflated by the generator.

    python benchmarks/inventory_parse.py [--archives 1000000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _description(i: int) -> str:
    payload = json.dumps({"filename": f"photos/{i // 1000:04d}/IMG_{i:07d}.jpg",
                          "mtime": "20240102T030405Z"}, separators=(",", ":"))
    return "mt2 " + base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def _archive_id(i: int) -> str:
    return (f"{i:012d}" + "A1b2C3d4E5f6G7h8I9j0-_" * 6)[:138]


def generate(path: Path, count: int, fmt: str) -> None:
    tree_hash = "0123456789abcdef" * 4
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
        if fmt == "json":
            out.write('{"VaultARN":"arn:aws:glacier:us-east-1:012345678901:vaults/bench",'
                      '"InventoryDate":"2026-11-25T10:00:00Z","ArchiveList":[')
            for i in range(count):
                if i:
                    out.write(",")
                out.write(json.dumps({
                    "ArchiveId": _archive_id(i), "ArchiveDescription": _description(i),
                    "CreationDate": "2026-11-24T09:08:07.123Z", "Size": 1000 + i,
                    "SHA256TreeHash": tree_hash,
                }, separators=(",", ":")))
            out.write("]}")
        else:
            out.write("ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n")
            for i in range(count):
                out.write(f'{_archive_id(i)},"{_description(i)}",2026-11-24T09:08:07.123Z,'
                          f"{1000 + i},{tree_hash}\n")


def child(body: str, fmt: str, journal: str) -> None:
    from glacierlib.inventory import open_inventory
    from glacierlib.operations.inventory import inventory_to_journal

    start = time.perf_counter()
    with open(body, "rb") as stream, open(journal, "wb", buffering=1 << 20) as out:
        reader = open_inventory(stream, format="JSON" if fmt == "json" else "CSV")
        written, _fallbacks, fallback_count, _unsafe = inventory_to_journal(reader, out)
    elapsed = time.perf_counter() - start
    # VmHWM is this process's own peak; ru_maxrss would also count a parent's size at exec.
    with open("/proc/self/status") as status:
        peak_kib = next(int(x.split()[1]) for x in status if x.startswith("VmHWM:"))
    print(json.dumps({"format": fmt, "archives": written, "fallbacks": fallback_count,
                      "seconds": round(elapsed, 2), "peak_rss_mb": round(peak_kib / 1024, 1),
                      "body_mb": round(os.path.getsize(body) / 1e6, 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archives", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, default=None)
    parser.add_argument("--child", nargs=3, metavar=("BODY", "FORMAT", "JOURNAL"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for fmt in ("json", "csv"):
            body = work / f"inventory.{fmt}"
            if not body.exists():
                started = time.perf_counter()
                generate(body, args.archives, fmt)
                print(f"generated {body} in {time.perf_counter() - started:.1f}s",
                      file=sys.stderr)
            result = subprocess.run(
                [sys.executable, __file__, "--child", str(body), fmt, str(work / "journal")],
                check=True, capture_output=True, text=True,
            )
            print(result.stdout.strip())


if __name__ == "__main__":
    main()
