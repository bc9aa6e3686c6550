"""``mtglacier sync`` end to end: CLI -> glacierlib -> real botocore -> local server over HTTP.

After every step the vault must hold exactly the journal's live archives: no duplicate, no
orphan, each described (mt2) with its journal name.
"""

from __future__ import annotations

import collections
import os
from pathlib import Path
from typing import Any

import pytest

from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer
from glacierlib.metadata import decode_description
from glacierlib.treehash import tree_hash_bytes
from glacierlib_cli.main import main

VAULT = "backup"
MIB = 1 << 20


def connection(server: LocalServer) -> list[str]:
    return ["--endpoint-url", server.endpoint_url, "--key", server.access_key,
            "--secret", server.secret_key, "--region", server.region, "--protocol", "http"]


class Env:
    """A tree, a journal and a vault on the local server, driven through the CLI."""

    def __init__(self, server: LocalServer, tmp_path: Path) -> None:
        self.server = server
        self.root = tmp_path / "data"
        self.root.mkdir()
        self.journal = tmp_path / "journal.log"

    def cli(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([*args, *connection(self.server)])
        out, err = capsys.readouterr()
        return code, out, err

    def sync(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        return self.cli(capsys, "sync", "--dir", str(self.root), "--vault", VAULT,
                        "--journal", str(self.journal), "--concurrency", "3", *args)

    def write(self, rel: str, data: bytes, mtime: int | None = None) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if mtime is not None:
            os.utime(path, (mtime, mtime))

    def live(self) -> dict[str, str]:
        """Journal live set: archive id -> name."""
        if not self.journal.exists():
            return {}
        return {aid: e.name for aid, e in read_journal(self.journal).archives.items()}

    def latest(self) -> dict[str, str]:
        """Journal: name -> archive id of the latest archive."""
        return {n: e.archive_id for n, e in read_journal(self.journal).latest_by_name().items()}

    def vault_archives(self) -> list[dict[str, Any]]:
        vaults = self.server.control.state()["vaults"]
        return list(vaults[VAULT]["archives"]) if VAULT in vaults else []

    def assert_consistent(self) -> None:
        archives = self.vault_archives()
        counts = collections.Counter(a["archive_id"] for a in archives)
        assert all(n == 1 for n in counts.values()), "duplicate archive ids in the vault"
        live = self.live()
        assert set(counts) == set(live), "vault and journal disagree (orphans or missing)"
        entries = read_journal(self.journal).archives if live else {}
        for archive in archives:
            decoded = decode_description(archive["description"])
            assert decoded.source == "mt2"
            assert decoded.name == live[archive["archive_id"]]
            assert archive["size"] == entries[archive["archive_id"]].size
            assert archive["tree_hash"] == entries[archive["archive_id"]].tree_hash.hex

    def requests(self) -> dict[str, int]:
        return dict(self.server.control.stats()["requests"])


@pytest.fixture
def env(local_server: LocalServer, tmp_path: Path) -> Env:
    environment = Env(local_server, tmp_path)
    code = main(["create-vault", VAULT, *connection(local_server)])
    assert code == 0
    return environment


def _big(seed: int, size: int) -> bytes:
    block = (bytes([seed]) * 7 + b"0123456789abcdef") * 4096
    return (block * (size // len(block) + 1))[:size]


def test_first_sync_then_nothing_to_do(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    env.write("a.txt", b"alpha")
    env.write("deep/er/b.txt", b"beta" * 100)
    env.write("sub dir/файл с пробелом.txt", "привет".encode())
    env.write("big.bin", _big(1, 2 * MIB + 12345))
    env.write("huge.bin", _big(2, 3 * MIB))
    env.write("empty", b"")
    code, out, _err = env.sync(capsys, "--partsize", "1")
    assert code == 0, out
    assert out.splitlines()[-1] == "OK DONE"
    assert "Uploaded 5 file(s)" in out
    assert "zero-size" in out and "  empty" in out
    assert set(env.latest()) == {"a.txt", "deep/er/b.txt", "sub dir/файл с пробелом.txt",
                                 "big.bin", "huge.bin"}
    entries = read_journal(env.journal).latest_by_name()
    assert entries["big.bin"].tree_hash == tree_hash_bytes(_big(1, 2 * MIB + 12345))
    assert entries["big.bin"].mtime == int((env.root / "big.bin").stat().st_mtime)
    requests = env.requests()
    assert requests["UploadArchive"] == 3
    assert requests["InitiateMultipartUpload"] == 2
    assert requests["UploadMultipartPart"] == 6
    assert requests["CompleteMultipartUpload"] == 2
    env.assert_consistent()

    env.server.control.reset_stats()
    lines_before = env.journal.read_bytes()
    code, out, _err = env.sync(capsys, "--partsize", "1")
    assert code == 0
    assert "Uploaded 0 file(s)" in out
    assert env.requests() == {}
    assert env.journal.read_bytes() == lines_before
    env.assert_consistent()


# Four files, each changed differently; the set each --detect mode must replace.
DETECT_CASES = {
    "always-positive": {"same", "content", "touched", "grown"},
    "size-only": {"grown"},
    "mtime": {"content", "touched", "grown"},
    "treehash": {"content", "grown"},
    "mtime-and-treehash": {"content", "grown"},
    "mtime-or-treehash": {"content", "touched", "grown"},
}


@pytest.mark.parametrize("detect", sorted(DETECT_CASES))
def test_replace_modified_under_each_detect_mode(
    env: Env, capsys: pytest.CaptureFixture[str], detect: str
) -> None:
    env.write("same", b"unchanged", 1_600_000_000)
    env.write("content", b"version-1", 1_600_000_000)
    env.write("touched", b"same-bytes", 1_600_000_000)
    env.write("grown", b"short", 1_600_000_000)
    env.write("multi.bin", _big(3, 2 * MIB + 1), 1_600_000_000)
    assert env.sync(capsys, "--partsize", "1")[0] == 0
    before = env.latest()

    env.write("content", b"version-2", 1_600_000_100)
    os.utime(env.root / "touched", (1_600_000_100, 1_600_000_100))
    env.write("grown", b"longer now", 1_600_000_000)
    code, out, _ = env.sync(capsys, "--replace-modified", "--detect", detect, "--partsize", "1")
    assert code == 0, out
    after = env.latest()
    expected = set(DETECT_CASES[detect])
    if detect == "always-positive":
        expected.add("multi.bin")
    replaced = {name for name in before if after[name] != before[name]}
    assert replaced == expected
    assert set(after) == set(before)
    # The old archives are gone from the vault, the journal says DELETED for each.
    assert len(env.live()) == len(before)
    env.assert_consistent()
    assert read_journal(env.journal).latest("content").size == 9  # type: ignore[union-attr]


def test_only_replace_modified_does_not_upload_new_files(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    env.write("old", b"1", 1_600_000_000)
    assert env.sync(capsys)[0] == 0
    env.write("new", b"2")
    env.write("old", b"22", 1_600_000_000)
    code, out, _ = env.sync(capsys, "--replace-modified", "--detect", "size-only")
    assert code == 0, out
    assert set(env.latest()) == {"old"}
    assert read_journal(env.journal).latest("old").size == 2  # type: ignore[union-attr]
    env.assert_consistent()


def test_delete_removed(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("keep", "gone", "dir/gone too", "emptied"):
        env.write(name, name.encode())
    assert env.sync(capsys)[0] == 0
    (env.root / "gone").unlink()
    (env.root / "dir" / "gone too").unlink()
    (env.root / "emptied").write_bytes(b"")
    code, out, _ = env.sync(capsys)
    assert code == 0
    assert len(env.live()) == 4  # without --delete-removed nothing is deleted
    code, out, err = env.sync(capsys, "--delete-removed")
    assert code == 0, out
    assert "deleted 2 archive(s)" in out
    # A file that exists is never removed: the emptied one keeps its archive, with a warning.
    assert set(env.latest()) == {"keep", "emptied"}
    assert "WARNING: emptied: empty now: its last archive is kept" in err
    journal_text = env.journal.read_text("utf-8")
    assert journal_text.count("\tDELETED\t") == 2
    env.assert_consistent()


def test_filters_apply_to_tree_and_journal(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    env.write("docs/a.txt", b"a")
    env.write("docs/b.log", b"b")
    env.write("cache/c.txt", b"c")
    env.write("d.txt", b"d")
    code, _, _ = env.sync(capsys, "--exclude", "*.log", "--filter", "-/cache/")
    assert code == 0
    assert set(env.latest()) == {"docs/a.txt", "d.txt"}
    env.assert_consistent()
    # The filter also hides journal entries: a removed but excluded file is not deleted.
    (env.root / "d.txt").unlink()
    code, out, _ = env.sync(capsys, "--delete-removed", "--filter", "+/docs/ -")
    assert code == 0, out
    assert set(env.latest()) == {"docs/a.txt", "d.txt"}
    code, out, _ = env.sync(capsys, "--new", "--delete-removed")
    assert set(env.latest()) == {"docs/a.txt", "docs/b.log", "cache/c.txt"}
    env.assert_consistent()


def test_dry_run_leaves_no_trace(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    env.write("a", b"a")
    env.write("b/c", b"c")
    env.server.control.reset_stats()
    code, out, _ = env.sync(capsys, "--dry-run", "--new", "--replace-modified",
                            "--delete-removed")
    assert code == 0
    assert not env.journal.exists()
    assert env.requests() == {}
    assert f"Will UPLOAD {env.root / 'a'}" in out
    assert f"Will UPLOAD {env.root / 'b' / 'c'}" in out
    assert env.vault_archives() == []
    # Against an existing journal: deletions and verifications are planned, nothing changes.
    assert env.sync(capsys)[0] == 0
    (env.root / "a").unlink()
    env.write("b/c", b"C", 1_700_000_000)
    journal = env.journal.read_bytes()
    env.server.control.reset_stats()
    code, out, _ = env.sync(capsys, "--dry-run", "--replace-modified", "--delete-removed")
    assert code == 0
    assert f"Will VERIFY treehash and UPLOAD {env.root / 'b' / 'c'} if modified" in out
    assert "Will DELETE archive " in out and "(filename a)" in out
    assert env.requests() == {}
    assert env.journal.read_bytes() == journal


def test_unstorable_names_are_skipped_and_reported(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    env.write("fine.txt", b"ok")
    env.write("new\nline.txt", b"x")
    with open(os.fsencode(env.root) + b"/latin1-\xe9.txt", "wb") as handle:
        handle.write(b"y")
    env.write("/".join(c * 200 for c in "lmno"), b"z")  # 803 bytes: over the description limit
    code, out, _ = env.sync(capsys)
    assert code == 1
    assert "OK DONE" not in out
    assert "NOT STORED: 3 file(s)" in out
    assert "new\\nline.txt: name contains TAB, CR or LF" in out
    assert "latin1-\\xe9.txt: name is not valid UTF-8" in out
    assert "too long" in out
    assert set(env.latest()) == {"fine.txt"}
    env.assert_consistent()


def test_local_mode_creates_the_vault(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "data"
    root.mkdir()
    (root / "x").write_bytes(b"x")
    journal = tmp_path / "j.log"
    code = main(["sync", "--local", str(tmp_path / "glacier"), "--vault", "v", "--journal",
                 str(journal), "--dir", str(root)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.splitlines()[-1] == "OK DONE"
    assert len(read_journal(journal).archives) == 1
    # A second run against the same data directory finds the vault and has nothing to do.
    code = main(["sync", "--local", str(tmp_path / "glacier"), "--vault", "v", "--journal",
                 str(journal), "--dir", str(root)])
    assert code == 0
    assert "Uploaded 0 file(s)" in capsys.readouterr().out


def test_max_number_of_files(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(5):
        env.write(f"f{i}", b"x" * (i + 1))
    code, _, _ = env.sync(capsys, "--max-number-of-files", "2")
    assert code == 0
    assert len(env.live()) == 2
    env.assert_consistent()
    assert env.sync(capsys)[0] == 0
    assert len(env.live()) == 5
    env.assert_consistent()


def test_second_sync_on_a_busy_journal_is_refused_at_once(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    from glacierlib.journal import JournalWriter

    env.write("a", b"a")
    with JournalWriter.open(env.journal, fsync=False):
        env.server.control.reset_stats()
        code, _out, err = env.sync(capsys)
    assert code == 2
    assert str(env.journal) in err
    assert env.requests() == {}
    assert env.vault_archives() == []
