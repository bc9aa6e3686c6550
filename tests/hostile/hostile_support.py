"""Helpers of the hostile-input suites: run the CLI, check its one error line, snapshot trees.

Every hostile run must end with the documented exit code and exactly one ``ERROR:`` line on
standard error that names the file, line or option at fault; no traceback and no
"unexpected <ExceptionType>" (the CLI's wording for an exception the library did not mean to
raise). ``Snapshot`` proves that nothing was written (or changed) outside ``--dir``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import botocore.session
import pytest
from botocore.config import Config

from glacierlib.localserver import LocalServer
from glacierlib_cli.main import main

VAULT = "hostile"
AID = "a" * 138
HASH = "0" * 64

_SESSION = botocore.session.get_session()


def connection(server: LocalServer) -> list[str]:
    return ["--endpoint-url", server.endpoint_url, "--key", server.access_key,
            "--secret", server.secret_key, "--region", server.region, "--protocol", "http"]


def raw_client(server: LocalServer) -> Any:
    """A plain botocore client (no retries) to put hostile things into a vault."""
    return _SESSION.create_client(
        "glacier", config=Config(retries={"max_attempts": 0, "mode": "standard"}),
        **server.client_kwargs())


@attrs.frozen
class Workspace:
    """``tmp_path`` laid out as a user would: a tree to back up, a journal beside it."""

    base: Path
    root: Path
    journal: Path


@attrs.frozen
class Result:
    code: int
    out: str
    err: str

    @property
    def errors(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("ERROR:")]

    def text(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.out[-3000:]}\n--- stderr\n{self.err[-3000:]}"


def run(capsys: pytest.CaptureFixture[str], *args: object) -> Result:
    """``main([...])`` in-process, with standard output and error captured."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return Result(code, out, err)


def run_subprocess(*args: object, cwd: Path | None = None, timeout: float = 60) -> Result:
    """``python -m glacierlib_cli ...`` in a real child process."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "glacierlib_cli", *(os.fsdecode(a) if isinstance(a, bytes)
                                                    else str(a) for a in args)],
        capture_output=True, timeout=timeout, cwd=cwd, env=env, check=False,
        encoding="utf-8", errors="surrogateescape",
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def assert_no_traceback(result: Result) -> None:
    for stream in (result.out, result.err):
        assert "Traceback" not in stream, result.text()
        assert "unexpected " not in stream, "an exception the library did not mean: " + (
            result.text())


def assert_one_error(result: Result, code: int, *needles: str) -> str:
    """Exit ``code`` and exactly one ERROR line, containing every needle; returns the line."""
    assert_no_traceback(result)
    assert result.code == code, result.text()
    assert len(result.errors) == 1, result.text()
    line = result.errors[0]
    for needle in needles:
        assert needle in line, f"{needle!r} not in the error line\n{result.text()}"
    assert "OK DONE" not in result.out, result.text()
    return line


class Snapshot:
    """Every path under ``root`` with its bytes (files) or None (dirs, links)."""

    def __init__(self, root: Path, *, ignore: Iterable[Path] = ()) -> None:
        self.root = root
        self.ignore = [p.resolve() for p in ignore]
        self.before = self._take()

    def _take(self) -> dict[str, bytes | None]:
        seen: dict[str, bytes | None] = {}
        for dirpath, dirnames, filenames in os.walk(os.fsencode(self.root)):
            for name in [*dirnames, *filenames]:
                path = Path(os.fsdecode(os.path.join(dirpath, name)))
                if any(path.resolve().is_relative_to(p) for p in self.ignore):
                    continue
                rel = os.fsdecode(os.path.relpath(path, self.root))
                seen[rel] = (path.read_bytes()
                             if path.is_file() and not path.is_symlink() else None)
        return seen

    def changes(self) -> dict[str, str]:
        """rel path -> "new" | "changed" | "removed"."""
        after = self._take()
        diff: dict[str, str] = {}
        for rel, data in after.items():
            if rel not in self.before:
                diff[rel] = "new"
            elif self.before[rel] != data:
                diff[rel] = "changed"
        for rel in self.before:
            if rel not in after:
                diff[rel] = "removed"
        return diff
