"""How fast does ``mtglacier --help`` answer? (target: 0.25 s; measured, never asserted in tests)

Runs each command line N times in fresh interpreters, hyperfine-style, and prints min / median /
max wall time, then the slowest imports of one ``--help`` run (``python -X importtime``), which
is where a regression (an eager ``import botocore`` or command module) shows up first.

    python benchmarks/cli_startup.py            # 20 runs each
    python benchmarks/cli_startup.py --runs 50
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

TARGET = 0.25

CASES: list[tuple[str, list[str]]] = [
    ("python -c pass (interpreter floor)", [sys.executable, "-c", "pass"]),
    ("python -m glacierlib_cli --help", [sys.executable, "-m", "glacierlib_cli", "--help"]),
    ("python -m glacierlib_cli version", [sys.executable, "-m", "glacierlib_cli", "version"]),
    ("python -m glacierlib_cli local-server --help",
     [sys.executable, "-m", "glacierlib_cli", "local-server", "--help"]),
]


def time_runs(argv: list[str], runs: int) -> list[float]:
    subprocess.run(argv, capture_output=True, check=True)  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return times


def slowest_imports(count: int = 12) -> list[tuple[int, str]]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "glacierlib_cli", "--help"],
        capture_output=True, text=True, check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        rows.append((int(cumulative), name))
    return sorted(rows, reverse=True)[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    cases = list(CASES)
    script = shutil.which("mtglacier")
    if script:
        cases.insert(2, ("mtglacier --help (console script)", [script, "--help"]))
    worst_help = 0.0
    for label, argv in cases:
        times = time_runs(argv, args.runs)
        median = statistics.median(times)
        if "--help" in argv and "local-server" not in argv:
            worst_help = max(worst_help, median)
        print(f"{label:<48} min {min(times) * 1000:6.1f} ms  median {median * 1000:6.1f} ms  "
              f"max {max(times) * 1000:6.1f} ms")
    print()
    print("slowest imports of one --help run (cumulative, microseconds):")
    for micros, name in slowest_imports():
        print(f"  {micros:>8}  {name}")
    verdict = "within" if worst_help <= TARGET else "OVER"
    print(f"\n--help median {worst_help * 1000:.1f} ms: {verdict} the "
          f"{TARGET * 1000:.0f} ms target")
    return 0


if __name__ == "__main__":
    sys.exit(main())
