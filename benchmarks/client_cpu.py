"""Benchmark: the client's CPU per small file, and files per second, side by side.

    python benchmarks/client_cpu.py [--files 2000] [--size 4096] [--rounds 3] \
        [--checkout DIR ...]

Each round runs ``mtglacier sync`` of the same small files once per ``--checkout`` (default:
this one; give an old commit as ``git archive REV | tar -x -C DIR`` to compare), each into a
fresh vault of one in-memory local server. The server runs in its own process from *this*
checkout for every client, so only the client differs. Printed per checkout:

* files/s of the whole command (wall clock: noisy on a shared machine);
* the client's CPU per file, in ms, user + system, helper processes included (``os.wait4``
  counts the children the command reaped), which depends far less on the machine's load.

Rounds alternate the checkouts, so a load spike hits both. Before the syncs, the same is
done for bare calls from one thread of one process: ``--calls`` small ``upload_archive``
(the store's own CPU per request, without the walk, the journal or the helper processes)
and 8 sends of one ``--part-mib`` part (the client's share of a big file's CPU besides
reading and hashing).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sync_support import Server, local_server  # noqa: E402


def make_files(root: Path, files: int, size: int) -> None:
    for i in range(files):
        d = root / f"d{i // 500:03d}"
        if i % 500 == 0:
            d.mkdir(parents=True)
        (d / f"f{i:06d}.txt").write_bytes(os.urandom(size))


_BARE = """
import os, sys, time
from glacierlib.client import Connection, open_store
from glacierlib.storage import PartBody
endpoint, region, key, secret, vault, calls, part_mib = sys.argv[1:]
store = open_store(Connection(region=region, endpoint_url=endpoint, protocol="http",
                              access_key=key, secret_key=secret, concurrency=1))
store.create_vault(vault)
body = PartBody.from_bytes(os.urandom(4096))
for _ in range(50):
    store.upload_archive(vault, body, "warm-up")
started = time.process_time()
for _ in range(int(calls)):
    store.upload_archive(vault, body, "bare")
small = (time.process_time() - started) / int(calls) * 1000
part = PartBody.from_bytes(os.urandom(int(part_mib) << 20))
upload = store.initiate_multipart_upload(vault, int(part_mib) << 20, "bare")
started = time.process_time()
for _ in range(8):
    store.upload_part(vault, upload, 0, part)
print(small, (time.process_time() - started) / 8 * 1000)
"""


def bare_calls(checkout: Path, server: Server, vault: str, calls: int,
               part_mib: int) -> tuple[float, float]:
    """Client CPU ms per small ``upload_archive`` and per ``upload_part`` of ``part_mib``
    (sending only: the part is hashed before), one thread, code from ``checkout``."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    out = subprocess.run([sys.executable, "-c", _BARE, server.endpoint_url, server.region,
                          server.key, server.secret, vault, str(calls), str(part_mib)],
                         env=env, check=True, capture_output=True, text=True).stdout
    small, part = out.split()
    return float(small), float(part)


def run_sync(checkout: Path, args: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (the command and its reaped helpers), exit code."""
    env = dict(os.environ, PYTHONPATH=str(checkout))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "glacierlib_cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    return elapsed, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--part-mib", type=int, default=16)
    parser.add_argument("--checkout", type=Path, action="append")
    opts = parser.parse_args()
    checkouts = opts.checkout or [HERE.parent]
    results: dict[Path, list[tuple[float, float]]] = {c: [] for c in checkouts}
    with tempfile.TemporaryDirectory() as tmp, local_server() as server:
        root = Path(tmp) / "data"
        make_files(root, opts.files, opts.size)
        bare: dict[Path, list[tuple[float, float]]] = {c: [] for c in checkouts}
        for r in range(opts.rounds):
            for n, checkout in enumerate(checkouts):
                bare[checkout].append(bare_calls(checkout, server, f"bare-{r}-{n}", opts.calls,
                                                 opts.part_mib))
            print("bare calls, one thread: " + "  |  ".join(
                f"{c}: {bare[c][-1][0]:.3f} ms CPU/upload_archive, {bare[c][-1][1]:.2f} ms "
                f"CPU/{opts.part_mib} MiB upload_part" for c in checkouts), flush=True)
        for r in range(opts.rounds):
            line = []
            for n, checkout in enumerate(checkouts):
                vault = f"bench-{r}-{n}"
                journal = f"{tmp}/j-{r}-{n}.log"
                if run_sync(HERE.parent, ["create-vault", vault, *server.args()])[2] != 0:
                    raise SystemExit("create-vault failed")
                seconds, cpu, code = run_sync(checkout, [
                    "sync", "--dir", str(root), *server.args(), "--vault", vault,
                    "--journal", journal, "--no-fsync",
                    "--concurrency", str(opts.concurrency)])
                if code != 0:
                    raise SystemExit(f"{checkout}: sync exited {code}")
                lines = Path(journal).read_bytes().count(b"\n")
                if lines != opts.files:
                    raise SystemExit(f"{checkout}: journal has {lines} lines")
                results[checkout].append((opts.files / seconds, cpu / opts.files * 1000))
                line.append(f"{checkout}: {opts.files / seconds:.0f} files/s, "
                            f"{cpu / opts.files * 1000:.3f} ms CPU/file")
            print("  |  ".join(line), flush=True)
    first = min(x for x, _ in bare[checkouts[0]])
    first_part = min(y for _, y in bare[checkouts[0]])
    for checkout in checkouts:
        best = min(x for x, _ in bare[checkout])
        part = min(y for _, y in bare[checkout])
        print(f"best of {opts.rounds}, bare calls: {checkout}: {best:.3f} ms CPU per "
              f"upload_archive ({best / first:.2f}x), {part:.2f} ms CPU per {opts.part_mib} "
              f"MiB upload_part ({part / first_part:.2f}x)")
    base_rate = max(x for x, _ in results[checkouts[0]])
    base_cpu = min(y for _, y in results[checkouts[0]])
    for checkout in checkouts:
        rate = max(x for x, _ in results[checkout])
        cpu = min(y for _, y in results[checkout])
        print(f"best of {opts.rounds}: {checkout}: {rate:.0f} files/s "
              f"({rate / base_rate:.2f}x), {cpu:.3f} ms CPU/file ({cpu / base_cpu:.2f}x)")


if __name__ == "__main__":
    main()
