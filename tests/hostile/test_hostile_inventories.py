"""Hostile inventories and archive descriptions through download-inventory and restore.

* Archives uploaded with hostile descriptions (mt2 of ``../x``, ``/abs``, control characters,
  NUL, line breaks; other tools' formats pointing outside; garbage): download-inventory never
  crashes, names each such archive by its archive id with a report line, and a following
  restore + restore-completed writes nothing outside ``--dir``.
* Inventory bodies with enormous or malformed fields (delivered with the server's ``body``
  reply fault): either a journal of safe names, or exit 1 with one ERROR line and no journal.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hostile_support import (
    AID,
    HASH,
    VAULT,
    Snapshot,
    Workspace,
    assert_no_traceback,
    assert_one_error,
    connection,
    raw_client,
    run,
)

from glacierlib.journal import MAX_ARCHIVE_SIZE, read_journal
from glacierlib.localserver import LocalServer
from glacierlib.metadata import encode_mt2
from glacierlib.names import is_safe_relative_name

MTIME = 1_600_000_000


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


#: Descriptions whose name must never become a path (all printable ASCII, as Glacier wants).
HOSTILE_DESCRIPTIONS = {
    "mt2-dotdot": encode_mt2("../escape.txt", MTIME),
    "mt2-absolute": encode_mt2("/etc/evil.conf", MTIME),
    "mt2-deep-dotdot": encode_mt2("a/../../up.txt", MTIME),
    "mt2-control": encode_mt2("ctl\x01char", MTIME),
    "mt2-nul": encode_mt2("nul\x00byte", MTIME),
    "mt2-newline": encode_mt2("line\nbreak", MTIME),
    "mt2-cr": encode_mt2("carriage\rreturn", MTIME),
    "mt2-tab": encode_mt2("tab\tname", MTIME),
    "mt2-dot": encode_mt2(".", MTIME),
    "mt2-double-slash": encode_mt2("a//b", MTIME),
    "mt2-trailing-slash": encode_mt2("dir/", MTIME),
    "fastglacier-dotdot": f"<m><v>2</v><p>{_b64('../fast.txt')}</p><lm>20200101T000000Z</lm></m>",
    "json-path-dotdot": '{"Path":"../../json.txt"}',
    "mt2-garbage": "mt2 !!!not-base64!!!",
    "mt2-not-json": "mt2 " + base64.urlsafe_b64encode(b"\xff\xfe\x00").decode().rstrip("="),
    "mt1-garbage": "mt1 e30",
    "blank": "   ",
    "long-garbage": "x" * 1024,
}


@pytest.fixture
def server(local_server: LocalServer, capsys: pytest.CaptureFixture[str]) -> LocalServer:
    assert run(capsys, "create-vault", VAULT, *connection(local_server)).code == 0
    return local_server


def _retrieve_inventory(capsys: pytest.CaptureFixture[str], server: LocalServer,
                        fmt: str = "json") -> None:
    server.control.take_inventory(VAULT)
    result = run(capsys, "retrieve-inventory", "--vault", VAULT, "--request-inventory-format",
                 fmt, *connection(server))
    assert result.code == 0, result.text()


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_hostile_descriptions_fall_back_to_archive_ids(
    ws: Workspace, server: LocalServer, capsys: pytest.CaptureFixture[str], fmt: str,
) -> None:
    client = raw_client(server)
    ids: dict[str, str] = {}
    for case, description in HOSTILE_DESCRIPTIONS.items():
        reply = client.upload_archive(vaultName=VAULT, body=f"payload {case}".encode(),
                                      archiveDescription=description)
        ids[case] = reply["archiveId"]
    good = client.upload_archive(vaultName=VAULT, body=b"good",
                                 archiveDescription=encode_mt2("good/file.txt", MTIME))
    _retrieve_inventory(capsys, server, fmt)
    restore_root = ws.base / "restore-here"
    new_journal = ws.base / "rebuilt.log"

    result = run(capsys, "download-inventory", "--vault", VAULT, "--new-journal", new_journal,
                 *connection(server))

    assert_no_traceback(result)
    assert result.code == 0, result.text()
    for case, archive_id in ids.items():
        assert f"Named by archive id {archive_id}" in result.out, case
    names = {e.archive_id: e.name for e in read_journal(new_journal).archives.values()}
    assert names[good["archiveId"]] == "good/file.txt"
    for case, archive_id in ids.items():
        assert names[archive_id] == archive_id, case
    assert all(is_safe_relative_name(n) for n in names.values())
    if fmt == "csv":
        return

    outside = Snapshot(ws.base, ignore=[restore_root])
    restore = run(capsys, "restore", "--dir", restore_root, "--vault", VAULT, "--journal",
                  new_journal, "--max-number-of-files", "100", *connection(server))
    assert restore.code == 0, restore.text()
    completed = run(capsys, "restore-completed", "--dir", restore_root, "--vault", VAULT,
                    "--journal", new_journal, *connection(server))
    assert_no_traceback(completed)
    assert completed.code == 0, completed.text()
    changes = outside.changes()
    assert changes == {"rebuilt.log": "changed"}, "written outside --dir: " + repr(changes)
    restored = {str(p.relative_to(restore_root)): p.read_bytes()
                for p in restore_root.rglob("*") if p.is_file()}
    assert restored["good/file.txt"] == b"good"
    for case, archive_id in ids.items():
        assert restored[archive_id] == f"payload {case}".encode()
    assert len(restored) == len(ids) + 1


def _entry(**fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"ArchiveId": AID, "ArchiveDescription": "x",
                             "CreationDate": "2020-01-01T00:00:00Z", "Size": 3,
                             "SHA256TreeHash": HASH}
    entry.update(fields)
    return entry


def _inventory_json(*entries: dict[str, Any]) -> bytes:
    return json.dumps({"VaultARN": "arn:aws:glacier:us-east-1:0:vaults/hostile",
                       "InventoryDate": "2020-01-01T00:00:00Z",
                       "ArchiveList": [*entries, _entry(ArchiveId="b" * 138)]}).encode()


#: Inventories that are usable: enormous but well-formed fields, hostile descriptions.
USABLE = {
    "enormous-description": _entry(ArchiveDescription="d" * 600_000),
    "enormous-mt2-description": _entry(ArchiveDescription=encode_mt2("n" * 700, MTIME)
                                       + "A" * 300_000),
    "enormous-archive-id": _entry(ArchiveId="i" * 200_000),
    "description-with-nul-and-newline": _entry(ArchiveDescription="a\x00b\nc\r\td"),
    "description-null": _entry(ArchiveDescription=None),
    "largest-valid-size": _entry(Size=MAX_ARCHIVE_SIZE),  # 40 TiB: the journal's limit too
}

#: Inventories that cannot become a journal: exit 1, one line, no journal.
UNUSABLE = {
    "bad-date": (_entry(CreationDate="yesterday"), "CreationDate"),
    "negative-size": (_entry(Size=-1), "Size"),
    "size-is-text": (_entry(Size="12 bytes"), "Size"),
    "bad-tree-hash": (_entry(SHA256TreeHash="zz"), ""),
    "archive-id-missing": (_entry(ArchiveId=None), "ArchiveId"),
    "archive-id-unsafe-as-name": (_entry(ArchiveId="../../x", ArchiveDescription=""), "../../x"),
}


@pytest.mark.parametrize("case", sorted(USABLE))
def test_enormous_fields_give_a_safe_journal(
    ws: Workspace, server: LocalServer, capsys: pytest.CaptureFixture[str], case: str,
) -> None:
    _retrieve_inventory(capsys, server)
    server.control.inject_fault("GetJobOutput", "body", payload=_inventory_json(USABLE[case]))
    new_journal = ws.base / "rebuilt.log"
    result = run(capsys, "download-inventory", "--vault", VAULT, "--new-journal", new_journal,
                 *connection(server))
    assert_no_traceback(result)
    assert result.code == 0, result.text()
    state = read_journal(new_journal, strict=True)
    assert len(state.archives) == 2
    assert all(is_safe_relative_name(e.name) for e in state.archives.values())
    assert max(len(line) for line in result.out.splitlines()) < 300_000


@pytest.mark.parametrize("case", sorted(UNUSABLE))
def test_malformed_fields_refuse_the_inventory(
    ws: Workspace, server: LocalServer, capsys: pytest.CaptureFixture[str], case: str,
) -> None:
    entry, needle = UNUSABLE[case]
    _retrieve_inventory(capsys, server)
    server.control.inject_fault("GetJobOutput", "body", payload=_inventory_json(entry))
    new_journal = ws.base / "rebuilt.log"
    snapshot = Snapshot(ws.base)
    result = run(capsys, "download-inventory", "--vault", VAULT, "--new-journal", new_journal,
                 *connection(server))
    assert_one_error(result, 1, needle)
    assert f"inventory of vault '{VAULT}' (job " in result.err  # which inventory, too
    assert not new_journal.exists()
    assert snapshot.changes() == {}


@pytest.mark.parametrize("entry", [_entry(Size=10**25), _entry(Size=MAX_ARCHIVE_SIZE + 1),
                                   _entry(Size=2**63), _entry(ArchiveId="a b")],
                         ids=["size-too-big", "size-over-40-tib", "size-2-63",
                              "archive-id-with-space"])
def test_out_of_range_fields_are_inventory_errors(
    ws: Workspace, server: LocalServer, capsys: pytest.CaptureFixture[str],
    entry: dict[str, Any],
) -> None:
    _retrieve_inventory(capsys, server)
    server.control.inject_fault("GetJobOutput", "body", payload=_inventory_json(entry))
    new_journal = ws.base / "rebuilt.log"
    result = run(capsys, "download-inventory", "--vault", VAULT, "--new-journal", new_journal,
                 *connection(server))
    assert_one_error(result, 1)
    assert not new_journal.exists()


def test_enormous_csv_description(
    ws: Workspace, server: LocalServer, capsys: pytest.CaptureFixture[str],
) -> None:
    _retrieve_inventory(capsys, server, "csv")
    body = ("ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\n"
            f'{AID},"{"q" * 500_000}, \\"quoted\\"",2020-01-01T00:00:00Z,3,{HASH}\n'
            f"{'b' * 138},{encode_mt2('../x', MTIME)},2020-01-01T00:00:00Z,3,{HASH}\n")
    server.control.inject_fault("GetJobOutput", "body", payload=body.encode())
    new_journal = ws.base / "rebuilt.log"
    result = run(capsys, "download-inventory", "--vault", VAULT, "--new-journal", new_journal,
                 *connection(server))
    assert_no_traceback(result)
    assert result.code == 0, result.text()
    names = {e.archive_id: e.name for e in read_journal(new_journal).archives.values()}
    assert names == {AID: AID, "b" * 138: "b" * 138}
