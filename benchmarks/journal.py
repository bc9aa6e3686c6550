"""Load time and peak memory of a 1,000,000-record version-B journal.

Generates the journal in a temporary directory (CREATED lines with 138-character archive ids
like Glacier's, every tenth archive later DELETED, a few RETRIEVE_JOB lines), then loads it in
fresh subprocesses (peak memory is the child's own VmHWM), three ways, side by side:

* full parse: no index, as on the first run or after the journal was replaced;
* indexed: ``<journal>.index`` written by the last writer (what every later run sees);
* indexed + tail: the index plus 1,000 lines appended after it (by another tool).

Prints figures; asserts nothing.

    python benchmarks/journal.py [--records N] [--runs N]

Wall time depends on what else runs on the machine; the CPU time of the loading process is
printed beside it because it does not.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
from glacierlib.journal import read_journal
t0 = time.perf_counter()
c0 = time.process_time()
state = read_journal(sys.argv[1])
load = time.perf_counter() - t0
cpu = time.process_time() - c0
t1 = time.perf_counter()
latest = state.latest_by_name()
index = time.perf_counter() - t1
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
peak = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"load": load, "cpu": cpu, "index": index, "live": len(state.archives),
                  "names": len(latest), "records": state.records, "maxrss_kib": peak,
                  "indexed": state._indexed_size > 0}))
"""


def generate(path: Path, records: int, seed: int = 1) -> None:
    """Write ``records`` lines: ~90% CREATED, ~10% DELETED of earlier ones, a few jobs."""
    rng = random.Random(seed)
    start = 1_700_000_000
    live: list[tuple[str, str]] = []
    with open(path, "wb") as f:
        lines: list[str] = []
        for i in range(records):
            t = start + i // 50
            if i % 10 == 9 and live:
                aid, name = live.pop(rng.randrange(len(live)))
                lines.append(f"B\t{t}\tDELETED\t{aid}\t{name}\n")
            elif i % 1000 == 500 and live:
                lines.append(f"B\t{t}\tRETRIEVE_JOB\t{live[-1][0]}\t{'J' * 92}\n")
            else:
                aid = base64.urlsafe_b64encode(rng.randbytes(103)).decode()[:138]
                name = f"photos/{i % 977:03d}/IMG_{i:07d}.jpg"
                th = hashlib.sha256(aid.encode()).hexdigest()
                size = rng.randrange(1, 50_000_000)
                lines.append(f"B\t{t}\tCREATED\t{aid}\t{size}\t{t - 86400}\t{th}\t{name}\n")
                live.append((aid, name))
            if len(lines) >= 100_000:
                f.write("".join(lines).encode())
                lines.clear()
        f.write("".join(lines).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "journal.log"
        t0 = time.perf_counter()
        generate(path, args.records)
        print(f"generated {args.records:,} records, {path.stat().st_size / 1e6:.1f} MB "
              f"in {time.perf_counter() - t0:.1f} s")
        full = measure(path, args.runs, "full parse")
        t0 = time.perf_counter()
        from glacierlib.journal import JournalWriter

        JournalWriter.open(path, fsync=False).close()  # what every sync does when it ends
        index = Path(str(path) + ".index")
        print(f"index written in {time.perf_counter() - t0:.2f} s "
              f"(opening the journal included), {index.stat().st_size / 1e6:.1f} MB")
        indexed = measure(path, args.runs, "indexed")
        with open(path, "ab") as f:
            for i in range(1000):
                f.write(f"B\t1800000000\tCREATED\tTAIL{i:06d}\t7\tNONE\t{'0' * 64}\t"
                        f"tail/{i}.txt\n".encode())
        tail = measure(path, args.runs, "indexed + 1,000 appended lines")
        print(f"ratio full parse / indexed load: {full['load'] / indexed['load']:.1f}x wall, "
              f"{full['cpu'] / indexed['cpu']:.1f}x CPU (tail case {tail['load']:.3f} s)")


def measure(path: Path, runs: int, label: str) -> dict[str, float]:
    best: dict[str, float] | None = None
    for run in range(runs):
        out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], check=True,
                             capture_output=True, text=True, env=dict(os.environ)).stdout
        r = json.loads(out)
        print(f"{label} run {run + 1}: load {r['load']:.3f} s wall, {r['cpu']:.3f} s CPU "
              f"({r['records'] / r['load']:,.0f} records/s), index used: {r['indexed']}, "
              f"latest_by_name {r['index']:.3f} s, live {r['live']:,}, "
              f"peak RSS {r['maxrss_kib'] / 1024:.0f} MiB")
        if best is None or r["load"] < best["load"]:
            best = r
    assert best is not None
    print(f"{label}: best load {best['load']:.3f} s wall ({best['cpu']:.3f} s CPU) for "
          f"{best['records']:,} records; peak RSS {best['maxrss_kib'] / 1024:.0f} MiB")
    return best

if __name__ == "__main__":
    main()
