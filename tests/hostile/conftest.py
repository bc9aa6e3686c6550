"""Fixtures of the hostile-input suites (the local server comes from ``tests/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_support import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "data"
    root.mkdir()
    (root / "a.txt").write_bytes(b"alpha")
    (root / "sub").mkdir()
    (root / "sub" / "b.bin").write_bytes(bytes(range(256)) * 10)
    return Workspace(tmp_path, root, tmp_path / "journal.log")
