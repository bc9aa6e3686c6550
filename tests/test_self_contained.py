"""No Python file in the repository reads a path outside it.

A plain clone, or an unpacked sdist, must run its tests and examples with nothing beside it: a
fixture read from a sibling folder (``../elsewhere``) works on the developer's machine and breaks
for every user. Every ``.py`` file is parsed with ``ast`` and two kinds of escape are reported:

* a path built from ``__file__`` that climbs above the repository root (``parents[N]``,
  ``.parent`` chains, ``os.path.dirname``, ``".."`` components), followed through module-level
  names such as ``ROOT = Path(__file__).resolve().parent.parent``;
* an absolute path literal handed to ``Path()``, ``open()`` or an ``os.path`` function, except the
  kernel's pseudo-filesystems (``/proc``, ``/sys``, ``/dev``), which are not files of a checkout.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Folders that are not the project's source: tool caches, build output, virtual environments.
SKIPPED_DIRS = {"build", "dist", "node_modules", "__pycache__"}
SYSTEM_PREFIXES = ("/proc", "/sys", "/dev")
PATH_CALLS = {"Path", "PurePath", "PosixPath", "PurePosixPath", "open"}
OS_PATH_CALLS = {"exists", "isfile", "isdir", "join", "abspath", "realpath", "listdir",
                 "scandir", "stat", "walk"}


def python_files(root: Path) -> list[Path]:
    found = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).parts[:-1]
        if any(p.startswith(".") or p in SKIPPED_DIRS or p.endswith(".egg-info") for p in parts):
            continue
        if any((root.joinpath(*parts[: i + 1]) / "pyvenv.cfg").exists()
               for i in range(len(parts))):
            continue
        found.append(path)
    return found


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _components(node: ast.expr) -> list[str] | None:
    """The path components of a string literal joined onto a path, or None if not a literal."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [c for c in node.value.split("/") if c not in ("", ".")]
    return None


class Climb:
    """How far a ``__file__``-based expression climbs: levels above the file, now and at most."""

    def __init__(self, names: dict[str, tuple[int, int]]) -> None:
        self.names = names

    def of(self, node: ast.expr) -> tuple[int, int] | None:
        """(current, peak) levels above the file itself, or None if not built from __file__."""
        if isinstance(node, ast.Name):
            if node.id == "__file__":
                return (0, 0)
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute):
            inner = self.of(node.value)
            if inner is None:
                return None
            if node.attr == "parent":
                return self._step(inner, ["..", ])
            return inner
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) \
                and node.value.attr == "parents":
            inner = self.of(node.value.value)
            index = node.slice
            if inner is None or not (isinstance(index, ast.Constant)
                                     and isinstance(index.value, int)):
                return inner
            return self._step(inner, [".."] * (index.value + 1))
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            inner = self.of(node.left)
            parts = _components(node.right)
            if inner is None:
                return None
            return self._step(inner, parts) if parts is not None else inner
        if isinstance(node, ast.Call):
            return self._call(node)
        return None

    def _call(self, node: ast.Call) -> tuple[int, int] | None:
        name = _call_name(node)
        if isinstance(node.func, ast.Attribute) and name in ("resolve", "absolute", "joinpath"):
            inner = self.of(node.func.value)
            if inner is None or name != "joinpath":
                return inner
            return self._join(inner, node.args)
        if not node.args:
            return None
        inner = self.of(node.args[0])
        if inner is None:
            return None
        if name == "dirname":
            return self._step(inner, [".."])
        if name == "join":
            return self._join(inner, node.args[1:])
        return inner  # Path(x), str(x), os.path.abspath(x), os.fspath(x): the same place

    def _join(self, inner: tuple[int, int], args: list[ast.expr]) -> tuple[int, int]:
        for arg in args:
            parts = _components(arg)
            if parts is not None:
                inner = self._step(inner, parts)
        return inner

    @staticmethod
    def _step(state: tuple[int, int], parts: list[str]) -> tuple[int, int]:
        level, peak = state
        for part in parts:
            level += 1 if part == ".." else -1
            peak = max(peak, level)
        return (level, peak)


def _root_name(node: ast.expr) -> str | None:
    """The name a path expression starts from (``ROOT`` in ``ROOT.parent / "x"``)."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        elif isinstance(node, ast.BinOp):
            node = node.left
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("resolve", "absolute", "joinpath"):
            node = node.func.value
        elif isinstance(node, ast.Call) and node.args:
            node = node.args[0]
        else:
            return None


def escapes(path: Path, root: Path) -> list[str]:
    """Every place in ``path`` (a file under ``root``) that names a path outside ``root``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    # Levels from the file up to the root: tests/x.py needs 2 (its folder, then the root).
    to_root = len(path.relative_to(root).parts)
    names: dict[str, tuple[int, int]] = {}
    climb = Climb(names)
    assigns = [n for n in ast.walk(tree) if isinstance(n, ast.Assign)]
    for _ in range(4):  # names defined from names: a few passes reach the fixed point
        for node in assigns:
            value = climb.of(node.value)
            if value is not None:
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        names[target.id] = value
    where = path.relative_to(root)
    problems: dict[int, str] = {}  # one report per line: the widest expression on it
    for node in ast.walk(tree):
        if not isinstance(node, ast.expr):
            continue
        state = climb.of(node)
        start = names.get(_root_name(node) or "__file__", (0, 0))
        if state is not None and state[1] > to_root >= start[1]:  # where it first climbs out
            text = f"climbs {state[1] - to_root} level(s) above the repository: {ast.unparse(node)}"
            if len(text) > len(problems.get(node.lineno, "")):
                problems[node.lineno] = text
        if isinstance(node, ast.Call) and node.args and (
                _call_name(node) in PATH_CALLS
                or (_call_name(node) in OS_PATH_CALLS and isinstance(node.func, ast.Attribute))):
            first = node.args[0]
            if isinstance(first, ast.JoinedStr) and first.values:
                first = first.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) \
                    and first.value.startswith("/") \
                    and not first.value.startswith(SYSTEM_PREFIXES):
                problems[node.lineno] = f"absolute path outside the repository: {ast.unparse(node)}"
    return [f"{where}:{line}: {text}" for line, text in sorted(problems.items())]


def test_no_python_file_reads_outside_the_repository() -> None:
    files = python_files(ROOT)
    assert len(files) > 50, "the scan found too few files: is ROOT the repository root?"
    problems = [p for f in files for p in escapes(f, ROOT)]
    assert problems == []


def test_the_golden_vectors_are_the_projects_own_files() -> None:
    fixtures = ROOT / "tests" / "fixtures"
    for name in ("treehash-vectors.json", "mt2-vectors.tsv", "journal-b-sample.log"):
        assert (fixtures / name).is_file(), name
        assert not (fixtures / name).is_symlink(), name


BAD = {
    "parents": 'from pathlib import Path\nX = Path(__file__).resolve().parents[2] / "elsewhere"\n',
    "parent chain": "from pathlib import Path\nX = Path(__file__).parent.parent.parent\n",
    "through a name": ("from pathlib import Path\nROOT = Path(__file__).resolve().parent.parent\n"
                       'X = ROOT.parent / "elsewhere" / "fixtures"\n'),
    "dotdot literal": 'from pathlib import Path\nX = Path(__file__).parent / "../../elsewhere"\n',
    "os.path": ("import os\nX = os.path.join(os.path.dirname(os.path.dirname("
                'os.path.abspath(__file__))), "..", "elsewhere")\n'),
    "absolute": 'from pathlib import Path\nX = Path("/srv/data/fixtures/v.tsv")\n',
    "absolute open": 'X = open("/home/me/vectors.json").read()\n',
}
GOOD = {
    "own folder": 'from pathlib import Path\nX = Path(__file__).resolve().parent / "fixtures"\n',
    "root": "from pathlib import Path\nROOT = Path(__file__).resolve().parents[1]\n",
    "down and up": ('from pathlib import Path\nX = Path(__file__).parent.parent / "examples" / '
                    '".." / "tests"\n'),
    "proc": 'X = open("/proc/self/status").read()\n',
    "data, not a read": 'NAMES = ["../x", "/etc/passwd", "/home/me/a.txt"]\n',
}


def test_the_scanner_catches_each_kind_of_escape(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    for label, source in {**BAD, **GOOD}.items():
        target = tmp_path / "tests" / "t.py"
        target.write_text(source)
        found = escapes(target, tmp_path)
        assert bool(found) == (label in BAD), (label, found)


def test_the_scanner_skips_virtual_environments_and_caches(tmp_path: Path) -> None:
    for folder in ("venv/lib", ".venv/lib", "build/lib", "tests"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "m.py").write_text(BAD["parents"])
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert python_files(tmp_path) == [tmp_path / "tests" / "m.py"]
