"""A lost journal (issue 7, "What happens when..."): rebuilt from the vault's inventory.

The journal is the only local record of which archive holds which file. When it is lost, the
vault's inventory (archive ids, sizes, tree hashes and the descriptions mtglacier wrote, which
carry each file's name and mtime) rebuilds it: ``retrieve-inventory`` then
``download-inventory --new-journal``. The rebuilt journal names the same archives, a sync with
it uploads nothing again, and a restore with it gives the files back byte for byte.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer, ServerConfig, running_server
from glacierlib_cli.main import main

from .support import (
    MIB,
    Endpoint,
    assert_vault_matches_journal,
    make_tree,
    read_tree,
)

VAULT = "amnesia"


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with running_server(config=ServerConfig()) as srv:
        yield srv


def test_lost_journal_is_rebuilt_from_the_inventory(
    server: LocalServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ep = Endpoint.of(server)
    root, journal = tmp_path / "data", tmp_path / "journal.log"
    files = make_tree(root, small=8, big_sizes=(2 * MIB + 77,), seed=51)
    assert main(["create-vault", VAULT, *ep.args()]) == 0
    sync = ["sync", "--dir", str(root), "--vault", VAULT, "--partsize", "1", *ep.args()]
    assert main([*sync, "--journal", str(journal)]) == 0
    original = read_journal(journal, strict=True)
    journal.unlink()  # lost

    server.control.take_inventory(VAULT)  # Glacier's daily inventory snapshot
    rebuilt = tmp_path / "rebuilt.log"
    assert main(["retrieve-inventory", "--vault", VAULT, *ep.args()]) == 0
    assert main(["download-inventory", "--vault", VAULT, "--new-journal", str(rebuilt),
                 *ep.args()]) == 0
    state = read_journal(rebuilt, strict=True)
    assert {(e.archive_id, e.name, e.size, e.tree_hash, e.mtime)
            for e in state.archives.values()} == {
        (e.archive_id, e.name, e.size, e.tree_hash, e.mtime)
        for e in original.archives.values()}
    assert_vault_matches_journal(server.control, VAULT, rebuilt)

    # A sync with the rebuilt journal has nothing to upload again.
    server.control.reset_stats()
    assert main([*sync, "--journal", str(rebuilt)]) == 0
    requests = server.control.stats()["requests"]
    assert not requests.get("UploadArchive") and not requests.get("InitiateMultipartUpload")

    # And a restore with it gives every file back, byte for byte.
    shutil.rmtree(root)
    root.mkdir()
    common = ["--dir", str(root), "--vault", VAULT, "--journal", str(rebuilt), *ep.args()]
    assert main(["restore", "--max-number-of-files", "100", *common]) == 0
    assert main(["restore-completed", *common]) == 0
    assert read_tree(root) == files
    capsys.readouterr()
