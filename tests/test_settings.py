"""Settings for people who embed the library: typed keywords, errors in the caller's units.

``Settings(...)`` built from Python raises ``InvalidSetting`` (a ``ConfigError``) naming the
field, sizes in bytes; ``glacierlib.settings(...)`` takes the CLI's options as typed keywords
(``Literal`` enumerations, MiB where the CLI counts MiB) and goes through ``resolve_settings``;
a type checker rejects a misspelled keyword or enumeration value before anything runs.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, get_args

import pytest

import glacierlib
from glacierlib.config import (
    DETECT_MODES,
    INVENTORY_FORMATS,
    LIST_OPTIONS,
    OPTION_FIELDS,
    PROTOCOLS,
    TIERS,
    Settings,
    resolve_settings,
)
from glacierlib.exceptions import ConfigError, GlacierlibError, InvalidSetting
from glacierlib.options import (
    MIB_KEYWORDS,
    OPTION_OF,
    OUTPUT_ONLY,
    Detect,
    FilterKind,
    InventoryFormat,
    Scheme,
    Tier,
    settings,
)

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20
KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

# ---------------------------------------------------------------------------------------------
# Settings(...) built directly

#: One refused value for every field that has a rule (field -> value, words of the message).
BAD_VALUES: dict[str, tuple[object, str]] = {
    "region": ("no spaces allowed", "region name"),
    "endpoint_url": ("ftp://x", "http:// or https://"),
    "protocol": ("gopher", "one of https, http"),
    "timeout": (0, "between 1 and 99999"),
    "access_key": ("short", "access key id"),
    "profile": ("bad profile!", "profile name"),
    "local_dir": ("", "expected a path"),
    "vault": ("a/b", "1 to 255"),
    "journal": ("a\x00b", "NUL"),
    "set_rel_filename": ("", "must not be empty"),
    "stdin": ("maybe", "expected 1 or 0"),
    "check_max_file_size": (5, "5 bytes is not between 1 MiB"),
    "concurrency": (100, "between 1 and 64"),
    "part_size": (64, "64 bytes is not a power of two multiple of 1 MiB (1048576 bytes)"),
    "segment_size": (3 * MIB, "3145728 bytes is neither 0 nor a power of two"),
    "detect": ("mtime-and-treehas", "must be one of"),
    "max_number_of_files": (0, "at least 1"),
    "max_size": ("lots", "expected a size"),
    "tier": ("Glacial", "must be one of Expedited"),
    "sns_topic": ("topic", "SNS topic ARN"),
    "request_inventory_format": ("xml", "one of json, csv"),
    "format": ("yaml", "one of for-humans"),
}


@pytest.mark.parametrize("field", sorted(BAD_VALUES))
def test_every_refused_field_raises_a_config_error_naming_it(field: str) -> None:
    value, words = BAD_VALUES[field]
    with pytest.raises(InvalidSetting) as info:
        Settings(**{field: value})
    assert isinstance(info.value, ConfigError) and isinstance(info.value, GlacierlibError)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert words in str(info.value)


def test_part_size_in_bytes_is_reported_in_bytes() -> None:
    """The issue's case: 64 (bytes) was reported as 6.10352e-05 MiB in a bare ValueError."""
    with pytest.raises(GlacierlibError) as info:
        Settings(part_size=64)
    message = str(info.value)
    assert message == ("part_size: 64 bytes is not a power of two multiple of 1 MiB "
                       "(1048576 bytes) between 1 and 4096 MiB")
    assert "e-05" not in message
    # Still a ValueError, as attrs raised before: callers that caught that keep working.
    assert isinstance(info.value, ValueError)


def test_the_command_line_still_reports_mib() -> None:
    with pytest.raises(ConfigError, match=r"^--partsize: .* \(MiB\), got 3$"):
        resolve_settings({"partsize": "3"}, {}, {})
    with pytest.raises(ConfigError, match=r"got 0$"):
        resolve_settings({"check-max-file-size": "0"}, {}, {})


def test_a_misspelled_field_names_the_right_one() -> None:
    given: dict[str, Any] = {"valt": "photos"}
    with pytest.raises(InvalidSetting, match="unknown setting 'valt'") as info:
        Settings(**given)
    assert info.value.hint == "did you mean vault?"
    given = {"key": KEY}
    with pytest.raises(InvalidSetting, match="did you mean access_key"):
        Settings(**given)


def test_evolve_goes_through_the_same_errors() -> None:
    import attrs

    base = Settings(vault="v")
    assert attrs.evolve(base, part_size=32 * MIB).part_size == 32 * MIB
    with pytest.raises(InvalidSetting, match="part_size: 1000 bytes"):
        attrs.evolve(base, part_size=1000)


def test_secrets_are_not_echoed_in_setting_errors() -> None:
    secret = "bad secret with spaces"
    with pytest.raises(InvalidSetting) as info:
        Settings(access_key=KEY, secret_key=secret)
    assert info.value.field == "secret_key" and secret not in str(info.value)


# ---------------------------------------------------------------------------------------------
# glacierlib.settings(...): typed keywords through resolve_settings


def test_defaults_are_the_command_lines() -> None:
    assert settings() == resolve_settings({}, {}, {})
    assert glacierlib.settings is settings


def test_every_option_has_a_keyword() -> None:
    keywords = set(inspect.signature(settings).parameters)
    options = {o for o in OPTION_FIELDS if o not in OUTPUT_ONLY}
    assert set(OPTION_OF.values()) == options
    assert keywords == set(OPTION_OF) | {"filters", "config", "environ"}
    assert keywords >= MIB_KEYWORDS


def test_enumerations_are_the_validators_choices() -> None:
    assert get_args(Detect) == DETECT_MODES
    assert get_args(Tier) == TIERS
    assert get_args(Scheme) == PROTOCOLS
    assert get_args(InventoryFormat) == INVENTORY_FORMATS
    assert set(get_args(FilterKind)) == LIST_OPTIONS


def test_keywords_mean_what_the_options_mean(tmp_path: Path) -> None:
    built = settings(vault="v", dir=tmp_path, journal=tmp_path / "j", part_size_mib=64,
                     segment_size_mib=32, max_size="20G", replace_modified=True,
                     detect="treehash", tier="Bulk", filters=[("exclude", "*.tmp")])
    assert built == resolve_settings(
        {"vault": "v", "dir": str(tmp_path), "journal": str(tmp_path / "j"), "partsize": "64",
         "segment-size": "32", "max-size": "20G", "replace-modified": True,
         "detect": "treehash", "tier": "Bulk", "filters": [("exclude", "*.tmp")]}, {}, {})
    assert built.part_size == 64 * MIB and built.max_size == 20 << 30
    assert built.new is False  # as on the command line: given modes only
    assert settings(vault="v").new is True


def test_errors_name_the_keyword_in_its_unit() -> None:
    with pytest.raises(InvalidSetting) as info:
        settings(part_size_mib=3)
    assert str(info.value) == ("part_size_mib: must be a power of two between 1 and 4096 "
                               "(MiB), got 3")
    assert info.value.field == "part_size_mib"
    with pytest.raises(InvalidSetting, match=r"^detect only makes sense with replace_modified"):
        settings(detect="mtime")
    with pytest.raises(InvalidSetting, match=r"add secret_key"):
        settings(access_key=KEY)
    with pytest.raises(InvalidSetting, match=r"^local_dir: "):
        settings(local_dir="")


def test_a_config_file_fills_what_the_keywords_leave(tmp_path: Path) -> None:
    config = tmp_path / "glacier.conf"
    config.write_text(f"key={KEY}\nsecret={SECRET}\nvault=from-file\nconcurrency=8\n"
                      "partsize=2\n")
    config.chmod(0o600)
    built = settings(config=config, vault="from-keyword")
    assert (built.vault, built.concurrency, built.part_size) == ("from-keyword", 8, 2 * MIB)
    assert built.access_key == KEY and built.config_path == config
    config.write_text("partsize=3\n")
    with pytest.raises(ConfigError, match=r"glacier.conf, line 1: partsize"):
        settings(config=config)


def test_environ_is_read_only_when_given() -> None:
    env = {"AWS_DEFAULT_REGION": "eu-west-1"}
    assert settings(environ=env).region == "eu-west-1"
    assert settings().region is None
    assert settings(region="us-east-2", environ=env).region == "us-east-2"


# ---------------------------------------------------------------------------------------------
# The type checker sees the same mistakes


BAD_SCRIPT = '''\
import glacierlib

glacierlib.settings(valt="photos")
glacierlib.settings(vault="photos", replace_modified=True, detect="mtime-and-treehas")
glacierlib.settings(vault="photos", part_size_mib="64")
glacierlib.settings(vault="photos", tier="Glacial")
'''

GOOD_SCRIPT = '''\
from pathlib import Path

import glacierlib

settings: glacierlib.Settings = glacierlib.settings(
    vault="photos", dir=Path("/srv/photos"), journal="photos.journal", concurrency=8,
    part_size_mib=64, replace_modified=True, detect="mtime-or-treehash", tier="Bulk",
    filters=[("exclude", "*.tmp")], max_size="20G",
)
report: glacierlib.SyncReport = glacierlib.sync(settings)
ok: bool = report.ok
restored: glacierlib.FileRestore = glacierlib.restore_file(settings, "a.jpg", dest=Path("a"))
done: bool = restored.done
'''


def test_mypy_rejects_a_misspelled_keyword_and_accepts_a_correct_script(
    tmp_path: Path,
) -> None:
    """The examples are checked in the same run: they must pass as they are documented."""
    pytest.importorskip("mypy")
    (tmp_path / "bad_script.py").write_text(BAD_SCRIPT)
    (tmp_path / "good_script.py").write_text(GOOD_SCRIPT)
    # One run over both files, with its cache in tmp_path: a few seconds.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), "--no-error-summary",
         "bad_script.py", "good_script.py", *map(str, sorted((ROOT / "examples").glob("*.py")))],
        capture_output=True, text=True, timeout=240, check=False, cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(ROOT)},
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == 1, result.stdout + result.stderr
    assert not [e for e in errors if not e.startswith("bad_script.py:")], errors
    lines = {int(e.split(":")[1]) for e in errors}
    assert lines == {3, 4, 5, 6}, textwrap.indent("\n".join(errors), "  ")
    assert any('Unexpected keyword argument "valt"' in e for e in errors)
    assert any("Literal['mtime-and-treehas']" in e for e in errors)
