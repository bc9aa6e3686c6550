"""Benchmark: many small files through ``mtglacier sync``, files per second, per store.

    python benchmarks/sync_small_files.py --files 5000 --size 4096
    python benchmarks/sync_small_files.py --checkout /tmp/old --checkout .   # before/after

For each ``--checkout`` (default: this one), side by side in one run:

* ``memory``: a separate in-memory ``local-server`` process (``--endpoint-url``);
* ``disk``: the same server storing under a data directory;
* ``--local``: the whole user command ``mtglacier sync --local DIR`` as one process (the
  server inside it), what the README tells users to run;
* ``--local, N archives``: ``--more`` files synced with ``--local`` into a vault that already
  holds ``--seed`` archives (seeded directly on disk), against the same number into an empty
  one: the per-file cost must not grow with the vault (issue 13). Shown for the whole
  command, and per file after the fixed cost of opening the directory (a ``list-vaults
  --local DIR`` timed alone: start, load the vault, stop).

Ratios to the in-memory server of the same checkout are printed, since the machine may be
busy: compare ratios, not absolute numbers. Each file is one UploadArchive plus one journal
line (fsync on unless ``--no-fsync``).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from sync_support import local_server, make_small_files, run_cli, seed_vault

VAULT = "bench"


def _sync_rate(root: Path, journal: Path, files: int, conn: list[str], opts: argparse.Namespace,
               checkout: Path | None) -> float:
    run = run_cli("sync", "--dir", str(root), *conn, "--vault", VAULT, "--journal",
                  str(journal), "--concurrency", str(opts.concurrency),
                  *(["--no-fsync"] if opts.no_fsync else []), checkout=checkout)
    assert run.returncode == 0, run.stdout
    lines = journal.read_bytes().count(b"\n")
    assert lines == files, (lines, files)
    return files / run.seconds


def measure(checkout: Path | None, opts: argparse.Namespace, tmp: Path) -> dict[str, float]:
    root = tmp / "files"
    if not root.exists():
        make_small_files(root, opts.files, opts.size)
    more = tmp / "more"
    if not more.exists():
        make_small_files(more, opts.more, opts.size, prefix="m")
    work = Path(tempfile.mkdtemp(dir=tmp))
    rates: dict[str, float] = {}
    for name, data_dir in (("memory", None), ("disk", work / "server-data")):
        with local_server(data_dir, checkout) as server:
            assert run_cli("create-vault", VAULT, *server.args(),
                           checkout=checkout).returncode == 0
            rates[name] = _sync_rate(root, work / f"j-{name}", opts.files, server.args(), opts,
                                     checkout)
    rates["--local"] = _sync_rate(root, work / "j-local", opts.files,
                                  ["--local", str(work / "local")], opts, checkout)
    if opts.seed:
        seed_vault(work / "big", VAULT, opts.seed)
        for name, data_dir in (("empty vault", work / "empty"),
                               (f"{opts.seed} archives", work / "big")):
            # The fixed cost of a command on this directory (start, load the vault, stop),
            # timed alone, so the per-file cost of the sync can be told from it.
            opened = run_cli("list-vaults", "--local", str(data_dir), checkout=checkout)
            assert opened.returncode == 0, opened.stdout
            rate = _sync_rate(more, work / f"j-{name}", opts.more,
                              ["--local", str(data_dir)], opts, checkout)
            rates[f"--local, {name}"] = rate
            rates[f"--local, {name}, per file after opening"] = opts.more / max(
                1e-6, opts.more / rate - opened.seconds)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--no-fsync", action="store_true")
    parser.add_argument("--seed", type=int, default=100_000,
                        help="archives already in the vault for the growth check (0: skip)")
    parser.add_argument("--more", type=int, default=1000,
                        help="files synced into the seeded and the empty vault")
    parser.add_argument("--checkout", type=Path, action="append",
                        help="run the CLI and server from this source tree (repeatable)")
    opts = parser.parse_args()
    checkouts: list[Path | None] = list(opts.checkout or [None])
    print(f"{opts.files} files of {opts.size} B, concurrency {opts.concurrency}, fsync "
          f"{'off' if opts.no_fsync else 'on'}; files/s (ratio to the in-memory server)")
    with tempfile.TemporaryDirectory() as tmp:
        for checkout in checkouts:
            rates = measure(checkout, opts, Path(tmp))
            memory = rates["memory"]
            shown = "  ".join(f"{name}: {rate:.0f} ({rate / memory:.2f}x)"
                              for name, rate in rates.items())
            print(f"{checkout or 'this checkout'}: {shown}")
            if opts.seed:
                for suffix in ("", ", per file after opening"):
                    empty = rates[f"--local, empty vault{suffix}"]
                    big = rates[f"--local, {opts.seed} archives{suffix}"]
                    print(f"  cost per file in a {opts.seed}-archive vault vs an empty one"
                          f"{suffix or ' (whole command)'}: {empty / big:.2f}x")


if __name__ == "__main__":
    main()
