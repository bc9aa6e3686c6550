"""How many bytes does SHA-256 see per uploaded part? (ours: 2x the part; sending: ~0)

Uploads parts to the built-in local server through ``GlacierStore`` and, for comparison,
through a plain botocore client that computes the checksums itself. SHA-256 input is counted
on the uploading thread only (the server hashes the body too, on its own threads). The part
is fed once to the linear hash and once to the 1 MiB tree leaves: 2.0x is the floor for the
two hashes Glacier requires. botocore left to compute the checksums itself makes the same 2x
pass again while sending (last line), which GlacierStore avoids.

    python benchmarks/client_hashing.py                 # 4 parts of 8 MiB
    python benchmarks/client_hashing.py --parts 8 --mib 16
"""

from __future__ import annotations

import argparse
import hashlib
import os
import threading
import time
from typing import Any

import botocore.auth
import botocore.httpchecksum
import botocore.session

from glacierlib.client import Connection, GlacierStore, make_session
from glacierlib.localserver import running_server
from glacierlib.storage import PartBody
from glacierlib.treehash import MIB


class Counter:
    """A stand-in for ``hashlib.sha256`` that counts input bytes on one thread."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.bytes = 0
        self.real = hashlib.sha256

    def __call__(self, data: Any = b"", **_: Any) -> Any:
        counter = self
        real = self.real()

        class Hash:
            digest_size = real.digest_size
            block_size = real.block_size
            name = real.name

            def __init__(self, inner: Any) -> None:
                self.inner = inner

            def update(self, chunk: Any) -> None:
                if threading.get_ident() == counter.thread:
                    counter.bytes += memoryview(chunk).nbytes
                self.inner.update(chunk)

            def digest(self) -> bytes:
                return bytes(self.inner.digest())

            def hexdigest(self) -> str:
                return str(self.inner.hexdigest())

            def copy(self) -> Any:
                return Hash(self.inner.copy())

        hasher = Hash(real)
        if data:
            hasher.update(data)
        return hasher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, default=4)
    parser.add_argument("--mib", type=int, default=8, help="part size in MiB (power of two)")
    args = parser.parse_args()
    part_size = args.mib * MIB
    counter = Counter()
    hashlib.sha256 = counter  # type: ignore[assignment]
    botocore.auth.sha256 = counter  # type: ignore[attr-defined]
    botocore.httpchecksum.sha256 = counter  # type: ignore[attr-defined]

    with running_server() as server:
        conn = Connection(region=server.region, endpoint_url=server.endpoint_url,
                          protocol="http", access_key=server.access_key,
                          secret_key=server.secret_key, concurrency=1)
        with GlacierStore(make_session(conn), conn) as store:
            store.create_vault("bench")
            upload_id = store.initiate_multipart_upload("bench", part_size, "bench")
            hashed_ours = hashed_send = 0
            started = time.perf_counter()
            for index in range(args.parts):
                data = os.urandom(part_size)
                counter.bytes = 0
                body = PartBody.from_bytes(data)
                hashed_ours += counter.bytes
                counter.bytes = 0
                store.upload_part("bench", upload_id, index * part_size, body)
                hashed_send += counter.bytes
            elapsed = time.perf_counter() - started

        plain = botocore.session.Session().create_client(
            "glacier", region_name=server.region, endpoint_url=server.endpoint_url,
            aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
        )
        counter.bytes = 0
        plain.upload_archive(vaultName="bench", body=os.urandom(part_size))
        hashed_plain = counter.bytes
        plain.close()

    total = args.parts * part_size
    print(f"parts: {args.parts} x {args.mib} MiB, {elapsed:.2f}s")
    print(f"SHA-256 input in PartBody.from_bytes: {hashed_ours / total:.4f} x data")
    print(f"SHA-256 input while sending:          {hashed_send} bytes "
          f"({hashed_send / args.parts:.0f} per request: signing only)")
    print(f"plain botocore (no headers given):    {hashed_plain / part_size:.4f} x data")


if __name__ == "__main__":
    main()
