"""check-remote: the journal against the newest finished inventory, through the CLI."""

from __future__ import annotations

import time
from pathlib import Path

from restore_support import VAULT, run_cli, server_store, upload

from glacierlib.journal import JournalWriter
from glacierlib.localserver import LocalServer
from glacierlib.treehash import TreeHash


def _inventory(server: LocalServer, fmt: str = "json") -> None:
    server.control.take_inventory(VAULT)
    assert run_cli(server, "retrieve-inventory", "--vault", VAULT,
                   "--request-inventory-format", fmt).code == 0


def _check(server: LocalServer, journal: Path):  # type: ignore[no-untyped-def]
    return run_cli(server, "check-remote", "--vault", VAULT, "--journal", journal)


def test_clean_vault_passes(local_server: LocalServer, tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    with server_store(local_server) as store, JournalWriter.open(journal, fsync=False) as w:
        store.create_vault(VAULT)
        for name in ("a", "b/c"):
            upload(store, w, name, name.encode() * 100)
    _inventory(local_server, "csv")
    result = _check(local_server, journal)
    assert result.code == 0, result.out + result.err
    assert "2 archives in inventory, 2 OK" in result.out


def test_finds_orphan_missing_mismatch_and_not_yet(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    journal = tmp_path / "journal"
    old = int(time.time()) - 3 * 86400
    with server_store(local_server) as store, JournalWriter.open(journal, fsync=False) as w:
        store.create_vault(VAULT)
        kept = upload(store, None, "kept", b"k" * 10)
        w.created(kept.archive_id, 10, 1, kept.tree_hash, "kept", time=old)
        gone = upload(store, None, "gone", b"g" * 10)
        w.created(gone.archive_id, 10, 1, gone.tree_hash, "gone", time=old)
        wrong = upload(store, None, "wrong", b"w" * 10)
        w.created(wrong.archive_id, 10, 1, TreeHash(b"\x01" * 32), "wrong", time=old)
        orphan = upload(store, None, "orphan", b"o" * 10)  # no journal line
        store.delete_archive(VAULT, gone.archive_id)
        _inventory(local_server)
        late = upload(store, None, "late", b"l" * 10)  # after the inventory snapshot
        w.created(late.archive_id, 10, 1, late.tree_hash, "late", time=int(time.time()) + 60)

    result = _check(local_server, journal)
    assert result.code == 1
    lines = result.out.splitlines()
    assert any(x.startswith(f"ORPHAN (not in journal) orphan archive_id {orphan.archive_id}: "
                            "10 bytes") for x in lines)
    assert any(x.startswith(f"MISSING in vault gone archive_id {gone.archive_id}")
               for x in lines)
    assert any(x.startswith(f"TREEHASH MISMATCH wrong archive_id {wrong.archive_id}")
               for x in lines)
    assert any(x.startswith(f"NOT YET IN INVENTORY late archive_id {late.archive_id}")
               for x in lines)
    assert "1 MISSING in vault" in lines and "1 ORPHAN (not in journal)" in lines
    assert "check-remote reported errors" in result.err


def test_inventory_lag_alone_is_not_a_failure(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    """Uploads and deletions after the snapshot are the inventory's lag, not mismatches."""
    journal = tmp_path / "journal"
    day_ago = int(time.time()) - 86400
    with server_store(local_server) as store, JournalWriter.open(journal, fsync=False) as w:
        store.create_vault(VAULT)
        first = upload(store, None, "first", b"1")
        w.created(first.archive_id, 1, 1, first.tree_hash, "first", time=day_ago)
        purged = upload(store, None, "purged", b"p")
        w.created(purged.archive_id, 1, 1, purged.tree_hash, "purged", time=day_ago)
        _inventory(local_server)
        upload(store, w, "second", b"2", 1)  # journal time "now": after the snapshot
        store.delete_archive(VAULT, purged.archive_id)
        w.deleted(purged.archive_id, "purged", time=int(time.time()) + 5)
    result = _check(local_server, journal)
    assert result.code == 0, result.out
    lines = result.out.splitlines()
    assert "1 NOT YET IN INVENTORY" in lines
    assert "1 DELETED SINCE INVENTORY" in lines
    assert "0 ORPHAN (not in journal)" in lines


def test_no_inventory_exits_75(local_server: LocalServer, tmp_path: Path) -> None:
    with server_store(local_server) as store:
        store.create_vault(VAULT)
    result = _check(local_server, tmp_path / "journal")
    assert result.code == 75


def test_an_orphan_identical_to_a_journaled_file_is_named_an_extra_copy(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    """What a lost UploadArchive reply leaves: a second archive of a journaled file."""
    journal = tmp_path / "journal"
    with server_store(local_server) as store, JournalWriter.open(journal, fsync=False) as w:
        store.create_vault(VAULT)
        kept = upload(store, w, "photo.jpg", b"p" * 100)
        extra = upload(store, None, "photo.jpg", b"p" * 100)  # same file, not journaled
        other = upload(store, None, "photo.jpg", b"q" * 100)  # same name, other content
    _inventory(local_server)
    result = _check(local_server, journal)
    assert result.code == 1
    lines = result.out.splitlines()
    twin = [x for x in lines if extra.archive_id in x]
    assert len(twin) == 1 and twin[0].startswith("ORPHAN (not in journal) photo.jpg")
    assert twin[0].endswith(f"an extra copy of journaled archive {kept.archive_id} (same size "
                            "and tree hash): deleting it loses nothing")
    unlike = [x for x in lines if other.archive_id in x]
    assert len(unlike) == 1 and "extra copy" not in unlike[0]
