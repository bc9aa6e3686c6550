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
from typing import Any

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


def checkout_env(checkout: Path | None) -> dict[str, str] | None:
    """The environment that runs the code of ``checkout`` (None: this one, inherited)."""
    if checkout is None:
        return None
    return dict(os.environ, PYTHONPATH=str(checkout))


def cpu_flags() -> str:
    """Which SHA-256 the CPU has: the hashing floor depends on it (``sha_ni`` or not)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "unknown CPU"
    model = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                  if line.startswith("model name")), "unknown CPU")
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines()
                  if line.startswith("flags")), [])
    sha = "with SHA extensions (sha_ni)" if "sha_ni" in flags else "without SHA extensions"
    return f"{model}, {os.cpu_count()} CPUs, {sha}"


@contextmanager
def local_server(data_dir: Path | None = None, checkout: Path | None = None
                 ) -> Iterator[Server]:
    """A local server in a child process (in memory, or on disk under ``data_dir``), running
    the code of ``checkout`` (default: this one).

    A child of its own so that it does not share the measured process's GIL or RSS.
    """
    extra = [str(data_dir)] if data_dir is not None else []
    proc = subprocess.Popen([sys.executable, "-c", _SERVER, *extra], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=checkout_env(checkout))
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


def run_cli(*args: str, checkout: Path | None = None) -> Run:
    """Run ``mtglacier ARGS`` in a child (the code of ``checkout``, default this one); wall
    time and the child's own peak RSS. With ``--local`` that is the whole user command,
    server included."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "glacierlib_cli", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=checkout_env(checkout))
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


def seed_vault(data_dir: Path, vault: str, archives: int) -> None:
    """A ``--local`` data directory whose ``vault`` already holds ``archives`` archives.

    Written directly in the one-document-per-vault format that every version loads (fast:
    100,000 archives in a few seconds), all archives sharing one real body, so the cost of
    the next writes can be measured against a big vault without uploading it first.
    """
    import hashlib
    import json
    import secrets

    for sub in ("meta", "blobs", "tmp"):
        (data_dir / sub).mkdir(parents=True, exist_ok=True)
    body = b"seeded archive\n"
    key = secrets.token_hex(16)
    (data_dir / "blobs" / key).write_bytes(body)
    digest = hashlib.sha256(body).digest()
    (data_dir / "blobs" / f"{key}.leaves").write_bytes(digest)
    now = time.time()
    items: list[dict[str, Any]] = [
        {"archive_id": f"seed{i:0134d}", "description": f"seed {i}", "created": now - 3600,
         "size": len(body), "tree_hash": digest.hex(), "segments": [[key, len(body)]]}
        for i in range(archives)
    ]
    doc = {"name": vault, "created": now - 7200, "archives": items, "retained": [],
           "uploads": [], "finished_uploads": {}, "jobs": [], "notifications": None,
           "tags": {}, "access_policy": None, "lock": None, "snapshot": None, "dirty": True,
           "next_inventory_at": now}
    (data_dir / "meta" / f"vault-{vault}.json").write_text(json.dumps(doc))


def make_small_files(root: Path, count: int, size: int, prefix: str = "f") -> None:
    """``count`` files of ``size`` random bytes, 500 to a directory."""
    for i in range(count):
        d = root / f"d{i // 500:03d}"
        if i % 500 == 0:
            d.mkdir(parents=True, exist_ok=True)
        (d / f"{prefix}{i:06d}.txt").write_bytes(os.urandom(size))
