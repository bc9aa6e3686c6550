"""retrieve-inventory and download-inventory through the CLI against the local server."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from restore_support import (
    VAULT,
    files_in,
    pattern,
    run_cli,
    seed_vault,
    server_store,
    upload,
)

from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer, ServerConfig, running_server
from glacierlib.metadata import encode_mt2


def _inventory(server: LocalServer, fmt: str = "json") -> str:
    server.control.take_inventory(VAULT)
    result = run_cli(server, "retrieve-inventory", "--vault", VAULT,
                     "--request-inventory-format", fmt)
    assert result.code == 0, result.err
    assert "Retrieved Inventory, job id" in result.out
    return result.out.split("job id ")[1].split()[0]


def _download(server: LocalServer, new_journal: Path):  # type: ignore[no-untyped-def]
    return run_cli(server, "download-inventory", "--vault", VAULT, "--new-journal", new_journal)


def _entries(journal: Path) -> set[tuple[str, int, int | None, str, str]]:
    state = read_journal(journal)
    return {(e.archive_id, e.size, e.mtime, e.tree_hash.hex, e.name)
            for e in state.archives.values()}


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_rebuilt_journal_matches_and_check_local_hash_passes(
    local_server: LocalServer, tmp_path: Path, fmt: str,
) -> None:
    journal = tmp_path / "journal"
    root = tmp_path / "data"
    files = {"a.txt": b"alpha", "Я/b c,\"d\".bin": pattern(40_000, 3), "e": pattern(10, 4)}
    seed_vault(local_server, journal, files)
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    job_id = _inventory(local_server, fmt)

    new_journal = tmp_path / "rebuilt" / "journal"
    result = _download(local_server, new_journal)
    assert result.code == 0, result.err
    assert f"job id {job_id}" in result.out
    assert f"in {fmt.upper()} format" in result.out
    assert _entries(new_journal) == _entries(journal)
    assert not [p for p in new_journal.parent.iterdir() if p != new_journal]  # no temp left

    if importlib.util.find_spec("glacierlib_cli.commands.check_local_hash") is not None:
        check = run_cli(None, "check-local-hash", "--dir", root, "--journal",
                        new_journal)
        assert check.code == 0, check.out + check.err


def test_hostile_inventory_writes_nothing_outside_dir(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    workspace = tmp_path / "work"
    workspace.mkdir()
    root = workspace / "restore-here"
    hostile = ["../escape.txt", "/etc/evil.conf", "ctl\x01char", "a/../../up.txt",
               "tab\tname"]
    with server_store(local_server) as store:
        store.create_vault(VAULT)
        ids = {name: upload(store, None, name, f"payload {name}".encode(),
                            description=encode_mt2(name, 1_600_000_000)).archive_id
               for name in hostile}
        good = upload(store, None, "good/file.txt", b"good").archive_id
        foreign = upload(store, None, "x", b"foreign", description="my own backup").archive_id
        # Other tools' metadata: FastGlacier v2 (base64 path) and glacier-rsync (absolute).
        fast = upload(store, None, "f", b"fast", description=(
            "<m><v>2</v><p>ZmFzdC9nbGFjaWVyLnR4dA==</p><lm>20200101T000000Z</lm></m>"))
        grsync = upload(store, None, "g", b"grsync",
                        description="grsync|/home/u/pics/g.jpg|6|1577836800.5|").archive_id
    _inventory(local_server)
    new_journal = workspace / "journal"
    result = _download(local_server, new_journal)
    assert result.code == 0, result.err
    for name, archive_id in ids.items():
        assert f"Named by archive id {archive_id}: unsafe file name {name!r}" in result.out
    assert f"Named by archive id {foreign}: description not recognised" in result.out
    names = {e.name: e.archive_id for e in read_journal(new_journal).archives.values()}
    assert names["good/file.txt"] == good
    assert names["fast/glacier.txt"] == fast.archive_id
    assert names["home/u/pics/g.jpg"] == grsync
    assert set(names) == {"good/file.txt", "fast/glacier.txt", "home/u/pics/g.jpg", foreign,
                          *ids.values()}

    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert run_cli(local_server, "restore", "--dir", root, "--vault", VAULT, "--journal",
                   new_journal, "--max-number-of-files", "100").code == 0
    assert run_cli(local_server, "restore-completed", "--dir", root, "--vault", VAULT,
                   "--journal", new_journal).code == 0
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    outside = [p for p in after if p not in before and not str(p).startswith("work/restore-here")]
    assert outside == []
    restored = files_in(root)
    assert restored["good/file.txt"] == b"good"
    assert restored[ids["../escape.txt"]] == b"payload ../escape.txt"
    assert restored["fast/glacier.txt"] == b"fast"
    assert len(restored) == len(hostile) + 4


def test_newest_inventory_wins(local_server: LocalServer, tmp_path: Path) -> None:
    seed_vault(local_server, tmp_path / "j", {"old": b"1"})
    _inventory(local_server, "csv")
    local_server.control.advance_clock(3600)
    with server_store(local_server) as store:
        upload(store, None, "new", b"2")
    _inventory(local_server, "json")
    new_journal = tmp_path / "rebuilt"
    result = _download(local_server, new_journal)
    assert result.code == 0, result.err
    assert {e.name for e in read_journal(new_journal).archives.values()} == {"old", "new"}


def test_no_finished_inventory_exits_75(tmp_path: Path) -> None:
    with running_server(config=ServerConfig(inventory_delay=7200)) as server:
        seed_vault(server, tmp_path / "j", {"f": b"x"})
        nothing = _download(server, tmp_path / "new")
        assert nothing.code == 75
        assert "retrieve-inventory" in nothing.err
        _inventory(server)
        pending = _download(server, tmp_path / "new")
        assert pending.code == 75
        assert "1 still in progress" in pending.err
        assert not (tmp_path / "new").exists()
        server.control.advance_clock(7201)
        assert _download(server, tmp_path / "new").code == 0


def test_refuses_non_empty_new_journal(local_server: LocalServer, tmp_path: Path) -> None:
    seed_vault(local_server, tmp_path / "j", {"f": b"x"})
    _inventory(local_server)
    existing = tmp_path / "existing"
    existing.write_text("keep me\n")
    result = _download(local_server, existing)
    assert result.code == 2
    assert "not empty" in result.err
    assert existing.read_text() == "keep me\n"
