"""Shared helpers of the sync benchmarks: a local server in its own process, timed CLI runs.

The server runs in a separate process so the client's peak RSS (``os.wait4``) and CPU are
its own; both talk over loopback HTTP through real botocore, as in production.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

_SERVER = """
import sys
from pathlib import Path
from glacierlib.localserver import running_server
with running_server(Path(sys.argv[1]) if len(sys.argv) > 1 else None) as s:
    print(s.endpoint_url, s.region, s.access_key, s.secret_key, flush=True)
    sys.stdin.read()
"""


@attrs.frozen
class Server:
    endpoint_url: str
    region: str
    key: str
    secret: str

    def args(self) -> list[str]:
        return ["--endpoint-url", self.endpoint_url, "--region", self.region, "--key",
                self.key, "--secret", self.secret, "--protocol", "http"]


@contextmanager
def local_server(data_dir: Path | None = None) -> Iterator[Server]:
    """A local server in a child process (in memory, or on disk under ``data_dir``).

    A child of its own so that it does not share the measured process's GIL or RSS.
    """
    extra = [str(data_dir)] if data_dir is not None else []
    proc = subprocess.Popen([sys.executable, "-c", _SERVER, *extra], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        endpoint, region, key, secret = proc.stdout.readline().split()
        yield Server(endpoint, region, key, secret)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


@attrs.frozen
class Run:
    seconds: float
    peak_rss_mib: float
    returncode: int
    stdout: str


def run_cli(*args: str) -> Run:
    """Run ``mtglacier ARGS`` in a child; wall time and the child's own peak RSS."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "glacierlib_cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    return Run(elapsed, usage.ru_maxrss / 1024, proc.returncode, out)


def make_file(path: Path, size: int, seed: int = 0) -> None:
    """A file of ``size`` bytes that no two 1 MiB blocks repeat in (cheap to generate)."""
    block = os.urandom(1 << 20)
    with open(path, "wb") as handle:
        written = 0
        counter = seed
        while written < size:
            chunk = counter.to_bytes(8, "big") + block[8:]
            take = min(len(chunk), size - written)
            handle.write(chunk[:take])
            written += take
            counter += 1
