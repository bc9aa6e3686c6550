"""What PyPI and a distributor see: one version, the licence, and an sdist that can test itself.

Building takes seconds and may need the network (the build backend is fetched), so building,
``twine check`` and testing an unpacked sdist run in ``.ci/run``; these tests check the sources
those steps read, offline.
"""

from __future__ import annotations

import ast
import http.server
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from test_self_contained import Climb, python_files

import glacierlib
from glacierlib.client import Connection, GlacierStore, make_session
from glacierlib.exceptions import GlacierlibError

ROOT = Path(__file__).resolve().parent.parent
VERSION = glacierlib.__version__


def _section(text: str, header: str) -> str:
    """The body of one TOML table, read as text (``tomllib`` is 3.11+, the project 3.10+)."""
    start = text.index(f"\n{header}\n") + len(header) + 2
    end = text.find("\n[", start)
    return text[start:] if end < 0 else text[start:end]


PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")


# -- version ---------------------------------------------------------------------------------


def test_the_version_is_a_release_number() -> None:
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), VERSION


def test_pyproject_reads_the_version_from_the_package() -> None:
    project = _section(PYPROJECT, "[project]")
    assert re.search(r'^dynamic = \[[^\]]*"version"', project, re.M)
    assert not re.search(r"^version\s*=", project, re.M), "a second copy of the version"
    dynamic = _section(PYPROJECT, "[tool.setuptools.dynamic]")
    assert re.search(r'^version = \{ ?attr = "glacierlib.__version__" ?\}', dynamic, re.M)


def test_the_version_is_written_in_one_place() -> None:
    """No other source or build file spells the version out (the User-Agent reads it too)."""
    quoted = re.compile(rf"""["'][^"'\n]*\b{re.escape(VERSION)}\b[^"'\n]*["']""")
    files = [*python_files(ROOT), ROOT / "pyproject.toml", ROOT / "setup.cfg"]
    holders = sorted(str(f.relative_to(ROOT)) for f in files
                     if f.exists() and quoted.search(f.read_text(encoding="utf-8")))
    assert holders == ["glacierlib/__init__.py"]


def test_version_assignment_is_a_plain_literal() -> None:
    """setuptools reads ``attr`` statically only from ``__version__ = "x.y.z"``."""
    tree = ast.parse((ROOT / "glacierlib" / "__init__.py").read_text(encoding="utf-8"))
    values = [node.value for node in tree.body if isinstance(node, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets)]
    assert len(values) == 1
    assert isinstance(values[0], ast.Constant) and values[0].value == VERSION


def test_installed_metadata_matches_the_package() -> None:
    try:
        installed = metadata.version("glacierlib")
    except metadata.PackageNotFoundError:
        pytest.skip("glacierlib is not installed (tests run from the source tree)")
    assert installed == VERSION, "reinstall: the installed metadata is stale"


@pytest.mark.parametrize("argv", [["--version"], ["version"]])
def test_mtglacier_shows_the_version(argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "glacierlib_cli", *argv], capture_output=True,
                          text=True, timeout=60, check=False, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == f"mtglacier {VERSION}"


class _Recorder(http.server.BaseHTTPRequestHandler):
    agents: list[str] = []  # noqa: RUF012 - one test's scratch list

    def do_GET(self) -> None:
        self.agents.append(self.headers.get("User-Agent", ""))
        body = b'{"code":"ResourceNotFoundException","message":"no","type":"Client"}'
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.agents = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.agents
    finally:
        server.shutdown()
        server.server_close()


def test_the_user_agent_names_the_version(recorder: tuple[str, list[str]]) -> None:
    endpoint, agents = recorder
    settings = Connection(region="us-east-1", endpoint_url=endpoint, protocol="http", timeout=5,
                          access_key="AKIDEXAMPLE", secret_key="s" * 40, concurrency=1)
    with GlacierStore(make_session(settings), settings) as store, \
            pytest.raises(GlacierlibError):
        store.describe_vault("v")
    assert agents
    assert all(f"glacierlib/{VERSION}" in agent.split() for agent in agents), agents


# -- licence and metadata --------------------------------------------------------------------


def test_the_licence_file_is_the_gpl_3_the_metadata_claims() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.lstrip().startswith("GNU GENERAL PUBLIC LICENSE")
    assert "Version 3, 29 June 2007" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the full text, not a stub
    project = _section(PYPROJECT, "[project]")
    assert re.search(r'^license = "GPL-3.0-or-later"$', project, re.M)
    assert re.search(r'^license-files = \["LICENSE"\]$', project, re.M)
    # setuptools rejects a License :: classifier next to an SPDX expression.
    assert "License ::" not in project


def test_classifiers_name_every_supported_python() -> None:
    project = _section(PYPROJECT, "[project]")
    low = re.search(r'^requires-python = ">=3\.(\d+)"', project, re.M)
    assert low is not None
    listed = {int(m) for m in re.findall(r'"Programming Language :: Python :: 3\.(\d+)"', project)}
    assert min(listed) == int(low.group(1))
    assert listed == set(range(min(listed), max(listed) + 1))
    for needed in ("Development Status ::", "Environment :: Console", "Intended Audience ::"):
        assert needed in project


def test_project_urls_are_real_pages_not_the_pypi_listing() -> None:
    urls = dict(re.findall(r'^(\w+) = "(https://[^"]+)"$', _section(PYPROJECT, "[project.urls]"),
                           re.M))
    assert {"Source", "Issues", "Changelog"} <= set(urls)
    assert all("pypi.org" not in url for url in urls.values())


# -- the sdist -------------------------------------------------------------------------------


def _manifest_covers(top: str) -> bool:
    lines = (ROOT / "MANIFEST.in").read_text(encoding="utf-8").splitlines()
    words = [line.split() for line in lines if line.strip() and not line.startswith("#")]
    return any(w[0] in ("graft", "include") and top in w[1:] for w in words)


# setuptools puts these in every sdist by itself.
ALWAYS_IN_SDIST = {"glacierlib", "glacierlib_cli", "pyproject.toml", "setup.cfg", "README.md",
                   "MANIFEST.in"}


def _top_level_reads() -> set[str]:
    """Top-level repository entries the tests name as ``<root> / "entry"``."""
    found = set()
    for path in python_files(ROOT / "tests"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        to_root = len(path.relative_to(ROOT).parts)
        names: dict[str, tuple[int, int]] = {}
        climb = Climb(names)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                value = climb.of(node.value)
                for target in node.targets:
                    if value is not None and isinstance(target, ast.Name):
                        names[target.id] = value
        for node in ast.walk(tree):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) \
                    and isinstance(node.right, ast.Constant) \
                    and isinstance(node.right.value, str):
                state = climb.of(node.left)
                if state is not None and state[0] == to_root:
                    found.add(node.right.value.split("/")[0])
    return found


def test_the_sdist_carries_what_the_tests_read() -> None:
    reads = _top_level_reads()
    assert "examples" in reads  # the scan sees tests/test_sync_examples.py's ROOT / "examples"
    missing = sorted(top for top in reads | {"tests", "LICENSE", "CHANGELOG.md"}
                     if top not in ALWAYS_IN_SDIST and not _manifest_covers(top))
    assert missing == []


def test_the_fixture_folders_hold_no_symlinks() -> None:
    """An sdist stores a symlink as a link: one to a file outside the tree would dangle."""
    links = [str(p.relative_to(ROOT)) for top in ("tests", "examples")
             for p in (ROOT / top).rglob("*") if p.is_symlink()]
    assert links == []


# -- README ----------------------------------------------------------------------------------


def test_the_readme_opens_with_the_install_commands_for_users() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    before_quick_start = text.split("\n## Quick start", 1)[0]
    first_block = re.search(r"```sh\n(.*?)```", before_quick_start, re.S)
    assert first_block is not None, "no install block before the contributors' quick start"
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines()]
    assert "pip install glacierlib" in commands
    assert "pipx install glacierlib" in commands


# -- release workflow ------------------------------------------------------------------------


def test_the_release_workflow_publishes_tested_builds_by_trusted_publishing() -> None:
    text = (ROOT / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8")
    assert re.search(r'^\s+tags: \["v\*"\]$', text, re.M)
    publish = text[text.index("\n  publish:"):]
    assert re.search(r"^\s+needs: \[test, build\]$", publish, re.M)
    assert re.search(r"^\s+id-token: write", publish, re.M)
    assert re.search(r"^\s+name: pypi$", publish, re.M)
    assert "uses: pypa/gh-action-pypi-publish@" in publish
    assert "password:" not in text and "PYPI_TOKEN" not in text.upper()  # no stored token
    assert "twine check --strict" in text
    assert "bash .ci/run" in text[: text.index("\n  publish:")]
