"""Local server ingest speed: a multipart upload over loopback with every hash verified.

The client side is made as cheap as possible so the figure measures the server: part hashes
(linear SHA-256 and tree hash) are computed before the clock starts and handed to a raw
botocore client as headers, so botocore hashes nothing; the server still receives every byte
over HTTP, checks SigV4, streams it into storage and computes both hashes of every part
before it answers, then checks the archive tree hash at Complete.

Machines here are shared and noisy, so the run also measures the hashing ceiling back to
back: how fast this process computes SHA-256 plus the tree hash (the two passes the server
must make over every byte) on the same number of threads. The ratio upload/ceiling says how
much the server adds on top of the unavoidable hashing.

Usage: python benchmarks/server.py [--size-mib 1024] [--part-mib 16] [--threads 4]
                                   [--storage memory|disk|both]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import botocore.session
from botocore.config import Config

from glacierlib.localserver import running_server
from glacierlib.treehash import MIB, TreeHasher, combine_tree_hashes, hash_part


def distinct_parts(count: int, part_size: int) -> list[bytes]:
    """A few different part bodies (cycled), so the client holds little memory."""
    return [os.urandom(part_size) for _ in range(count)]


def hash_ceiling(bodies: list[bytes], total: int, threads: int) -> float:
    """MB/s of linear SHA-256 + tree hash over ``total`` bytes on ``threads`` threads."""
    n_parts = total // len(bodies[0])

    def work(i: int) -> None:
        body = bodies[i % len(bodies)]
        hashlib.sha256(body).digest()
        TreeHasher(body).digest()

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(n_parts)))
    return total / 1e6 / (time.perf_counter() - started)


def upload(storage: str, bodies: list[bytes], total: int, part_size: int,
           threads: int) -> float:
    hashes = [hash_part(b) for b in bodies]
    sha_by_body = {id(b): h.sha256.hex() for b, h in zip(bodies, hashes, strict=True)}
    n_parts = total // part_size
    archive_hash = combine_tree_hashes(
        [hashes[i % len(bodies)].tree_hash for i in range(n_parts)]
    ).hex
    with tempfile.TemporaryDirectory(prefix="glacier-bench-") as tmp:
        data_dir = Path(tmp) if storage == "disk" else None
        with running_server(data_dir) as server:
            session = botocore.session.get_session()
            client: Any = session.create_client(
                "glacier",
                config=Config(max_pool_connections=threads, retries={"max_attempts": 0}),
                **server.client_kwargs(),
            )

            def supply_sha(params: dict[str, Any], **_: Any) -> None:
                # botocore's own add_glacier_checksums skips bodies whose header is set.
                params["headers"]["x-amz-content-sha256"] = sha_by_body[id(params["body"])]

            client.meta.events.register_first(
                "before-call.glacier.UploadMultipartPart", supply_sha
            )
            client.create_vault(vaultName="bench")
            upload_id = client.initiate_multipart_upload(
                vaultName="bench", partSize=str(part_size))["uploadId"]

            def send(i: int) -> None:
                k = i % len(bodies)
                start = i * part_size
                reply = client.upload_multipart_part(
                    vaultName="bench", uploadId=upload_id,
                    range=f"bytes {start}-{start + part_size - 1}/*",
                    body=bodies[k], checksum=hashes[k].tree_hash.hex,
                )
                if reply["checksum"] != hashes[k].tree_hash.hex:
                    raise RuntimeError("server returned a different part hash")

            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(send, range(n_parts)))
            done = client.complete_multipart_upload(
                vaultName="bench", uploadId=upload_id, archiveSize=str(total),
                checksum=archive_hash)
            elapsed = time.perf_counter() - started
            if done["checksum"] != archive_hash:
                raise RuntimeError("archive hash mismatch")
            stats = server.control.stats()
            if stats["bytes_received"]["UploadMultipartPart"] != total:
                raise RuntimeError(f"server saw {stats['bytes_received']} bytes")
    return total / 1e6 / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--part-mib", type=int, default=16)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--storage", choices=["memory", "disk", "both"], default="both")
    args = parser.parse_args()
    part_size = args.part_mib * MIB
    total = args.size_mib * MIB
    bodies = distinct_parts(min(4, total // part_size), part_size)
    storages = ["memory", "disk"] if args.storage == "both" else [args.storage]
    print(f"{args.size_mib} MiB in {args.part_mib} MiB parts, {args.threads} in parallel, "
          f"{os.cpu_count()} CPUs")
    for storage in storages:
        speed = upload(storage, bodies, total, part_size, args.threads)
        ceiling = hash_ceiling(bodies, total, args.threads)
        print(f"{storage:>6}: {speed:7.1f} MB/s upload, hashing ceiling {ceiling:7.1f} MB/s "
              f"(ratio {speed / ceiling:.2f})")


if __name__ == "__main__":
    main()
