"""``glacierlib.testing``: a user's own test suite gets a local vault from the pytest plugin.

The user's tests run in a pytester session with only the plugin loaded (``-p
glacierlib.testing``, as its ``pytest11`` entry point does once glacierlib is installed), in a
subprocess: an in-process run would drop the modules it imported from ``sys.modules`` when it
ends, leaving this session with two copies of them.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from glacierlib import testing

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
#: Block the installed entry point (if any) and load the module itself, so the run is the same
#: whether or not glacierlib is installed.
PLUGIN_ARGS = ("-p", "no:glacierlib", "-p", "glacierlib.testing", "-p", "no:cacheprovider")

USER_TESTS = '''
import os
from pathlib import Path

import attrs
import pytest

import glacierlib


def nightly_backup(settings):
    """The user's script: back the tree up, say whether everything is stored."""
    return glacierlib.sync(attrs.evolve(settings, replace_modified=True,
                                        delete_removed=True)).ok


def test_backup_then_restore_one_file(glacier_settings, glacier_local_server):
    (glacier_settings.dir / "a.txt").write_text("precious")
    assert nightly_backup(glacier_settings)
    assert glacierlib.check_local_hash(glacier_settings).ok
    (glacier_settings.dir / "a.txt").unlink()
    assert glacierlib.restore_file(glacier_settings, "a.txt").done
    assert (glacier_settings.dir / "a.txt").read_text() == "precious"
    vaults = {v.name for v in glacierlib.list_vaults(glacier_settings)}
    assert vaults == {"test-vault"}


def test_a_script_building_its_own_settings(glacier_connection, tmp_path):
    settings = glacierlib.settings(**glacier_connection, vault="mine", dir=tmp_path,
                                   journal=tmp_path.parent / "mine.journal")
    glacierlib.create_vault(settings, "mine")
    (tmp_path / "b.txt").write_text("b")
    assert glacierlib.sync(settings).result.uploaded == 1


def test_the_config_file_fixture(glacier_config_file, glacier_settings):
    assert glacierlib.settings(config=glacier_config_file) == attrs.evolve(
        glacier_settings, config_path=glacier_config_file)
    assert os.stat(glacier_config_file).st_mode & 0o077 == 0
'''

SLOW_TESTS = '''
import pytest

import glacierlib
from glacierlib.localserver import ServerConfig


@pytest.fixture
def glacier_server_config():
    return ServerConfig().with_job_delay(4 * 3600)


@pytest.fixture
def glacier_vault_name():
    return "archive-2024"


def test_restore_waits_for_the_job(glacier_settings, glacier_local_server):
    assert glacier_settings.vault == "archive-2024"
    (glacier_settings.dir / "a.txt").write_text("precious")
    assert glacierlib.sync(glacier_settings).ok
    (glacier_settings.dir / "a.txt").unlink()
    assert glacierlib.restore_file(glacier_settings, "a.txt").status == "pending"
    glacier_local_server.control.advance_clock(4 * 3600)
    assert glacierlib.restore_file(glacier_settings, "a.txt").status == "done"
'''


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """The subprocess finds this checkout's glacierlib whether or not it is installed."""
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), *([path] if path else [])]))
    return pytester


def test_a_users_backup_tests_run_against_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_backup=USER_TESTS)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS)
    result.assert_outcomes(passed=3)


def test_a_user_overrides_the_server_config_and_vault(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user_restore=SLOW_TESTS)
    result = pytester.runpytest_subprocess(*PLUGIN_ARGS)
    result.assert_outcomes(passed=1)


def test_without_the_plugin_the_fixtures_do_not_exist(pytester: pytest.Pytester) -> None:
    """The check above would pass vacuously if the fixtures came from anywhere else."""
    pytester.makepyfile(test_user_backup=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:glacierlib", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=3)
    result.stdout.fnmatch_lines(["*fixture 'glacier_settings' not found*"])


def test_loading_the_plugin_is_cheap() -> None:
    """Installed, it loads in every pytest run of the environment, glacierlib's or not."""
    code = ("import sys, glacierlib.testing; "
            "print(sorted(m for m in ('botocore', 'glacierlib.localserver', "
            "'glacierlib.operations.sync') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=False, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert (result.returncode, result.stdout) == (0, "[]\n"), result.stderr


def _fixture_names(path: Path) -> set[str]:
    """Functions decorated with ``pytest.fixture`` (called or not) in one file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                target = deco.func if isinstance(deco, ast.Call) else deco
                if ast.unparse(target) in ("pytest.fixture", "fixture"):
                    names.add(node.name)
    return names


def test_plugin_fixture_names_cannot_clash_with_the_projects_own() -> None:
    """Once glacierlib is installed the plugin is active in this very test suite too."""
    plugin = _fixture_names(ROOT / "glacierlib" / "testing.py")
    assert plugin == {name for name in testing.__all__ if name.startswith("glacier_")}
    assert all(name.startswith("glacier_") for name in plugin)
    ours = set().union(*(_fixture_names(p) for p in (ROOT / "tests").rglob("*.py")))
    assert ours, "the scan found no fixture at all"
    assert plugin & ours == set()


def _pytest11_table() -> str:
    text = (ROOT / "pyproject.toml").read_text("utf-8")
    table = re.search(r"^\[project\.entry-points\.pytest11\]\n(.*?)(?:^\[|\Z)", text,
                      re.MULTILINE | re.DOTALL)
    assert table is not None, "pyproject.toml has no [project.entry-points.pytest11]"
    return table.group(1).strip()


def test_the_plugin_is_registered_as_an_entry_point() -> None:
    assert re.fullmatch(r'glacierlib\s*=\s*"glacierlib\.testing"', _pytest11_table())


def test_the_entry_point_loads_the_plugin_by_itself(pytester: pytest.Pytester,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``pip install glacierlib`` writes (entry_points.txt), found on sys.path."""
    site = pytester.mkdir("site")
    info = site / "glacierlib-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: glacierlib\nVersion: 0.0.0\n")
    (info / "entry_points.txt").write_text(
        "[pytest11]\n" + _pytest11_table().replace('"', "") + "\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(site)]))
    pytester.makepyfile(test_user_backup=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
