"""Benchmark: how long the local server takes to answer with a JSON body vs without one.

    python benchmarks/server_reply_latency.py [--calls 200] [--checkout DIR ...]

A reply written as headers, then body, in two small segments waits for the client's delayed
ACK (about 40 ms on Linux) before the second leaves, when the socket has Nagle's algorithm on
(no ``TCP_NODELAY``). DescribeVault (a JSON body) against DeleteVaultNotifications (204, no
body), median wall time per call over one keep-alive connection, for each ``--checkout`` (the
server's code; the botocore client is this checkout's), side by side in one run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from sync_support import local_server


def _median_ms(call: Any, calls: int) -> float:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(checkout: Path | None, calls: int) -> tuple[float, float]:
    """(DescribeVault ms, DeleteVaultNotifications ms), median, server from ``checkout``."""
    import botocore.session
    from botocore.config import Config

    with local_server(None, checkout) as server:
        client = botocore.session.get_session().create_client(
            "glacier", region_name=server.region, endpoint_url=server.endpoint_url,
            aws_access_key_id=server.key, aws_secret_access_key=server.secret,
            config=Config(retries={"max_attempts": 0}))
        client.create_vault(vaultName="bench")
        for _ in range(20):
            client.describe_vault(vaultName="bench")
        with_body = _median_ms(lambda: client.describe_vault(vaultName="bench"), calls)
        empty = _median_ms(lambda: client.delete_vault_notifications(vaultName="bench"), calls)
        return with_body, empty


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--checkout", type=Path, action="append",
                        help="run the server from this source tree (repeatable)")
    opts = parser.parse_args()
    for checkout in opts.checkout or [None]:
        body, empty = measure(checkout, opts.calls)
        print(f"{checkout or 'this checkout'}: DescribeVault {body:.2f} ms, "
              f"DeleteVaultNotifications (no body) {empty:.2f} ms: a JSON reply costs "
              f"{body / empty:.2f}x an empty one")


if __name__ == "__main__":
    main()
