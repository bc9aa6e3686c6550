"""Helpers shared by the restore, inventory and check-remote tests (no tests of its own).

Archives are put into the local server with the real store stack (botocore over loopback),
and the journal with ``JournalWriter``, exactly as sync would leave them; commands are run
through ``glacierlib_cli.main.main`` so every test is a CLI-level test.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import attrs

from glacierlib.client import Connection, open_store
from glacierlib.journal import JournalWriter
from glacierlib.localserver import LocalServer
from glacierlib.metadata import encode_mt2
from glacierlib.storage import ArchiveCreated, PartBody, VaultStore
from glacierlib.treehash import tree_hash_bytes
from glacierlib_cli.main import main
from glacierlib_cli.output import Ui

VAULT = "restore-vault"


@attrs.frozen
class CliResult:
    code: int
    out: str
    err: str


def connection_args(server: LocalServer) -> list[str]:
    return ["--endpoint-url", server.endpoint_url, "--region", server.region,
            "--key", server.access_key, "--secret", server.secret_key]


def run_cli(server: LocalServer | None, *args: str | os.PathLike[str]) -> CliResult:
    """Run one mtglacier command against ``server`` (None: an offline command)."""
    out, err = io.StringIO(), io.StringIO()
    argv = [os.fspath(a) for a in args]
    if server is not None:
        argv += connection_args(server)
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv, ui=Ui(stdout=out, stderr=err, tty=False))
    return CliResult(code, out.getvalue(), err.getvalue())


@contextmanager
def server_store(server: LocalServer) -> Iterator[VaultStore]:
    store = open_store(Connection(
        region=server.region, endpoint_url=server.endpoint_url, protocol="http",
        access_key=server.access_key, secret_key=server.secret_key,
    ))
    try:
        yield store
    finally:
        close = getattr(store, "close", None)
        if callable(close):
            close()


def pattern(size: int, seed: int) -> bytes:
    """Deterministic, non-repeating-per-MiB content (so misplaced segments are detected)."""
    block = bytes((i * 31 + seed * 7 + (i >> 8)) % 251 for i in range(65536 + seed % 97))
    data = (block * (size // len(block) + 1))[:size]
    # Stamp every 64 KiB with its offset so two segments never hold the same bytes.
    view = bytearray(data)
    for off in range(0, size, 65536):
        stamp = off.to_bytes(8, "big")
        view[off : off + len(stamp)] = stamp[: max(0, min(8, size - off))]
    return bytes(view)


def upload(
    store: VaultStore, writer: JournalWriter | None, name: str, data: bytes,
    mtime: int | None = 1_600_000_000, *, vault: str = VAULT, description: str | None = None,
) -> ArchiveCreated:
    """Upload one archive with its mt2 description and record it in the journal."""
    if description is None:
        description = encode_mt2(name, mtime if mtime is not None else 0)
    created = store.upload_archive(vault, PartBody.from_bytes(data), description)
    assert created.tree_hash == tree_hash_bytes(data)
    if writer is not None:
        writer.created(created.archive_id, len(data), mtime, created.tree_hash, name)
    return created


def seed_vault(
    server: LocalServer, journal: Path, files: dict[str, bytes], *,
    mtimes: dict[str, int | None] | None = None, vault: str = VAULT,
) -> dict[str, ArchiveCreated]:
    """Create the vault, upload ``files`` and write their journal lines."""
    mtimes = mtimes or {}
    result = {}
    with server_store(server) as store, JournalWriter.open(journal, fsync=False) as writer:
        store.create_vault(vault)
        for name, data in files.items():
            result[name] = upload(store, writer, name, data,
                                  mtimes.get(name, 1_600_000_000 + len(name)), vault=vault)
    return result


def files_in(root: Path) -> dict[str, bytes]:
    """Every regular file under ``root`` by relative name (partial files included)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*")) if p.is_file()
    }
