"""Hostile config files (``--config FILE``) through the CLI.

A config file the tool cannot use as it is ends the run before anything happens: exit 2, one
ERROR line naming the file (and the line, and the option when there is one), no traceback,
the journal and the tree untouched, nothing uploaded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_support import (
    VAULT,
    Snapshot,
    Workspace,
    assert_no_traceback,
    assert_one_error,
    connection,
    run,
    run_subprocess,
)

from glacierlib.localserver import LocalServer

#: name -> (config bytes, what the error line must name besides the file)
BAD_CONFIGS: dict[str, tuple[bytes, tuple[str, ...]]] = {
    "bad-line": (b"# ok\nconcurrency=2\nthis line means nothing!\n", ("line 3",)),
    "unknown-option": (b"concurrency=2\nconcurency=3\n", ("line 2", "concurency")),
    "bad-filter-in-config": (b"filter=+*.txt oops\n", ("line 1", "filter")),
    "missing-filter-from": (b"\n\nfilter-from=/nonexistent/rules.txt\n",
                            ("line 3", "/nonexistent/rules.txt")),
    "secret-without-equals": (b"key=AKIAIOSFODNN7EXAMPLE\n"
                              b"secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", ("line 2",)),
    "secret-alone": (b"wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY\n", ("line 1",)),
    "invalid-utf8": (b"concurrency=2\r\nvault=caf\xe9\r\n", ("line 2",)),
    "bad-value": (b"concurrency=abc\n", ("line 1", "concurrency")),
    "value-out-of-range": (b"concurrency=1000\n", ("line 1", "concurrency")),
    "nul-in-value": (b"vault=a\x00b\n", ("line 1",)),
    "crlf-bad-line": (b"concurrency=2\r\n???\r\n", ("line 2",)),
    "binary": (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), ()),
}


def _sync_args(ws: Workspace, server: LocalServer, config: Path) -> list[object]:
    return ["sync", "--dir", ws.root, "--vault", VAULT, "--journal", ws.journal,
            "--config", config, *connection(server)]


def _check_args(ws: Workspace, config: Path) -> list[object]:
    return ["check-local-hash", "--dir", ws.root, "--journal", ws.journal, "--config", config]


@pytest.fixture
def vault(local_server: LocalServer, capsys: pytest.CaptureFixture[str]) -> LocalServer:
    assert run(capsys, "create-vault", VAULT, *connection(local_server)).code == 0
    return local_server


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_exit_2_one_line_nothing_done(
    ws: Workspace, vault: LocalServer, capsys: pytest.CaptureFixture[str], case: str,
) -> None:
    data, needles = BAD_CONFIGS[case]
    config = ws.base / "mt.conf"
    config.write_bytes(data)
    ws.journal.write_bytes(b"")
    snapshot = Snapshot(ws.base)

    for args in (_sync_args(ws, vault, config), _check_args(ws, config)):
        result = run(capsys, *args)
        line = assert_one_error(result, 2, str(config), *needles)
        assert len(line) < 500, "the error line must quote a bad line cut short"
        assert "bPxRfiCY" not in result.out + result.err, "a secret was echoed"
        assert snapshot.changes() == {}
    assert vault.control.state()["vaults"][VAULT]["archives"] == []


def test_missing_config_file(ws: Workspace, vault: LocalServer,
                             capsys: pytest.CaptureFixture[str]) -> None:
    config = ws.base / "no-such.conf"
    snapshot = Snapshot(ws.base)
    result = run(capsys, *_sync_args(ws, vault, config))
    assert_one_error(result, 2, str(config))
    assert snapshot.changes() == {}
    assert not ws.journal.exists()


def test_directory_as_config(ws: Workspace, vault: LocalServer,
                             capsys: pytest.CaptureFixture[str]) -> None:
    config = ws.base / "conf.d"
    config.mkdir()
    snapshot = Snapshot(ws.base)
    for args in (_sync_args(ws, vault, config), _check_args(ws, config)):
        result = run(capsys, *args)
        assert_one_error(result, 2, str(config))
    assert snapshot.changes() == {}


def test_crlf_config_values_carry_no_carriage_return(
    ws: Workspace, vault: LocalServer, capsys: pytest.CaptureFixture[str],
) -> None:
    """A config saved on Windows: the values must not end with a stray CR."""
    config = ws.base / "windows.conf"
    config.write_bytes(b"# saved by notepad\r\n"
                       + f"dir={ws.root}\r\njournal={ws.journal}\r\nvault={VAULT}\r\n".encode()
                       + b"concurrency=2\r\n")
    result = run(capsys, "sync", "--config", config, *connection(vault))
    assert_no_traceback(result)
    assert result.code == 0, result.text()
    assert ws.journal.exists(), "the journal path must be used without a trailing CR"
    assert not list(ws.base.glob("*\r*"))
    check = run(capsys, "check-local-hash", "--config", config)
    assert check.code == 0, check.text()


def test_unknown_option_on_command_line_names_it(
    ws: Workspace, capsys: pytest.CaptureFixture[str],
) -> None:
    result = run(capsys, "check-local-hash", "--dir", ws.root, "--journal", ws.journal,
                 "--no-such-option", "1")
    assert_one_error(result, 2, "--no-such-option")


def test_bad_config_in_a_real_process(ws: Workspace, vault: LocalServer) -> None:
    config = ws.base / "mt.conf"
    config.write_bytes(BAD_CONFIGS["unknown-option"][0])
    result = run_subprocess(*_sync_args(ws, vault, config))
    assert_one_error(result, 2, str(config), "line 2", "concurency")
    assert not ws.journal.exists()


@pytest.mark.parametrize(("value", "needle"), [
    ("9" * 23, "too large (at most 999999999999)"),
    ("9" * 5000, "too large (at most 999999999999)"),
    ("x" * 5000, "expected a non-negative integer"),
])
def test_huge_integer_option_is_named_too_large_and_cut_short(
    ws: Workspace, capsys: pytest.CaptureFixture[str], value: str, needle: str,
) -> None:
    """A 23-digit number was "not a non-negative integer"; a long value was echoed whole."""
    result = run(capsys, "sync", "--dir", ws.root, "--vault", VAULT, "--journal", ws.journal,
                 "--local", ws.base / "glacier", "--concurrency", value)
    line = assert_one_error(result, 2, "--concurrency", needle)
    assert len(line) < 120, line
