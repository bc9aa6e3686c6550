"""Benchmark: CPU seconds of a whole ``sync --local`` into a 100,000-archive vault vs an empty one.

    python benchmarks/sync_into_big_vault.py [--seed 100000] [--more 1000] [--checkout DIR ...]

Issue 13: syncing more files into a vault that already holds many archives must cost no
more per file than into an empty one, for the whole command (start, open the directory,
upload, stop), not only per upload. CPU time of the command and its server (``rusage`` of
reaped children), not wall time: the machine may be busy. Each ``--checkout`` runs in turn
on its own directories (``git archive REV | tar -x -C DIR`` for an old commit), seeded in
the one-document format every version loads and opened once first (``list-vaults``, where
a newer version converts it), then ``--rounds`` syncs alternating empty and big.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from sync_support import checkout_env, make_small_files, seed_vault

VAULT = "bench"


def _cpu(args: list[str], checkout: Path) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run = subprocess.run([sys.executable, "-m", "glacierlib_cli", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=checkout_env(checkout), check=False)
    assert run.returncode == 0, run.stdout[-2000:]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(checkout: Path, files: Path, tmp: Path, opts: argparse.Namespace) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(dir=tmp))
    big, empty = work / "big", work / "empty"
    seed_vault(big, VAULT, opts.seed)
    _cpu(["create-vault", VAULT, "--local", str(empty)], checkout)
    out = {"open big": _cpu(["list-vaults", "--local", str(big)], checkout)}
    best: dict[str, float] = {}
    for round_ in range(opts.rounds):
        for name, data_dir in (("empty", empty), ("big", big)):
            seconds = _cpu(["sync", "--dir", str(files), "--local", str(data_dir), "--vault",
                            VAULT, "--journal", str(work / f"j-{name}-{round_}"),
                            "--no-fsync"], checkout)
            best[name] = min(best.get(name, seconds), seconds)
    out.update({f"sync into {k}": v for k, v in best.items()})
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=100_000)
    parser.add_argument("--more", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--checkout", type=Path, action="append")
    opts = parser.parse_args()
    checkouts = opts.checkout or [Path(__file__).resolve().parent.parent]
    with tempfile.TemporaryDirectory() as tmp:
        files = Path(tmp) / "files"
        make_small_files(files, opts.more, 4096)
        for checkout in checkouts:
            r = measure(checkout, files, Path(tmp), opts)
            print(f"{checkout}: " + "  ".join(f"{k}: {v:.2f} s CPU" for k, v in r.items())
                  + f"  ratio big/empty: {r['sync into big'] / r['sync into empty']:.2f}x")


if __name__ == "__main__":
    main()
