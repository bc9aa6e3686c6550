"""Load time of a 1,000,000-record version-B journal: this tree against an older journal.py.

Generates the journal in a temporary directory (CREATED lines with 138-character archive ids
like Glacier's, every tenth archive later DELETED, a few RETRIEVE_JOB lines), then, in fresh
subprocesses, alternating old and new on each run, measures side by side:

* **cold**: ``read_journal`` with no ``<journal>.index``, then ``latest_by_name()`` (what
  restore and check-local-hash need to look files up by name), and the sum of both;
* **warm**: the same after a writer saved the index (what every later run sees);
* **warm + tail**: the index plus 1,000 lines appended after it by another tool;
* the first cold read of the new code, which also saves the index (readers do now);
* the cost of proving an index matches: hashing the whole journal (SHA-1), against a parse.

Also printed, outside the totals: building an ``ArchiveEntry`` for every name (the new
``latest_by_name`` builds them on access) and the garbage-collector pass the load leaves for
later. Wall time depends on what else runs; CPU time (all threads of the child) is printed
beside it. The old code is ``git show REF:glacierlib/journal.py`` (``--old-ref``, default
``main``), loaded as a module of its own, as ``benchmarks/decode_descriptions.py --old``
does. Prints figures; asserts nothing.

    python benchmarks/journal.py [--records N] [--runs N] [--old-ref REF]
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

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import gc, importlib.util, json, sys, time
which, path, old_file, mode = sys.argv[1:5]
if which == "old":
    spec = importlib.util.spec_from_file_location("glacierlib_old_journal", old_file)
    journal = importlib.util.module_from_spec(spec)
    sys.modules["glacierlib_old_journal"] = journal
    spec.loader.exec_module(journal)
else:
    import glacierlib.journal as journal
    if mode not in ("save", "write"):
        journal.INDEX_MIN_RECORDS = 10**12  # measure the load alone, not the index write
out = {}
if mode == "write":  # what every sync does when it ends: saves the index
    journal.JournalWriter.open(path, fsync=False).close()
elif mode == "hash":
    from glacierlib.journal_index import new_digest
    t0, c0 = time.perf_counter(), time.process_time()
    digest = new_digest()
    with open(path, "rb") as f:
        while block := f.read(8 << 20):
            digest.update(block)
    out["hash"] = time.perf_counter() - t0
    out["hash_cpu"] = time.process_time() - c0
else:
    t0, c0 = time.perf_counter(), time.process_time()
    state = journal.read_journal(path)
    out["load"], out["load_cpu"] = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    latest = state.latest_by_name()
    latest.get("photos/000/IMG_0000000.jpg")
    out["by_name"], out["by_name_cpu"] = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    out["entries"] = sum(1 for name in latest if latest[name].size >= 0)
    out["all_entries"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    gc.collect()
    out["gc"] = time.perf_counter() - t0
    out["records"] = state.records
    out["indexed"] = state._indexed_size > 0
print(json.dumps(out))
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


def child(which: str, path: Path, old_file: Path, mode: str = "load") -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", _CHILD, which, str(path), str(old_file), mode],
                         check=True, capture_output=True, text=True, env=env).stdout
    result: dict[str, float] = json.loads(out)
    return result


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    """Per figure, the best (lowest) of the runs: the least disturbed by other processes."""
    merged = dict(runs[0])
    for run in runs[1:]:
        for key, value in run.items():
            if isinstance(value, float):
                merged[key] = min(merged[key], value)
    return merged


def measure(label: str, paths: dict[str, Path], old_file: Path, runs: int
            ) -> dict[str, dict[str, float]]:
    results: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for _ in range(runs):
        for which in ("old", "new"):  # alternate, so drift in the machine's load hits both
            results[which].append(child(which, paths[which], old_file))
    figures = {which: best(r) for which, r in results.items()}
    print(f"\n{label} (best of {runs}; wall s, CPU s in brackets)")
    print(f"  {'':24}{'old':>18}{'new':>18}{'new/old':>10}")
    for key, name in (("load", "read_journal"), ("by_name", "latest_by_name()")):
        row(name, figures, key)
    total = {w: f["load"] + f["by_name"] for w, f in figures.items()}
    total_cpu = {w: f["load_cpu"] + f["by_name_cpu"] for w, f in figures.items()}
    print(f"  {'load + by-name':24}{fmt(total['old'], total_cpu['old']):>18}"
          f"{fmt(total['new'], total_cpu['new']):>18}"
          f"{total['new'] / total['old']:>9.2f}x ({total_cpu['new'] / total_cpu['old']:.2f}x CPU)")
    every = {w: total[w] + f["all_entries"] for w, f in figures.items()}
    print(f"  {'load + every entry':24}{every['old']:>18.3f}{every['new']:>18.3f}"
          f"{every['new'] / every['old']:>9.2f}x  (wall; what a restore of all names builds)")
    for key, name in (("all_entries", "  (+ every entry built)"), ("gc", "  (+ later GC pass)")):
        old, new = figures["old"][key], figures["new"][key]
        print(f"  {name:24}{old:>18.3f}{new:>18.3f}{new / old:>9.2f}x")
    for which, f in figures.items():
        assert f["indexed"] == (label != "cold"), (which, label, f)
    return figures


def fmt(wall: float, cpu: float) -> str:
    return f"{wall:.3f} ({cpu:.3f})"


def row(name: str, figures: dict[str, dict[str, float]], key: str) -> None:
    old, new = figures["old"], figures["new"]
    print(f"  {name:24}{fmt(old[key], old[key + '_cpu']):>18}{fmt(new[key], new[key + '_cpu']):>18}"
          f"{new[key] / old[key]:>9.2f}x ({new[key + '_cpu'] / old[key + '_cpu']:.2f}x CPU)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--old-ref", default="main")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        old_file = base / "old_journal.py"
        old_file.write_bytes(subprocess.run(
            ["git", "show", f"{args.old_ref}:glacierlib/journal.py"], cwd=ROOT, check=True,
            capture_output=True).stdout)
        paths = {w: base / w / "journal.log" for w in ("old", "new")}
        for p in paths.values():
            p.parent.mkdir()
        t0 = time.perf_counter()
        generate(paths["old"], args.records)
        os.link(paths["old"], paths["new"])  # one file, two directories: two indexes
        size = paths["old"].stat().st_size
        print(f"generated {args.records:,} records, {size / 1e6:.1f} MB "
              f"in {time.perf_counter() - t0:.1f} s; old = {args.old_ref}:glacierlib/journal.py")

        cold = measure("cold", paths, old_file, args.runs)
        hashes = [child("new", paths["new"], old_file, "hash") for _ in range(args.runs)]
        hashed = best(hashes)
        print(f"\nproving an index matches (SHA-1 of all {size / 1e6:.0f} MB, in one thread): "
              f"{hashed['hash']:.3f} s ({hashed['hash_cpu']:.3f} CPU) = "
              f"{hashed['hash_cpu'] / cold['new']['load_cpu']:.1%} of the new cold parse's CPU")
        first = child("new", paths["new"], old_file, "save")
        print(f"first cold read that also saves the index (new): {first['load']:.3f} s "
              f"({first['load_cpu']:.3f} CPU)")
        paths["new"].with_name("journal.log.index").unlink()
        for which in ("old", "new"):
            t0 = time.perf_counter()
            child(which, paths[which], old_file, "write")
            print(f"{which}: writer open + close (saves the index) "
                  f"{time.perf_counter() - t0:.2f} s")
        measure("warm", paths, old_file, args.runs)
        with open(paths["old"], "ab") as f:  # both names: one file
            for i in range(1000):
                f.write(f"B\t1800000000\tCREATED\tTAIL{i:06d}\t7\tNONE\t{'0' * 64}\t"
                        f"tail/{i}.txt\n".encode())
        measure("warm + 1,000 appended lines", paths, old_file, args.runs)



if __name__ == "__main__":
    main()
