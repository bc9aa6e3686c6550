"""Shared helpers of the reliability suites (issue 7): trees, CLI runs, vault checks, faults.

Everything here drives real parts: the CLI (in-process ``main`` or a ``python -m
glacierlib_cli`` subprocess), the local server over loopback HTTP with real SigV4, and its
control plane for faults and statistics.
"""

from __future__ import annotations

import collections
import os
import random
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from glacierlib.journal import read_journal
from glacierlib.localserver import ControlClient, LocalServer

MIB = 1 << 20

#: Operations a sync uses, and a restore (initiate, then download).
SYNC_OPERATIONS = (
    "UploadArchive", "InitiateMultipartUpload", "UploadMultipartPart", "CompleteMultipartUpload",
)
RESTORE_OPERATIONS = ("InitiateJob", "GetJobOutput")


@attrs.frozen
class Endpoint:
    """Where and how to reach a server: enough for CLI arguments and a control client."""

    endpoint_url: str
    region: str
    access_key: str
    secret_key: str = attrs.field(repr=False)

    @classmethod
    def of(cls, server: LocalServer) -> Endpoint:
        return cls(server.endpoint_url, server.region, server.access_key, server.secret_key)

    @property
    def control(self) -> ControlClient:
        return ControlClient(self.endpoint_url)

    def args(self) -> list[str]:
        return ["--endpoint-url", self.endpoint_url, "--key", self.access_key,
                "--secret", self.secret_key, "--region", self.region, "--protocol", "http"]


def make_tree(root: Path, *, small: int, big_sizes: Sequence[int], seed: int,
              small_max: int = 4096) -> dict[str, bytes]:
    """``small`` small files (1..small_max bytes) in a few directories, and one big file per
    entry of ``big_sizes``; returns relative name -> content."""
    rng = random.Random(seed)
    files: dict[str, bytes] = {}
    for i in range(small):
        files[f"d{i % 7}/s{i:04d}.txt"] = rng.randbytes(rng.randint(1, small_max))
    for i, size in enumerate(big_sizes):
        files[f"big/b{i:02d}.bin"] = rng.randbytes(size)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root``: relative name -> content."""
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def vault_state(control: ControlClient, vault: str) -> dict[str, Any]:
    return dict(control.state()["vaults"][vault])


def vault_archive_ids(control: ControlClient, vault: str) -> collections.Counter[str]:
    return collections.Counter(a["archive_id"] for a in vault_state(control, vault)["archives"])


def journal_ids(journal: Path) -> set[str]:
    return set(read_journal(journal).archives)


def orphans(control: ControlClient, vault: str, journal: Path) -> set[str]:
    """Archives in the vault that the journal does not know (live)."""
    return set(vault_archive_ids(control, vault)) - journal_ids(journal)


def assert_vault_matches_journal(control: ControlClient, vault: str, journal: Path) -> None:
    """The vault holds exactly the journal's live archives: no duplicate, no orphan, no gap."""
    ids = vault_archive_ids(control, vault)
    live = journal_ids(journal)
    dupes = {a: n for a, n in ids.items() if n > 1}
    assert not dupes, f"duplicate archive ids in the vault: {dupes}"
    assert set(ids) - live == set(), f"orphan archives (in vault, not journaled): " \
        f"{len(set(ids) - live)}"
    assert live - set(ids) == set(), f"journaled archives missing from the vault: " \
        f"{len(live - set(ids))}"
    names = collections.Counter(e.name for e in read_journal(journal).archives.values())
    assert max(names.values(), default=1) == 1, "a file is journaled twice"


def resume_lines(journal: Path) -> list[str]:
    """The lines of ``<journal>.uploads`` (the resume state); none once nothing is pending."""
    path = Path(str(journal) + ".uploads")
    return path.read_text().splitlines() if path.exists() else []


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a CLI subprocess: no AWS configuration leaks in from the host."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def cli_command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "glacierlib_cli", *args]


def run_cli(args: Sequence[str], *, timeout: float = 120, env: Mapping[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    """Run ``mtglacier ARGS`` in a subprocess; stdout and stderr captured as text."""
    return subprocess.run(cli_command(args), capture_output=True, text=True, timeout=timeout,
                          env=dict(env) if env is not None else cli_env(), check=False)


#: The failures a script draws from: HTTP errors, a reset connection, a truncated reply.
FAILURE_KINDS: tuple[str, ...] = ("500", "503", "408", "throttle", "reset", "truncate")


@attrs.frozen
class FaultScript:
    """A scripted sequence of outcomes per operation: ``fraction`` of calls fail.

    The server consumes faults in order per operation. Successful calls are scripted too, as
    ``delay`` faults of zero seconds (a no-op), so the failures are spread through the run
    instead of hitting its first requests; no two failures are adjacent, so no single request
    meets more than a few of them in a row whatever the interleaving of the workers.
    """

    sequences: Mapping[str, tuple[str, ...]]

    @classmethod
    def build(cls, lengths: Mapping[str, int], *, fraction: float, seed: int,
              kinds: Mapping[str, Sequence[str]] | None = None) -> FaultScript:
        rng = random.Random(seed)
        sequences: dict[str, tuple[str, ...]] = {}
        for operation, length in lengths.items():
            allowed = tuple(kinds[operation]) if kinds and operation in kinds else FAILURE_KINDS
            seq = ["ok"] * length
            slots = list(range(1, length, 2))  # odd slots only: never two failures in a row
            chosen = sorted(rng.sample(slots, min(len(slots), round(length * fraction))))
            start = rng.randrange(len(allowed))
            for n, i in enumerate(chosen):  # kinds in turn: every kind early in the run
                seq[i] = allowed[(start + n) % len(allowed)]
            sequences[operation] = tuple(seq)
        return cls(sequences)

    def arm(self, control: ControlClient) -> None:
        for operation, seq in self.sequences.items():
            i = 0
            while i < len(seq):
                j = i
                while j < len(seq) and seq[j] == seq[i]:
                    j += 1
                _inject(control, operation, seq[i], j - i)
                i = j

    def consumed(self, control: ControlClient) -> dict[str, tuple[int, collections.Counter[str]]]:
        """Per operation: requests scripted so far and the failures among them, by kind."""
        pending = control.state().get("faults", {})
        result = {}
        for operation, seq in self.sequences.items():
            used = len(seq) - int(pending.get(operation, 0))
            result[operation] = (used, collections.Counter(k for k in seq[:used] if k != "ok"))
        return result


def _inject(control: ControlClient, operation: str, kind: str, count: int) -> None:
    if kind == "ok":
        control.inject_fault(operation, "delay", count, delay=0.0)
    elif kind == "500":
        control.inject_fault(operation, "error", count, status=500, code="InternalFailure")
    elif kind == "503":
        control.inject_fault(operation, "error", count, status=503,
                             code="ServiceUnavailableException")
    elif kind == "408":
        control.inject_fault(operation, "error", count, status=408,
                             code="RequestTimeoutException")
    elif kind == "throttle":
        control.inject_fault(operation, "error", count, status=400, code="ThrottlingException")
    elif kind in ("reset", "truncate"):
        control.inject_fault(operation, kind, count)
    else:
        raise ValueError(kind)
