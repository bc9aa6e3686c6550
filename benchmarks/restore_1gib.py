"""Benchmark: restore-completed of one 1 GiB archive from the local server, in MB/s.

The local server runs in a child process (disk storage under a temporary directory) so it
does not share the GIL with the client. The archive is uploaded with the store (64 MiB parts),
recorded with JournalWriter, a retrieval is initiated with ``mtglacier restore``, and then
``mtglacier restore-completed`` is timed: ranged segments fetched in parallel, each verified,
written at offsets, the whole tree hash checked against journal and job, fsync, rename.

    python benchmarks/restore_1gib.py [--size-mib 1024] [--segment-size MiB] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from sync_support import local_server

MIB = 1 << 20
VAULT = "bench"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--segment-size", default=None, help="MiB; default automatic")
    parser.add_argument("--concurrency", default="4")
    args = parser.parse_args()

    from glacierlib.client import Connection, open_store
    from glacierlib.journal import JournalWriter
    from glacierlib.metadata import encode_mt2
    from glacierlib.storage import PartBody
    from glacierlib.treehash import combine_tree_hashes
    from glacierlib_cli.main import main as cli

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with local_server(work / "server") as server:
            conn = server.args()
            store = open_store(Connection(region=server.region, endpoint_url=server.endpoint_url,
                                          protocol="http", access_key=server.key,
                                          secret_key=server.secret))
            store.create_vault(VAULT)
            size = args.size_mib * MIB
            part = 64 * MIB
            block = bytearray(os.urandom(MIB))
            started = time.perf_counter()
            upload_id = store.initiate_multipart_upload(VAULT, part, encode_mt2("big.bin", 1))
            hashes = []
            for offset in range(0, size, part):
                chunk = bytearray()
                for mib in range(offset // MIB, min(size, offset + part) // MIB):
                    block[:8] = mib.to_bytes(8, "big")
                    chunk += block
                hashes.append(store.upload_part(VAULT, upload_id, offset,
                                                PartBody.from_bytes(bytes(chunk))))
            created = store.complete_multipart_upload(VAULT, upload_id, size,
                                                      combine_tree_hashes(hashes))
            print(f"uploaded {args.size_mib} MiB in {time.perf_counter() - started:.1f}s",
                  file=sys.stderr)
            journal = work / "journal"
            with JournalWriter.open(journal, fsync=False) as writer:
                writer.created(created.archive_id, size, 1_600_000_000, created.tree_hash,
                               "big.bin")
            root = work / "restored"
            assert cli(["restore", "--dir", str(root), "--vault", VAULT, "--journal",
                        str(journal), "--max-number-of-files", "1", "--quiet", *conn]) == 0
            extra = ["--segment-size", args.segment_size] if args.segment_size else []
            started = time.perf_counter()
            code = cli(["restore-completed", "--dir", str(root), "--vault", VAULT,
                        "--journal", str(journal), "--concurrency", args.concurrency,
                        "--quiet", *extra, *conn])
            elapsed = time.perf_counter() - started
            assert code == 0
            assert (root / "big.bin").stat().st_size == size
            print(f"restore-completed {args.size_mib} MiB: {elapsed:.1f}s, "
                  f"{size / elapsed / 1e6:.1f} MB/s ({size / elapsed / MIB:.1f} MiB/s), "
                  f"segment size {args.segment_size or 'auto'}, concurrency "
                  f"{args.concurrency}, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
