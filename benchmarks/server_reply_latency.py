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
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_SERVER = """
import sys
from glacierlib.localserver import running_server
with running_server(None) as s:
    print(s.endpoint_url, s.region, s.access_key, s.secret_key, flush=True)
    sys.stdin.read()
"""


def _median_ms(call: Any, calls: int) -> float:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def measure(checkout: Path, calls: int) -> tuple[float, float]:
    """(DescribeVault ms, DeleteVaultNotifications ms), median, server from ``checkout``."""
    import botocore.session
    from botocore.config import Config

    env = dict(os.environ, PYTHONPATH=str(checkout))
    proc = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        endpoint, region, key, secret = proc.stdout.readline().split()
        client = botocore.session.get_session().create_client(
            "glacier", region_name=region, endpoint_url=endpoint, aws_access_key_id=key,
            aws_secret_access_key=secret, config=Config(retries={"max_attempts": 0}))
        client.create_vault(vaultName="bench")
        for _ in range(20):
            client.describe_vault(vaultName="bench")
        with_body = _median_ms(lambda: client.describe_vault(vaultName="bench"), calls)
        empty = _median_ms(lambda: client.delete_vault_notifications(vaultName="bench"), calls)
        return with_body, empty
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--checkout", type=Path, action="append")
    opts = parser.parse_args()
    checkouts = opts.checkout or [Path(__file__).resolve().parent.parent]
    for checkout in checkouts:
        body, empty = measure(checkout, opts.calls)
        print(f"{checkout}: DescribeVault {body:.2f} ms, DeleteVaultNotifications (no body) "
              f"{empty:.2f} ms: a JSON reply costs {body / empty:.2f}x an empty one")


if __name__ == "__main__":
    main()
