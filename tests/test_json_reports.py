"""``--format json``: every command prints one document that follows docs/json-report.md.

The schema is checked by a small JSON-schema-like checker written here (no dependency): the
common frame with its types, file and failure objects, and, per command, exactly the ``counts``
and ``bytes`` keys and at least the extra keys that docs/json-report.md lists (parsed from the
document itself, so the documentation cannot drift from the output). Commands run through the
CLI, real botocore and the local server over loopback.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from glacierlib.localserver import LocalServer
from tests.restore_support import VAULT, CliResult, run_cli

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "json-report.md"

# -- the checker ------------------------------------------------------------------------------

Schema = Any  # a type, a tuple of types, a dict (object with required keys), or [item schema]

FILE = {"name": str, "action": str, "status": str, "size": (int, type(None)),
        "archive_id": (str, type(None))}
FAILURE = {"name": str, "reason": str}
FRAME: dict[str, Schema] = {
    "schema_version": int, "command": str, "ok": bool, "exit_code": int, "dry_run": bool,
    "elapsed_seconds": (int, float), "counts": "int-map", "bytes": "int-map",
    "files": [FILE], "failures": [FAILURE], "warnings": [str], "in_doubt": [str],
    "error": (type(None), {"type": str, "message": str}),
}


def conforms(value: Any, schema: Schema, where: str = "$") -> list[str]:
    """Problems of ``value`` against ``schema`` (empty when it conforms)."""
    if schema == "int-map":
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        return [f"{where}.{k}: not an integer" for k, v in value.items()
                if not isinstance(v, int) or isinstance(v, bool)]
    if isinstance(schema, list):
        if not isinstance(value, list):
            return [f"{where}: not an array"]
        return [p for i, item in enumerate(value) for p in conforms(item, schema[0],
                                                                      f"{where}[{i}]")]
    if isinstance(schema, dict):
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        problems = [f"{where}: missing {key!r}" for key in schema if key not in value]
        for key, sub in schema.items():
            if key in value:
                problems += conforms(value[key], sub, f"{where}.{key}")
        return problems
    if isinstance(schema, tuple):
        options = [s for s in schema]
        if any(not conforms(value, s, where) for s in options):
            return []
        return [f"{where}: {value!r} matches none of {schema}"]
    if schema is int and isinstance(value, bool):
        return [f"{where}: a boolean, not an integer"]
    return [] if isinstance(value, schema) else [f"{where}: {value!r} is not {schema.__name__}"]


def documented() -> dict[str, dict[str, set[str]]]:
    """``counts``, ``bytes`` and ``extra keys`` per command, read from docs/json-report.md."""
    commands: dict[str, dict[str, set[str]]] = {}
    current: dict[str, set[str]] | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"### ([a-z-]+)", line)
        if heading:
            current = commands.setdefault(heading.group(1), {})
            continue
        item = re.fullmatch(r"- (counts|bytes|extra keys): (.*)", line)
        if item and current is not None:
            keys = set(re.findall(r"`([^`]+)`", item.group(2)))
            current[item.group(1)] = keys
    return commands


DOCUMENTED = documented()


def check(result: CliResult, command: str, code: int = 0) -> dict[str, Any]:
    """Parse standard output as one JSON document and check it; return it."""
    assert result.code == code, (result.out, result.err)
    doc = json.loads(result.out)  # the whole of standard output: one document, no OK DONE
    assert "OK DONE" not in result.out
    problems = conforms(doc, FRAME)
    assert not problems, problems
    assert doc["schema_version"] == 1 and doc["command"] == command
    assert doc["exit_code"] == code and doc["ok"] == (code == 0)
    if doc["error"] is None:
        spec = DOCUMENTED[command]
        assert set(doc["counts"]) == spec["counts"], command
        assert set(doc["bytes"]) == spec["bytes"], command
        assert spec["extra keys"] <= set(doc), command
    return doc


def test_the_document_lists_every_command_with_json() -> None:
    expected = {"sync", "upload-file", "check-local-hash", "purge-vault", "restore",
                "restore-completed", "retrieve-inventory", "download-inventory",
                "check-remote", "list-vaults", "list-jobs", "list-uploads", "abort-uploads",
                "create-vault", "delete-vault"}
    assert set(DOCUMENTED) == expected
    for name, spec in DOCUMENTED.items():
        assert set(spec) == {"counts", "bytes", "extra keys"}, name
    for key in FRAME:
        assert f"| `{key}` |" in DOC.read_text(encoding="utf-8")


def test_the_checker_catches_what_it_should() -> None:
    good = {"schema_version": 1, "command": "x", "ok": True, "exit_code": 0, "dry_run": False,
            "elapsed_seconds": 0.5, "counts": {"a": 1}, "bytes": {}, "files": [],
            "failures": [], "warnings": [], "in_doubt": [], "error": None}
    assert conforms(good, FRAME) == []
    assert conforms({**good, "counts": {"a": "1"}}, FRAME) == ["$.counts.a: not an integer"]
    assert conforms({**good, "exit_code": True}, FRAME) == [
        "$.exit_code: a boolean, not an integer"]
    assert conforms({**good, "files": [{"name": "n"}]}, FRAME)
    assert conforms({**good, "error": {"type": "E"}}, FRAME)
    missing = dict(good)
    del missing["in_doubt"]
    assert conforms(missing, FRAME) == ["$: missing 'in_doubt'"]


# -- every command ----------------------------------------------------------------------------


def _tree(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def test_every_command_prints_one_documented_report(local_server: LocalServer,
                                                    tmp_path: Path) -> None:
    s = local_server
    root, journal = tmp_path / "data", tmp_path / "journal"
    _tree(root, {"a.txt": b"a" * 100, "sub/b.bin": b"b" * 3000, "empty": b""})
    j = ("--journal", journal)

    doc = check(run_cli(s, "create-vault", VAULT, "--format", "json"), "create-vault")
    assert doc["vault"] == VAULT and doc["counts"] == {"vaults_created": 1}

    plan = check(run_cli(s, "sync", "--dir", root, "--vault", VAULT, *j, "--dry-run",
                         "--format", "json"), "sync")
    assert plan["dry_run"] and {(f["name"], f["status"]) for f in plan["files"]} == {
        ("a.txt", "planned"), ("sub/b.bin", "planned"), ("empty", "planned")}

    synced = check(run_cli(s, "sync", "--dir", root, "--vault", VAULT, *j, "--format",
                           "json"), "sync")
    uploads = {f["name"]: f for f in synced["files"] if f["action"] == "upload"}
    assert set(uploads) == {"a.txt", "sub/b.bin"}
    assert synced["counts"]["uploaded"] == 2 and synced["bytes"]["uploaded"] == 3100
    assert synced["counts"]["skipped_zero_size"] == 1
    from glacierlib.journal import read_journal

    live = {e.name: e.archive_id for e in read_journal(journal).archives.values()}
    assert {n: f["archive_id"] for n, f in uploads.items()} == live  # ids, as journaled

    (root / "c.dat").write_bytes(b"c" * 50)
    one = check(run_cli(s, "upload-file", "--vault", VAULT, *j, "--dir", root, "--filename",
                        root / "c.dat", "--format", "json"), "upload-file")
    assert one["files"][0]["name"] == "c.dat" and one["files"][0]["archive_id"]

    checked = check(run_cli(None, "check-local-hash", "--dir", root, *j, "--format", "json"),
                    "check-local-hash")
    assert checked["counts"]["ok"] == 3 and checked["failures"] == []
    (root / "a.txt").write_bytes(b"A" * 100)
    bad = check(run_cli(None, "check-local-hash", "--dir", root, *j, "--format", "json"),
                "check-local-hash", code=1)
    assert [(f["name"], f["kind"]) for f in bad["failures"]] == [("a.txt", "treehash_mismatch")]
    check(run_cli(None, "check-local-hash", "--dir", root, *j, "--dry-run", "--format",
                  "json"), "check-local-hash")

    vaults = check(run_cli(s, "list-vaults", "--format", "json"), "list-vaults")
    assert [v["VaultName"] for v in vaults["VaultList"]] == [VAULT]
    check(run_cli(s, "list-uploads", "--vault", VAULT, "--format", "json"), "list-uploads")
    check(run_cli(s, "abort-uploads", "--vault", VAULT, "--format", "json"), "abort-uploads")

    target = tmp_path / "restored"
    dry = check(run_cli(s, "restore", "--dir", target, "--vault", VAULT, *j,
                        "--max-number-of-files", "9", "--dry-run", "--format", "json"),
                "restore")
    assert dry["counts"]["planned"] == 3 and all(f["archive_id"] for f in dry["files"])
    started = check(run_cli(s, "restore", "--dir", target, "--vault", VAULT, *j,
                            "--max-number-of-files", "9", "--format", "json"), "restore")
    assert sorted(f["name"] for f in started["files"]) == ["a.txt", "c.dat", "sub/b.bin"]
    assert all(f["job_id"] and f["archive_id"] for f in started["files"])
    jobs = check(run_cli(s, "list-jobs", "--vault", VAULT, *j, "--format", "json"),
                 "list-jobs")
    assert jobs["counts"]["jobs"] == 3 and len(jobs["JobList"]) == 3
    got = check(run_cli(s, "restore-completed", "--dir", target, "--vault", VAULT, *j,
                        "--format", "json"), "restore-completed")
    assert got["counts"]["downloaded"] == 3 and got["bytes"]["downloaded"] == 3150
    assert {f["name"]: f["archive_id"] for f in got["files"]} == {
        **live, "c.dat": one["files"][0]["archive_id"]}

    s.control.take_inventory(VAULT)
    inv = check(run_cli(s, "retrieve-inventory", "--vault", VAULT, "--format", "json"),
                "retrieve-inventory")
    assert inv["job_id"]
    rebuilt = check(run_cli(s, "download-inventory", "--vault", VAULT, "--new-journal",
                            tmp_path / "rebuilt", "--format", "json"), "download-inventory")
    assert rebuilt["counts"]["archives"] == 3 and rebuilt["job_id"] == inv["job_id"]
    remote = check(run_cli(s, "check-remote", "--vault", VAULT, *j, "--format", "json"),
                   "check-remote")
    assert remote["counts"]["matched"] == 3 and remote["files"] == []

    purged = check(run_cli(s, "purge-vault", "--vault", VAULT, *j, "--format", "json"),
                   "purge-vault")
    assert purged["counts"]["deleted"] == 3
    assert sorted(f["archive_id"] for f in purged["files"]) == sorted(
        [*live.values(), one["files"][0]["archive_id"]])
    assert run_cli(s, "create-vault", "spare").code == 0  # VAULT was written to recently
    gone = check(run_cli(s, "delete-vault", "spare", "--format", "json"), "delete-vault")
    assert gone["vault"] == "spare"


def test_a_run_stopped_by_an_error_still_prints_one_document(local_server: LocalServer,
                                                            tmp_path: Path) -> None:
    root = tmp_path / "data"
    _tree(root, {"a": b"a"})
    result = run_cli(local_server, "sync", "--dir", root, "--vault", "no-such-vault",
                     "--journal", tmp_path / "j", "--format", "json")
    doc = check(result, "sync", code=1)
    assert doc["error"]["type"] and "no-such-vault" in doc["error"]["message"]
    assert "ERROR:" in result.err  # the human line stays on standard error


def test_possible_extra_copies_and_warnings_are_in_the_report(local_server: LocalServer,
                                                              tmp_path: Path) -> None:
    root = tmp_path / "data"
    _tree(root, {"lost-reply": b"x" * 500})
    assert run_cli(local_server, "create-vault", VAULT).code == 0
    local_server.control.inject_fault("UploadArchive", "truncate", 1)  # stored, reply lost
    doc = check(run_cli(local_server, "sync", "--dir", root, "--vault", VAULT, "--journal",
                        tmp_path / "j", "--concurrency", "1", "--format", "json"), "sync")
    assert doc["in_doubt"] == ["lost-reply"] and doc["counts"]["in_doubt"] == 1
    assert any("reply to an earlier upload attempt was lost" in w for w in doc["warnings"])


def test_restore_completed_without_any_job_is_66_with_the_names(
    local_server: LocalServer, tmp_path: Path,
) -> None:
    from tests.restore_support import seed_vault

    journal = tmp_path / "journal"
    seed_vault(local_server, journal, {"f": b"data", "g": b"more"})
    result = run_cli(local_server, "restore-completed", "--dir", tmp_path / "r", "--vault",
                     VAULT, "--journal", journal, "--format", "json")
    doc = check(result, "restore-completed", code=66)
    assert doc["without_job"] == ["f", "g"] and doc["counts"]["no_job"] == 2
    assert {f["status"] for f in doc["files"]} == {"no_job"}
    # Nothing selected at all is still plain success.
    empty = tmp_path / "empty-journal"
    empty.write_text("")
    nothing = run_cli(local_server, "restore-completed", "--dir", tmp_path / "r", "--vault",
                      VAULT, "--journal", empty)
    assert nothing.code == 0 and "Nothing to download" in nothing.out


def test_restore_completed_with_some_jobs_ready_is_success(local_server: LocalServer,
                                                           tmp_path: Path) -> None:
    from tests.restore_support import seed_vault

    journal = tmp_path / "journal"
    root = tmp_path / "r"
    seed_vault(local_server, journal, {"f": b"data", "g": b"more"})
    assert run_cli(local_server, "restore", "--dir", root, "--vault", VAULT, "--journal",
                   journal, "--max-number-of-files", "1").code == 0  # only "f"
    result = run_cli(local_server, "restore-completed", "--dir", root, "--vault", VAULT,
                     "--journal", journal)
    assert result.code == 0
    assert "No retrieval job for 1 missing file(s); run restore first" in result.out
    assert "Nothing was restored" not in result.out and result.out.endswith("OK DONE\n")


@pytest.mark.parametrize("command", ["list-vaults", "create-vault"])
def test_human_output_is_unchanged_without_format_json(local_server: LocalServer,
                                                       command: str) -> None:
    args = [command] + ([VAULT] if command == "create-vault" else [])
    result = run_cli(local_server, *args)
    assert result.code == 0 and result.out.endswith("OK DONE\n")
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.out)
