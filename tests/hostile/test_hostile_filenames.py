"""Local file names a journal cannot hold, in a sync.

Names that are not UTF-8, that hold a line break, CR or TAB (a journal line is TAB-separated
and LF-terminated), or that are too long for the 1024-character archive description: each is
reported by name (escaped, so it cannot forge an output line), skipped, and the rest of the
tree is uploaded; the run ends with exit 1 and a summary listing them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hostile_support import (
    VAULT,
    Result,
    Workspace,
    assert_no_traceback,
    assert_one_error,
    connection,
    run,
    run_subprocess,
)

from glacierlib.journal import read_journal
from glacierlib.localserver import LocalServer

LONG_PARTS = ("d" * 200, "e" * 200, "f" * 200, "g" * 200, "h" * 100)

#: raw file name (bytes, relative to --dir) -> what the report must show for it
BAD_NAMES: dict[bytes, str] = {
    b"bad\xff\xfename.txt": "bad\\xff\\xfename.txt",
    b"new\nline.txt": "new\\nline.txt",
    b"carriage\rreturn.txt": "carriage\\rreturn.txt",
    b"tab\there.txt": "tab\\there.txt",
    b"sub/also\nbad": "sub/also\\nbad",
    "/".join(LONG_PARTS).encode(): "h" * 100,
}


def _make_bad_files(root: Path) -> None:
    base = os.fsencode(root)
    for raw in BAD_NAMES:
        path = os.path.join(base, raw)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(b"bad name, good data " + raw[:20])


@pytest.fixture
def server(local_server: LocalServer, capsys: pytest.CaptureFixture[str]) -> LocalServer:
    assert run(capsys, "create-vault", VAULT, *connection(local_server)).code == 0
    return local_server


def _archives(server: LocalServer) -> int:
    return len(server.control.state()["vaults"][VAULT]["archives"])


def _assert_reported(result: Result) -> None:
    assert_no_traceback(result)
    assert result.code == 1, result.text()
    for shown in BAD_NAMES.values():
        assert shown in result.out, f"{shown!r} not in the summary\n{result.text()}"
    for stream in (result.out, result.err):
        assert "\r" not in stream, "a raw CR in the output"
        assert not any("\udc80" <= ch <= "\udcff" for ch in stream), "undecodable bytes"
        assert "also\nbad" not in stream and "new\nline" not in stream, "a raw line break"


def test_sync_skips_unstorable_names_and_uploads_the_rest(
    ws: Workspace, server: LocalServer, capsys: pytest.CaptureFixture[str],
) -> None:
    _make_bad_files(ws.root)
    result = run(capsys, "sync", "--dir", ws.root, "--vault", VAULT, "--journal", ws.journal,
                 *connection(server))

    _assert_reported(result)
    assert "NOT STORED" in result.out
    assert len(result.errors) == len(BAD_NAMES), result.text()
    long_lines = [line for line in (result.out + result.err).splitlines()
                  if "too long" in line]
    assert len(long_lines) == 2, result.text()  # its ERROR line and its NOT STORED line
    for line in long_lines:
        assert line.count("h" * 100) == 1, f"the long name is printed twice: {line}"
    names = {e.name for e in read_journal(ws.journal, strict=True).archives.values()}
    assert names == {"a.txt", "sub/b.bin"}
    assert _archives(server) == 2

    journal = ws.journal.read_bytes()
    again = run(capsys, "sync", "--dir", ws.root, "--vault", VAULT, "--journal", ws.journal,
                *connection(server))
    _assert_reported(again)
    assert ws.journal.read_bytes() == journal
    assert _archives(server) == 2


def test_dry_run_lists_them_and_touches_nothing(
    ws: Workspace, server: LocalServer, capsys: pytest.CaptureFixture[str],
) -> None:
    _make_bad_files(ws.root)
    result = run(capsys, "sync", "--dir", ws.root, "--vault", VAULT, "--journal", ws.journal,
                 "--dry-run", *connection(server))
    _assert_reported(result)
    assert not ws.journal.exists()
    assert _archives(server) == 0


def test_check_local_hash_ignores_them(ws: Workspace, server: LocalServer,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "sync", "--dir", ws.root, "--vault", VAULT, "--journal", ws.journal,
               *connection(server)).code == 0
    _make_bad_files(ws.root)
    result = run(capsys, "check-local-hash", "--dir", ws.root, "--journal", ws.journal)
    assert_no_traceback(result)
    assert result.code == 0, result.text()


def test_real_process_with_strict_output_encoding(ws: Workspace, server: LocalServer) -> None:
    """A child process whose stdout is UTF-8: undecodable names must still print."""
    _make_bad_files(ws.root)
    result = run_subprocess("sync", "--dir", ws.root, "--vault", VAULT, "--journal", ws.journal,
                            *connection(server))
    _assert_reported(result)
    assert _archives(server) == 2


#: Names a journal can hold (mt-aws-glacier stores them) but a terminal would act on.
#: (C0 controls and DEL are refused outright, like TAB/CR/LF above.)
TERMINAL_NAMES = {
    "spoof\u202egpj.exe": "spoof\\u202egpj.exe",
    "c1\x85\x9bnext.txt": "c1\\x85\\x9bnext.txt",
    "isolate\u2066x\u2069.txt": "isolate\\u2066x\\u2069.txt",
}


def test_names_with_terminal_controls_are_stored_and_printed_escaped(
    ws: Workspace, server: LocalServer, capsys: pytest.CaptureFixture[str],
) -> None:
    for name in TERMINAL_NAMES:
        (ws.root / name).write_bytes(name.encode())
    result = run(capsys, "sync", "--dir", ws.root, "--vault", VAULT, "--journal", ws.journal,
                 "--verbose", *connection(server))
    assert result.code == 0, result.text()
    names = {e.name for e in read_journal(ws.journal, strict=True).archives.values()}
    assert set(TERMINAL_NAMES) <= names  # stored as they are, as mt-aws-glacier does
    for stream in (result.out, result.err):
        assert not any(ch in stream for ch in "\u202e\x85\x9b\u2066\u2069"), stream
    shown = result.out + result.err
    for escaped in TERMINAL_NAMES.values():
        assert escaped in shown, (escaped, shown)


UNSAFE_REL_NAMES = ["../x", "/abs", "a\nb", "a\x00b", "a//b", "x" * 2000]


@pytest.mark.parametrize("rel", UNSAFE_REL_NAMES, ids=["dotdot", "abs", "newline", "nul",
                                                        "double-slash", "too-long"])
def test_upload_file_refuses_an_unsafe_rel_filename(
    ws: Workspace, server: LocalServer, capsys: pytest.CaptureFixture[str], rel: str,
) -> None:
    result = run(capsys, "upload-file", "--vault", VAULT, "--journal", ws.journal,
                 "--filename", ws.root / "a.txt", "--set-rel-filename", rel,
                 *connection(server))
    assert_no_traceback(result)
    assert result.code in (1, 2), result.text()
    assert len(result.errors) == 1 and "OK DONE" not in result.out, result.text()
    assert "\x00" not in result.err and "a\nb" not in result.err
    assert len(result.errors[0]) < 3000
    assert not ws.journal.exists() or ws.journal.read_bytes() == b""
    assert _archives(server) == 0


def test_unsafe_rel_filename_is_a_usage_error(
    ws: Workspace, server: LocalServer, capsys: pytest.CaptureFixture[str],
) -> None:
    result = run(capsys, "upload-file", "--vault", VAULT, "--journal", ws.journal,
                 "--filename", ws.root / "a.txt", "--set-rel-filename", "../x",
                 *connection(server))
    assert_one_error(result, 2, "--set-rel-filename", "../x")
