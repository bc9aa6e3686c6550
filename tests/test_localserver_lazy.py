"""Opening a data directory does not read a vault's archive table or snapshot (#13).

They are stored apart from the vault's document (``meta/vault-NAME.json.archives`` and
``.snapshot``) and read when something needs them; uploads in between are laid over the
table. Every acknowledged archive must still be there after a restart, and directories
written in one piece by older versions must still load.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import botocore.session
from botocore.config import Config

from glacierlib.localserver import LocalServer, running_server
from glacierlib.localserver.model import LazyArchives

_SESSION = botocore.session.get_session()


def _client(server: LocalServer) -> Any:
    return _SESSION.create_client("glacier", config=Config(retries={"max_attempts": 0}),
                                  **server.client_kwargs())


def _archive_ids(server: LocalServer) -> set[str]:
    return {a["archive_id"] for a in server.control.state()["vaults"]["v"]["archives"]}


def _stored_apart(tmp_path: Path) -> None:
    meta = tmp_path / "meta"
    assert (meta / "vault-v.json.archives").exists()
    assert (meta / "vault-v.json.snapshot").exists()
    header = json.loads((meta / "vault-v.json").read_text())
    assert "archives" not in header and "snapshot" not in header


def test_uploads_after_a_restart_leave_the_table_unread_and_nothing_is_lost(
        tmp_path: Path) -> None:
    with running_server(tmp_path) as server:
        client = _client(server)
        client.create_vault(vaultName="v")
        before = [client.upload_archive(vaultName="v", body=b"%d" % i)["archiveId"]
                  for i in range(3)]
        server.control.take_inventory("v")  # a new snapshot: the vault is written apart
    _stored_apart(tmp_path)
    with running_server(tmp_path) as server:
        client = _client(server)
        after = [client.upload_archive(vaultName="v", body=b"more %d" % i)["archiveId"]
                 for i in range(2)]
        client.delete_archive(vaultName="v", archiveId=before[0])  # reads the table
        table = server.service.vaults["v"].archives
        assert isinstance(table, LazyArchives) and table.loaded
    with running_server(tmp_path) as server:
        client = _client(server)
        more = client.upload_archive(vaultName="v", body=b"last")["archiveId"]
        table = server.service.vaults["v"].archives
        assert isinstance(table, LazyArchives) and not table.loaded
        assert _archive_ids(server) == {*before[1:], *after, more}
        assert table.loaded
        # The snapshot, read on demand, is the one taken before the first restart.
        assert client.describe_vault(vaultName="v")["NumberOfArchives"] == 3


def test_a_vault_written_in_one_piece_still_loads_and_is_split(tmp_path: Path) -> None:
    (tmp_path / "meta").mkdir(parents=True)
    now = time.time()
    archives = [{"archive_id": f"old{i:0135d}", "description": f"d{i}", "created": now - 60,
                 "size": 0, "tree_hash": "e3b0c44298fc1c149afbf4c8996fb924"
                 "27ae41e4649b934ca495991b7852b855", "segments": []} for i in range(1200)]
    doc = {"name": "v", "created": now - 120, "archives": archives, "retained": [],
           "uploads": [], "finished_uploads": {}, "jobs": [], "notifications": None,
           "tags": {}, "access_policy": None, "lock": None,
           "snapshot": {"taken_at": now - 30, "items": []}, "dirty": False,
           "next_inventory_at": None}
    (tmp_path / "meta" / "vault-v.json").write_text(json.dumps(doc))
    with running_server(tmp_path) as server:
        assert len(_archive_ids(server)) == 1200
    _stored_apart(tmp_path)
    with running_server(tmp_path) as server:
        assert _archive_ids(server) == {a["archive_id"] for a in archives}
        assert _client(server).describe_vault(vaultName="v")["NumberOfArchives"] == 0


def test_a_crash_between_writing_the_table_and_its_document_loses_nothing(
        tmp_path: Path) -> None:
    meta = tmp_path / "meta"
    with running_server(tmp_path) as server:
        client = _client(server)
        client.create_vault(vaultName="v")
        ids = [client.upload_archive(vaultName="v", body=b"%d" % i)["archiveId"]
               for i in range(3)]
        server.control.take_inventory("v")
        ids += [client.upload_archive(vaultName="v", body=b"late")["archiveId"]]
        client.delete_archive(vaultName="v", archiveId=ids.pop(0))
    old = {name: (meta / name).read_bytes() for name in ("vault-v.json", "vault-v.log")}
    with running_server(tmp_path) as server:
        server.control.advance_clock(60)
        server.control.take_inventory("v")  # compaction: new table, document, empty log
    log = meta / "vault-v.log"
    assert not log.exists() or not log.read_bytes()
    # Killed after the new table was in place but before the document and log were.
    for name, data in old.items():
        (meta / name).write_bytes(data)
    with running_server(tmp_path) as server:
        assert _archive_ids(server) == set(ids)
