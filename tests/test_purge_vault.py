"""``mtglacier purge-vault``: every journal archive deleted, journaled, vault left empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer
from glacierlib_cli.main import main

VAULT = "purge-me"


def connection(server: LocalServer) -> list[str]:
    return ["--endpoint-url", server.endpoint_url, "--key", server.access_key,
            "--secret", server.secret_key, "--region", server.region, "--protocol", "http"]


def test_purge_vault(local_server: LocalServer, tmp_path: Path,
                     capsys: pytest.CaptureFixture[str]) -> None:
    conn = connection(local_server)
    assert main(["create-vault", VAULT, *conn]) == 0
    root = tmp_path / "data"
    root.mkdir()
    for name in ("a", "b", "c.log"):
        (root / name).write_bytes(name.encode() * 10)
    journal = tmp_path / "j.log"
    base = ["--vault", VAULT, "--journal", str(journal), *conn]
    assert main(["sync", "--dir", str(root), *base]) == 0
    capsys.readouterr()

    local_server.control.reset_stats()
    assert main(["purge-vault", "--dry-run", *base]) == 0
    out = capsys.readouterr().out
    assert out.count("Will DELETE archive ") == 3
    assert local_server.control.stats()["requests"] == {}

    assert main(["purge-vault", "--exclude", "*.log", *base]) == 0
    assert "Deleted 2 of 2 archive(s)" in capsys.readouterr().out
    assert {e.name for e in read_journal(journal).archives.values()} == {"c.log"}
    archives = local_server.control.state()["vaults"][VAULT]["archives"]
    assert [a["archive_id"] for a in archives] == list(read_journal(journal).archives)

    assert main(["purge-vault", *base]) == 0
    assert local_server.control.state()["vaults"][VAULT]["archives"] == []
    assert len(read_journal(journal).archives) == 0
    assert journal.read_text().count("\tDELETED\t") == 3

    assert main(["purge-vault", *base]) == 0
    assert "Nothing to delete" in capsys.readouterr().out
