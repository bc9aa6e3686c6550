"""Imports point down only (docs/architecture.md): every module is parsed with ``ast``.

Function-level (lazy) imports count too: a lazy upward import is still a dependency. The
ranks below are the architecture's diagram; a module may import its own rank or lower.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Rank of each module (prefix match on the dotted name, longest prefix wins).
RANKS: dict[str, int] = {
    "glacierlib.treehash": 0,
    "glacierlib.exceptions": 0,
    "glacierlib.progress": 0,
    "glacierlib.config": 1,
    "glacierlib.options": 1,
    "glacierlib.journal": 1,
    "glacierlib.journal_files": 1,
    "glacierlib.journal_index": 1,
    "glacierlib.journal_load": 1,
    "glacierlib.journal_record": 1,
    "glacierlib.journal_state": 1,
    "glacierlib.metadata": 1,
    "glacierlib.filters": 1,
    "glacierlib.names": 1,
    "glacierlib.inventory": 1,
    "glacierlib.inventory_format": 1,
    "glacierlib.storage": 2,
    "glacierlib.unrecorded": 2,
    "glacierlib.targets": 2,  # base, refs: the target-neutral interface
    "glacierlib.targets.glacier": 3,
    "glacierlib.targets.s3": 3,
    "glacierlib.client": 3,
    "glacierlib.wrappers": 3,
    "glacierlib.localserver": 3,
    "glacierlib.plan": 4,
    "glacierlib.executor": 4,
    "glacierlib.stream_upload": 4,
    "glacierlib.walk": 4,
    "glacierlib.upload": 4,
    "glacierlib.restore_plan": 4,
    "glacierlib.download": 4,
    "glacierlib.operations": 5,
    "glacierlib.api": 5,
    "glacierlib.testing": 5,
    "glacierlib_cli": 6,
}

# What the local server may use besides itself (it must not depend on the client side).
LOCALSERVER_ALLOWED = ("glacierlib.treehash", "glacierlib.exceptions", "glacierlib.names",
                       "glacierlib.metadata", "glacierlib.localserver")
# The only importers of botocore.
BOTOCORE_USERS = ("glacierlib.client", "glacierlib.wrappers", "glacierlib.localserver.sigv4",
                  "glacierlib.targets.s3")


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def rank(name: str) -> int | None:
    best: tuple[int, int] | None = None
    for prefix, value in RANKS.items():
        if _matches(name, prefix) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), value)
    return None if best is None else best[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import statement, at any depth."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(
        ".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            yield node.lineno, base
            for alias in node.names:  # ``from glacierlib import journal`` imports a module
                yield node.lineno, f"{base}.{alias.name}"


def sources() -> list[Path]:
    return sorted([*(ROOT / "glacierlib").rglob("*.py"), *(ROOT / "glacierlib_cli").rglob("*.py")])


def violations(path: Path) -> list[str]:
    me = module_name(path)
    my_rank = rank(me)
    found: list[str] = []
    reported: set[int] = set()
    for line, target in imports(path):
        where = f"{path.relative_to(ROOT)}:{line}"
        if _matches(target, "botocore") and not any(_matches(me, u) for u in BOTOCORE_USERS):
            found.append(f"{where}: {me} imports botocore")
        if not (_matches(target, "glacierlib") or _matches(target, "glacierlib_cli")):
            continue
        if target in ("glacierlib", "glacierlib_cli") or me in ("glacierlib", "glacierlib_cli"):
            continue
        target_rank = rank(target)
        if target_rank is None:
            continue  # ``from x import name`` where name is not a module
        if _matches(me, "glacierlib.localserver") and not any(
            _matches(target, allowed) for allowed in LOCALSERVER_ALLOWED
        ):
            found.append(f"{where}: the local server imports {target}")
        if _matches(target, "glacierlib.localserver") and not (
            _matches(me, "glacierlib.localserver")
            or (my_rank or 0) >= RANKS["glacierlib.operations"]
        ):
            found.append(f"{where}: {me} (below operations) imports the local server")
        if my_rank is not None and target_rank > my_rank and line not in reported:
            reported.add(line)
            found.append(f"{where}: {me} (rank {my_rank}) imports {target} (rank {target_rank})")
    return found


def test_every_module_is_ranked() -> None:
    unranked = [module_name(p) for p in sources() if rank(module_name(p)) is None
                and module_name(p) not in ("glacierlib",)]
    assert unranked == []


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_down(path: Path) -> None:
    assert violations(path) == []


def test_the_checker_catches_an_upward_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    fake_root = tmp_path
    (fake_root / "glacierlib").mkdir()
    bad = fake_root / "glacierlib" / "journal.py"
    bad.write_text("def f():\n    from glacierlib.executor import Executor\n"
                   "import botocore\nfrom . import plan\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", fake_root)
    problems = violations(bad)
    assert len(problems) == 3
    assert any("imports glacierlib.executor (rank 4)" in p for p in problems)
    assert any("imports botocore" in p for p in problems)
    assert any("imports glacierlib.plan (rank 4)" in p for p in problems)
