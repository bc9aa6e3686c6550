"""Benchmark: the local server's S3 face against its Glacier face on the same bodies.

    python benchmarks/s3_server_bodies.py [--mib 64] [--rounds 3]

One run, side by side, in memory and on disk: Glacier UploadArchive against S3 PutObject
(botocore's defaults over HTTP: a signed payload and a CRC32 header) and PutObject with
UNSIGNED-PAYLOAD, then GetObject; each the best of ``--rounds``, in MB/s (client hashing
included, as a real client pays it). Last, the pure-Python CRC32C and CRC64NVME rates that
bound S3 bodies sent with those algorithms (``awscrt``/``crc32c`` are not installed here).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import botocore.session
from botocore.config import Config

from glacierlib.localserver import running_server
from glacierlib.localserver.s3.checksums import crc32c, crc64nvme


def _best(fn: Callable[[], Any], rounds: int, size: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return size / best / 1e6


def measure(data_dir: Path | None, body: bytes, rounds: int) -> dict[str, float]:
    session = botocore.session.get_session()
    with running_server(data_dir) as server:
        kwargs = server.client_kwargs()
        glacier = session.create_client("glacier", **kwargs)
        s3 = session.create_client("s3", config=Config(s3={"addressing_style": "path"}),
                                   **kwargs)
        unsigned = session.create_client("s3", config=Config(s3={
            "addressing_style": "path", "payload_signing_enabled": False}), **kwargs)
        glacier.create_vault(vaultName="bench")
        s3.create_bucket(Bucket="bench-bucket")
        size = len(body)

        def get() -> bytes:
            return bytes(s3.get_object(Bucket="bench-bucket", Key="k")["Body"].read())

        return {
            "glacier UploadArchive": _best(lambda: glacier.upload_archive(
                vaultName="bench", body=body), rounds, size),
            "s3 PutObject (signed)": _best(lambda: s3.put_object(
                Bucket="bench-bucket", Key="k", Body=body), rounds, size),
            "s3 PutObject (unsigned)": _best(lambda: unsigned.put_object(
                Bucket="bench-bucket", Key="k", Body=body), rounds, size),
            "s3 GetObject": _best(get, rounds, size),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    body = bytes(range(256)) * (args.mib << 12)
    with tempfile.TemporaryDirectory() as tmp:
        memory = measure(None, body, args.rounds)
        disk = measure(Path(tmp) / "data", body, args.rounds)
    print(f"{args.mib} MiB bodies, best of {args.rounds}, MB/s")
    print(f"{'':26}{'memory':>10}{'disk':>10}")
    for name in memory:
        print(f"{name:26}{memory[name]:10.0f}{disk[name]:10.0f}")
    sample = body[: 2 << 20]
    print(f"pure-Python CRC32C   {_best(lambda: crc32c(sample), 1, len(sample)):.1f} MB/s")
    print(f"pure-Python CRC64NVME {_best(lambda: crc64nvme(sample), 1, len(sample)):.1f} MB/s")


if __name__ == "__main__":
    main()
