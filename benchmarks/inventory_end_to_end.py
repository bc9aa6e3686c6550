"""Benchmark: ``mtglacier download-inventory`` end to end on a 1,000,000-archive vault.

Uploading a million archives would take hours, so the local server's on-disk vault document
is given a snapshot of a million generated archives (the same shape as
``inventory_parse.py`` generates: 138-character ids, mt2 descriptions); everything after that
is the real path: the server (a child process) renders the JSON or CSV inventory, botocore
streams it over loopback, and ``download-inventory`` runs in its own child process whose wall
time and peak RSS are reported. This reaches into the server's document format, so it is a
benchmark, not a test.

    python benchmarks/inventory_end_to_end.py [--archives 1000000] [--format json|csv]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from inventory_parse import _archive_id, _description
from sync_support import local_server

VAULT = "bench"
# VmHWM (this process's own peak RSS), not ru_maxrss: Linux carries ru_maxrss across exec,
# so a child of a big parent would report the parent's size.
_CHILD = """
import sys, time
from glacierlib_cli.main import main
started = time.perf_counter()
code = main(sys.argv[1:])
elapsed = time.perf_counter() - started
with open("/proc/self/status") as status:
    hwm = next(int(x.split()[1]) for x in status if x.startswith("VmHWM:"))
print(f"BENCH exit={code} seconds={elapsed:.1f} peak_rss_mb={hwm / 1024:.1f}", file=sys.stderr)
"""


def _prepare(data_dir: Path, count: int) -> None:
    from glacierlib.client import Connection, open_store
    from glacierlib.localserver import ServerConfig, running_server
    from glacierlib.storage import PartBody

    with running_server(data_dir, config=ServerConfig()) as server:
        store = open_store(Connection(region=server.region, endpoint_url=server.endpoint_url,
                                      protocol="http", access_key=server.access_key,
                                      secret_key=server.secret_key))
        store.create_vault(VAULT)
        store.upload_archive(VAULT, PartBody.from_bytes(b"x"), "seed")
        server.control.take_inventory(VAULT)
    document_path = next((data_dir / "meta").glob(f"*{VAULT}*.json"))
    document = json.loads(document_path.read_text(encoding="utf-8"))
    taken = document["snapshot"]["taken_at"]
    tree_hash = "0123456789abcdef" * 4
    document["snapshot"]["items"] = [
        [_archive_id(i), _description(i), taken - 86400 + i / 1000, 1000 + i, tree_hash]
        for i in range(count)
    ]
    document_path.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archives", type=int, default=1_000_000)
    parser.add_argument("--format", choices=("json", "csv"), default="json")
    args = parser.parse_args()
    from glacierlib_cli.main import main as cli

    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        # In a child process too: this process stays small while it starts the measured one.
        prep = ctx.Process(target=_prepare, args=(work / "server", args.archives))
        prep.start()
        prep.join()
        assert prep.exitcode == 0
        print(f"prepared {args.archives} archives in {time.perf_counter() - started:.1f}s",
              file=sys.stderr)
        with local_server(work / "server") as server:
            conn = server.args()
            assert cli(["retrieve-inventory", "--vault", VAULT, "--request-inventory-format",
                        args.format, "--quiet", *conn]) == 0
            journal = work / "rebuilt.journal"
            result = subprocess.run(
                [sys.executable, "-c", _CHILD, "download-inventory", "--vault", VAULT,
                 "--new-journal", str(journal), "--quiet", *conn],
                capture_output=True, text=True, check=False,
            )
            bench = [x for x in result.stderr.splitlines() if x.startswith("BENCH")]
            lines = journal.read_bytes().count(b"\n") if journal.exists() else 0
            print(f"download-inventory {args.format}: {bench[-1] if bench else result.stderr}"
                  f" journal_lines={lines}")


if __name__ == "__main__":
    main()
