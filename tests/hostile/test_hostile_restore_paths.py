"""restore-completed into a ``--dir`` where a directory was replaced by a symlink leading out.

The journal's names are safe, but the tree is not: ``sub`` now points outside ``--dir``.
Nothing may be written through it; the file is reported (exit 1), the others restored.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hostile_support import (
    VAULT,
    Result,
    Snapshot,
    Workspace,
    assert_no_traceback,
    assert_one_error,
    connection,
    run,
)

from glacierlib.localserver import LocalServer


def _prepare(ws: Workspace, server: LocalServer,
             capsys: pytest.CaptureFixture[str]) -> tuple[bytes, Path]:
    """Sync, lose both files, turn ``sub`` into a symlink to a directory outside, restore."""
    assert run(capsys, "create-vault", VAULT, *connection(server)).code == 0
    assert run(capsys, "sync", "--dir", ws.root, "--vault", VAULT, "--journal", ws.journal,
               *connection(server)).code == 0
    alpha = (ws.root / "a.txt").read_bytes()
    (ws.root / "a.txt").unlink()
    shutil.rmtree(ws.root / "sub")
    outside = ws.base / "outside"
    outside.mkdir()
    (ws.root / "sub").symlink_to(outside, target_is_directory=True)
    restore = run(capsys, "restore", "--dir", ws.root, "--vault", VAULT, "--journal", ws.journal,
                  "--max-number-of-files", "10", *connection(server))
    assert restore.code == 0, restore.text()
    return alpha, outside


def _restore_completed(ws: Workspace, server: LocalServer,
                       capsys: pytest.CaptureFixture[str]) -> Result:
    return run(capsys, "restore-completed", "--dir", ws.root, "--vault", VAULT, "--journal",
               ws.journal, *connection(server))


def test_symlinked_directory_leading_out_is_not_followed(
    ws: Workspace, local_server: LocalServer, capsys: pytest.CaptureFixture[str],
) -> None:
    alpha, outside = _prepare(ws, local_server, capsys)
    journal = ws.journal.read_bytes()
    snapshot = Snapshot(ws.base, ignore=[ws.root])

    result = _restore_completed(ws, local_server, capsys)

    assert_no_traceback(result)
    assert len(result.errors) == 1 and "sub/b.bin" in result.errors[0], result.text()
    assert list(outside.iterdir()) == [], "written through a symlink leading out of --dir"
    assert snapshot.changes() == {}
    assert (ws.root / "a.txt").read_bytes() == alpha
    assert ws.journal.read_bytes() == journal


def test_refused_file_makes_the_run_fail(
    ws: Workspace, local_server: LocalServer, capsys: pytest.CaptureFixture[str],
) -> None:
    _prepare(ws, local_server, capsys)
    result = _restore_completed(ws, local_server, capsys)
    assert_one_error(result, 1, "sub/b.bin")
