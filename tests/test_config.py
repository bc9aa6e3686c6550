"""glacierlib.config: the mt-aws-glacier config format, precedence, validation, secrets."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glacierlib.config import (
    CONFIG_FILE_NAMES,
    ConfigValues,
    Settings,
    load_config,
    parse_config_text,
    parse_size,
    read_config_file,
    require_region,
    resolve_settings,
    secret_permission_warning,
)
from glacierlib.exceptions import ConfigError
from glacierlib.filters import FilterSet

MIB = 1 << 20
KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FQoGZXIvYXdzEXAMPLETOKENVALUE0123456789"


def write(tmp_path: Path, text: str | bytes, name: str = "glacier.cfg") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


# ---------------------------------------------------------------------------------------------
# File format


def test_name_value_lines_are_trimmed_and_values_kept_verbatim() -> None:
    values = parse_config_text(
        "vault=photos\n"
        "  journal \t=\t /j/a b.log  \n"
        "dir = /data/with=equals\n"
        "sns-topic=arn:aws:sns:eu-west-1:123456789012:t # not a comment\n"
    )
    assert values == {
        "vault": "photos",
        "journal": "/j/a b.log",
        "dir": "/data/with=equals",
        "sns-topic": "arn:aws:sns:eu-west-1:123456789012:t # not a comment",
    }


def test_bare_name_is_a_flag_set_to_1() -> None:
    assert parse_config_text("dry-run\n  new  \n") == {"dry-run": "1", "new": "1"}


def test_comments_and_blank_lines_are_skipped() -> None:
    text = "# a comment\n   # indented comment\n\n \t \nvault=v\n#vault=other\n"
    assert parse_config_text(text) == {"vault": "v"}


def test_empty_value_is_kept() -> None:
    assert parse_config_text("profile=\n") == {"profile": ""}


def test_crlf_lines(tmp_path: Path) -> None:
    path = write(tmp_path, b"key=" + KEY.encode() + b"\r\nregion = eu-west-1\r\nnew\r\n")
    assert read_config_file(path) == {"key": KEY, "region": "eu-west-1", "new": "1"}


def test_duplicate_key_later_line_wins_and_its_line_is_remembered() -> None:
    values = parse_config_text("concurrency=2\nvault=v\nconcurrency=8\n", "c.cfg")
    assert values["concurrency"] == "8"
    assert values.lines["concurrency"] == 3
    assert values.path == "c.cfg"


@pytest.mark.parametrize("name", ["filter", "include", "exclude"])
def test_list_options_in_a_config_file_add_rules_in_file_order(name: str) -> None:
    values = parse_config_text(f"vault=v\n{name}=+*.jpg\n{name}=-x\n", "my.cfg")
    assert name not in values
    assert values.filters == [(name, "+*.jpg", 2), (name, "-x", 3)]


def test_unknown_name_is_refused_with_file_and_line() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config_text("\n\nvualt=v\n", "my.cfg")
    assert (info.value.path, info.value.line) == ("my.cfg", 3)
    assert "vualt" in str(info.value)


@pytest.mark.parametrize(
    "line",
    [
        "=value",
        "-key=1",
        "key value",
        "two words",
        "ké=1",
        "vault:photos",
        "[section]",
        "vault=v\x00x",
    ],
)
def test_unparsable_lines_name_file_and_line(line: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config_text(f"# ok\n{line}\n", "bad.cfg")
    assert (info.value.path, info.value.line) == ("bad.cfg", 2)
    assert str(info.value).startswith("bad.cfg, line 2: ")


def test_new_names_of_cli_md_are_accepted() -> None:
    text = "\n".join(
        f"{name}=x" for name in ("profile", "endpoint-url", "local", "tier", "max-size",
                                  "sns-topic", "segment-size", "format", "fsync")
    )
    assert len(parse_config_text(text)) == 9


def test_mt_aws_glacier_readme_example_parses() -> None:
    values = parse_config_text("key=YOURKEY\nsecret=YOURSECRET\nregion=us-east-1\nprotocol=http\n")
    assert values["protocol"] == "http"


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"vault=v\ndir=/d\xff\n")
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    assert info.value.line == 2 and info.value.path == path


def test_utf8_bom_is_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffvault=v\n".encode())
    assert read_config_file(path) == {"vault": "v"}


def test_missing_file_is_a_config_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.cfg"
    with pytest.raises(ConfigError) as info:
        read_config_file(missing)
    assert str(missing) in str(info.value)


def test_secret_is_not_echoed_in_a_parse_error() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config_text("secret " + "S" * 80 + " trailing\n", "c.cfg")
    assert "S" * 80 not in str(info.value)


_LINE = st.lists(
    st.sampled_from(list("abcdefgkrstuvy-_= \t#\r\x00é0123456789\x85\u2028"))
    | st.sampled_from(sorted(CONFIG_FILE_NAMES | {"filter", "include", "exclude"})),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=8))
def test_parser_never_crashes(lines: list[str]) -> None:
    text = "\n".join(lines)
    try:
        values = parse_config_text(text, "fuzz.cfg")
    except ConfigError as exc:
        assert exc.path == "fuzz.cfg"
        assert exc.line is not None and 1 <= exc.line <= max(1, len(lines))
        assert str(exc).startswith(f"fuzz.cfg, line {exc.line}: ")
    else:
        assert set(values) <= CONFIG_FILE_NAMES
        assert set(values.lines) == set(values)


_NAMES = st.sampled_from(sorted(CONFIG_FILE_NAMES))
_VALUES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    max_size=30,
).map(str.strip)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(_NAMES, _VALUES, max_size=8), st.sampled_from(["\n", "\r\n"]))
def test_written_pairs_read_back(pairs: dict[str, str], newline: str) -> None:
    text = newline.join(f"{name} = {value}" for name, value in pairs.items())
    values = parse_config_text(text)
    assert dict(values) == {k: v.strip(" \t") for k, v in pairs.items()}


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_NAMES, st.sampled_from(
    ["", "0", "1", "16", "3", "65", "x", "500M", "https", "Bulk", "json", "a b", "-1",
     "arn:aws:sns:eu-west-1:1:t", "http://h:1", "UTF-8", "99999999999999"]), max_size=10))
def test_resolving_any_config_values_raises_only_config_errors_naming_the_line(
    pairs: dict[str, str]
) -> None:
    text = "".join(f"{name}={value}\n" for name, value in pairs.items())
    values = parse_config_text(text, "p.cfg")
    try:
        resolve_settings({}, values, {})
    except ConfigError as exc:
        # Only the cross-field rules (a key without its secret...) name no single line.
        if exc.line is None:
            assert "without" in str(exc) or "together" in str(exc)
        else:
            assert exc.path == "p.cfg" and 1 <= exc.line <= len(pairs)


# ---------------------------------------------------------------------------------------------
# Precedence


def test_defaults() -> None:
    s = resolve_settings({}, {}, {})
    assert (s.protocol, s.timeout, s.concurrency, s.part_size) == ("https", 180, 4, 16 * MIB)
    assert (s.tier, s.request_inventory_format, s.format) == ("Standard", "json", "for-humans")
    assert s.detect == "mtime-and-treehash"
    assert s.new and not s.replace_modified and not s.delete_removed
    assert s.segment_size is None and s.region is None and s.fsync
    assert s.access_key is None and s.secret_key is None and s.session_token is None
    assert s.filters == FilterSet()


def test_command_line_beats_config_beats_environment_beats_default() -> None:
    env = {"AWS_DEFAULT_REGION": "env-region-1"}
    config = {"region": "cfg-region-1"}
    assert resolve_settings({"region": "cli-region-1"}, config, env).region == "cli-region-1"
    assert resolve_settings({}, config, env).region == "cfg-region-1"
    assert resolve_settings({}, {}, env).region == "env-region-1"
    assert resolve_settings({}, {}, {}).region is None


def test_command_line_beats_config_for_every_kind_of_value() -> None:
    config = {"concurrency": "2", "partsize": "8", "dry-run": "0", "vault": "a", "tier": "Bulk"}
    cli = {"concurrency": "16", "partsize": "64", "dry-run": True, "vault": "b",
           "tier": "expedited"}
    s = resolve_settings(cli, config, {})
    assert (s.concurrency, s.part_size, s.dry_run, s.vault, s.tier) == (
        16, 64 * MIB, True, "b", "Expedited")
    s = resolve_settings({}, config, {})
    assert (s.concurrency, s.part_size, s.dry_run, s.vault, s.tier) == (
        2, 8 * MIB, False, "a", "Bulk")


def test_aws_default_region_wins_over_aws_region() -> None:
    env = {"AWS_REGION": "second-1", "AWS_DEFAULT_REGION": "first-1"}
    assert resolve_settings({}, {}, env).region == "first-1"
    assert resolve_settings({}, {}, {"AWS_REGION": "second-1"}).region == "second-1"


def test_profile_from_environment_is_overridden_by_option() -> None:
    env = {"AWS_PROFILE": "envprof"}
    assert resolve_settings({}, {}, env).profile == "envprof"
    assert resolve_settings({}, {"profile": "cfgprof"}, env).profile == "cfgprof"
    assert resolve_settings({"profile": "cliprof"}, {"profile": "cfgprof"}, env).profile == \
        "cliprof"


def test_credentials_in_the_environment_are_left_to_botocore() -> None:
    env = {"AWS_ACCESS_KEY_ID": KEY, "AWS_SECRET_ACCESS_KEY": SECRET}
    s = resolve_settings({}, {}, env)
    assert s.access_key is None and s.secret_key is None
    assert not s.explicit_credentials


def test_explicit_credentials_may_be_split_between_file_and_command_line() -> None:
    s = resolve_settings({"key": KEY}, {"secret": SECRET, "token": TOKEN}, {})
    assert (s.access_key, s.secret_key, s.session_token) == (KEY, SECRET, TOKEN)
    assert s.explicit_credentials


def test_option_names_with_underscores_are_accepted() -> None:
    assert resolve_settings({"dry_run": True}, {}, {}).dry_run


def test_sync_mode_new_is_implied_only_when_no_mode_is_given() -> None:
    assert resolve_settings({}, {}, {}).new
    s = resolve_settings({"replace-modified": True}, {}, {})
    assert not s.new and s.replace_modified
    s = resolve_settings({"replace-modified": True, "new": True}, {}, {})
    assert s.new and s.replace_modified
    s = resolve_settings({}, {"delete-removed": "1"}, {})
    assert not s.new and s.delete_removed


def test_explicit_detect_needs_replace_modified_on_the_command_line() -> None:
    with pytest.raises(ConfigError, match="--detect"):
        resolve_settings({"detect": "mtime"}, {}, {})
    assert resolve_settings({"detect": "mtime", "replace-modified": True}, {}, {}).detect == \
        "mtime"
    # In a config file it is tolerated, as mt-aws-glacier does.
    assert resolve_settings({}, {"detect": "treehash"}, {}).detect == "treehash"


def test_filters_keep_command_line_order() -> None:
    rules = [("include", "*.jpg"), ("exclude", "*"), ("filter", "+a -b")]
    s = resolve_settings({"filters": rules}, {}, {})
    assert s.filters == FilterSet.from_options(rules)
    assert [r.pattern for r in s.filters.rules][:2] == ["*.jpg", "*"]


@pytest.mark.parametrize("bad", ["not a list", [("filters", "x")], [("include", 3)]])
def test_bad_filter_structures_are_refused(bad: object) -> None:
    with pytest.raises(ConfigError):
        resolve_settings({"filters": bad}, {}, {})


def test_config_file_filters_come_after_the_command_line_rules(tmp_path: Path) -> None:
    """Rules of the file apply after those of the command line (the first match wins, so
    the command line overrides), and a plain mapping's entry is one rule."""
    cfg = write(tmp_path, "exclude=*.tmp\nfilter=+keep.tmp -*.log\n")
    s = resolve_settings({"filters": [("include", "a.tmp")]}, read_config_file(cfg), {})
    assert [(r.action, r.pattern) for r in s.filters.rules] == [
        ("+", "a.tmp"), ("-", "*.tmp"), ("+", "keep.tmp"), ("-", "*.log")]
    assert s.filters.includes("a.tmp") and not s.filters.includes("b.tmp")
    plain = resolve_settings({}, {"exclude": "*.tmp"}, {})
    assert not plain.filters.includes("x.tmp")


def test_a_bad_filter_in_a_config_file_names_file_and_line(tmp_path: Path) -> None:
    cfg = write(tmp_path, "vault=v\n\nfilter=+ok - bad rest\n")
    with pytest.raises(ConfigError) as info:
        resolve_settings({}, read_config_file(cfg), {})
    assert f"{cfg}, line 3" in str(info.value) and "filter" in str(info.value)


def test_filter_from_file_rules_comments_and_errors(tmp_path: Path) -> None:
    rules = tmp_path / "rules.txt"
    rules.write_text("# cron exclude list\n\n+ keep me.tmp\r\n-*.tmp\n  -/cache/  \n")
    cfg = write(tmp_path, f"filter-from={rules}\n")
    s = resolve_settings({"filters": [("exclude", "*.bak")]}, read_config_file(cfg), {})
    assert [(r.action, r.pattern) for r in s.filters.rules] == [
        ("-", "*.bak"), ("+", "keep me.tmp"), ("-", "*.tmp"), ("-", "/cache/")]
    assert s.filters.includes("keep me.tmp") and not s.filters.includes("x.tmp")
    assert not s.filters.includes("cache/x")
    assert f"filter-from {rules}:3" in s.filters.describe()
    cli = resolve_settings({"filters": [("filter-from", str(rules))]}, {}, {})
    assert cli.filters.rules == s.filters.rules[1:]
    rules.write_text("-*.tmp\n# fine\nkeep.txt\n")
    with pytest.raises(ConfigError) as info:
        resolve_settings({"filters": [("filter-from", str(rules))]}, {}, {})
    assert f"{rules}, line 3" in str(info.value) and "keep.txt" in str(info.value)
    with pytest.raises(ConfigError, match="cannot read the filter file"):
        resolve_settings({"filters": [("filter-from", str(tmp_path / "none"))]}, {}, {})


def test_local_needs_neither_credentials_nor_region(tmp_path: Path) -> None:
    s = resolve_settings({"local": str(tmp_path)}, {}, {})
    assert s.local_dir == tmp_path
    assert require_region(s) is None


def test_require_region() -> None:
    with pytest.raises(ConfigError, match="region is required") as info:
        require_region(resolve_settings({}, {}, {}))
    assert "--region" in str(info.value)
    assert require_region(resolve_settings({}, {}, {}), "eu-west-1") == "eu-west-1"
    assert require_region(resolve_settings({"region": "us-east-1"}, {}, {}), "eu-west-1") == \
        "us-east-1"


def test_config_path_is_recorded(tmp_path: Path) -> None:
    path = write(tmp_path, "vault=v\n")
    s = resolve_settings({}, read_config_file(path), {})
    assert s.config_path == path


# ---------------------------------------------------------------------------------------------
# Validation: every rule, naming the option and where the value came from


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("concurrency", "0"), ("concurrency", "65"), ("concurrency", "four"),
        ("concurrency", "-1"),
        ("partsize", "3"), ("partsize", "0"), ("partsize", "8192"), ("partsize", "1.5"),
        ("segment-size", "3"), ("segment-size", "x"),
        ("vault", "bad/name"), ("vault", "a" * 256), ("vault", ""), ("vault", "sp ace"),
        ("timeout", "0"), ("timeout", "100000"), ("timeout", "abc"),
        ("protocol", "ftp"),
        ("tier", "fast"),
        ("detect", "sometimes"),
        ("max-size", "lots"), ("max-size", "0"), ("max-size", "5X"),
        ("max-number-of-files", "0"), ("max-number-of-files", "many"),
        ("request-inventory-format", "xml"),
        ("format", "yaml"),
        ("endpoint-url", "glacier.example.com"), ("endpoint-url", "ftp://x"),
        ("sns-topic", "my-topic"),
        ("region", "x"), ("region", "eu west 1"),
        ("check-max-file-size", "0"), ("check-max-file-size", "40960001"),
        ("dry-run", "maybe"),
        ("profile", "has space"),
        ("set-rel-filename", ""),
        ("journal", ""),
    ],
)
def test_bad_values_are_refused_naming_the_option(option: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_settings({option: value}, {}, {})
    assert f"--{option}" in str(info.value)
    with pytest.raises(ConfigError) as info:
        resolve_settings({}, parse_config_text(f"vault=ok\n{option}={value}\n", "f.cfg"), {})
    assert info.value.path == "f.cfg" and info.value.line == 2
    assert option in str(info.value)


def test_mib_options_count_mib_whether_string_or_int() -> None:
    assert resolve_settings({"partsize": 32}, {}, {}).part_size == 32 * MIB
    assert resolve_settings({"segment-size": "2"}, {}, {}).segment_size == 2 * MIB


@pytest.mark.parametrize(
    ("option", "value", "field", "expected"),
    [
        ("concurrency", "64", "concurrency", 64),
        ("concurrency", "1", "concurrency", 1),
        ("partsize", "1", "part_size", MIB),
        ("partsize", "4096", "part_size", 4096 * MIB),
        ("segment-size", "0", "segment_size", 0),
        ("segment-size", "32", "segment_size", 32 * MIB),
        ("max-size", "500M", "max_size", 500 * MIB),
        ("max-size", "20G", "max_size", 20 << 30),
        ("max-size", "1TiB", "max_size", 1 << 40),
        ("max-size", "4096", "max_size", 4096),
        ("check-max-file-size", "100", "check_max_file_size", 100 * MIB),
        ("protocol", "HTTP", "protocol", "http"),
        ("tier", "bulk", "tier", "Bulk"),
        ("request-inventory-format", "CSV", "request_inventory_format", "csv"),
        ("format", "json", "format", "json"),
        ("vault", "A-z_0.9", "vault", "A-z_0.9"),
        ("timeout", "5", "timeout", 5),
        ("endpoint-url", "http://127.0.0.1:9000", "endpoint_url", "http://127.0.0.1:9000"),
        ("sns-topic", "arn:aws:sns:eu-west-1:123456789012:done", "sns_topic",
         "arn:aws:sns:eu-west-1:123456789012:done"),
        ("fsync", "0", "fsync", False),
        ("follow", "yes", "follow", True),
        ("max-number-of-files", "10", "max_number_of_files", 10),
    ],
)
def test_good_values_are_converted(option: str, value: str, field: str, expected: object) -> None:
    assert getattr(resolve_settings({option: value}, {}, {}), field) == expected


def test_bad_environment_region_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="AWS_DEFAULT_REGION"):
        resolve_settings({}, {}, {"AWS_DEFAULT_REGION": "no spaces allowed"})


@pytest.mark.parametrize(
    ("cli", "message"),
    [
        ({"local": "/srv", "endpoint-url": "http://x:1"}, "--local and --endpoint-url"),
        ({"secret": SECRET}, "without a key"),
        ({"key": KEY}, "without its secret"),
        ({"token": TOKEN}, "token"),
        ({"quiet": True, "verbose": True}, "--quiet and --verbose"),
    ],
)
def test_inconsistent_combinations_are_refused(cli: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_settings(cli, {}, {})


@pytest.mark.parametrize("option", ["key", "secret", "token"])
def test_bad_credentials_are_refused_without_echoing_them(option: str) -> None:
    creds: dict[str, object] = {"key": KEY, "secret": SECRET}
    bad = "has spaces in it " + "Q" * 30
    creds[option] = bad
    with pytest.raises(ConfigError) as info:
        resolve_settings(creds, {}, {})
    assert f"--{option}" in str(info.value)
    assert bad not in str(info.value) and "Q" * 30 not in str(info.value)


def test_unknown_cli_option_is_refused() -> None:
    with pytest.raises(ConfigError, match="--bogus"):
        resolve_settings({"bogus": "1"}, {}, {})


def test_settings_built_directly_get_the_same_rules() -> None:
    assert Settings(concurrency="8").concurrency == 8  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="between 1 and 64"):
        Settings(concurrency=100)
    with pytest.raises(ValueError, match="power of two"):
        Settings(part_size=3 * MIB)


def test_settings_are_frozen() -> None:
    s = resolve_settings({}, {}, {})
    with pytest.raises(AttributeError):
        s.concurrency = 8  # type: ignore[misc]


def test_secrets_never_in_repr() -> None:
    s = resolve_settings({"key": KEY, "secret": SECRET, "token": TOKEN}, {}, {})
    text = repr(s)
    assert SECRET not in text and TOKEN not in text and KEY not in text
    assert "concurrency=4" in text


def test_use_ssl() -> None:
    assert resolve_settings({}, {}, {}).use_ssl
    assert not resolve_settings({"protocol": "http"}, {}, {}).use_ssl
    assert not resolve_settings({"endpoint-url": "http://localhost:1"}, {}, {}).use_ssl


def test_parse_size_units() -> None:
    assert parse_size("1k") == 1024
    assert parse_size("2 MB") == 2 * MIB
    assert parse_size(7) == 7
    with pytest.raises(ValueError):
        parse_size("1.5G")


# ---------------------------------------------------------------------------------------------
# Legacy names


def test_legacy_encoding_utf8_is_silent_and_others_warn() -> None:
    assert resolve_settings({}, {"terminal-encoding": "UTF-8"}, {}).warnings == ()
    s = resolve_settings({}, {"filenames-encoding": "KOI8-R"}, {})
    assert any("filenames-encoding" in w for w in s.warnings)


def test_leaf_optimization_is_accepted_and_validated() -> None:
    assert resolve_settings({}, {"leaf-optimization": "0"}, {}).warnings == ()
    with pytest.raises(ConfigError, match="leaf-optimization") as info:
        resolve_settings({}, parse_config_text("leaf-optimization=2", "f.cfg"), {})
    assert info.value.line == 1
    with pytest.raises(ConfigError, match="--leaf-optimization"):
        resolve_settings({"leaf-optimization": "x"}, {}, {})


def test_dead_options_warn() -> None:
    s = resolve_settings({}, {"base-dir": "/x"}, {})
    assert any("base-dir" in w for w in s.warnings)


# ---------------------------------------------------------------------------------------------
# Permissions


def test_world_readable_secret_warns(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, f"key={KEY}\nsecret={SECRET}\n")
    os.chmod(path, 0o644)
    with caplog.at_level(logging.INFO, logger="glacierlib.config"):
        values, warnings = load_config(path)
    assert values["secret"] == SECRET
    assert len(warnings) == 1 and "chmod 600" in warnings[0] and str(path) in warnings[0]
    assert SECRET not in warnings[0]
    assert [r.getMessage() for r in caplog.records] == warnings
    assert caplog.records[0].returned_to_caller is True
    # Below WARNING: Python's last-resort handler would print it before a front end's handler
    # exists, and the front end prints the returned warning itself (issue 11: it came twice).
    assert caplog.records[0].levelno < logging.WARNING


def test_group_readable_secret_warns(tmp_path: Path) -> None:
    path = write(tmp_path, f"key={KEY}\nsecret={SECRET}\n")
    os.chmod(path, 0o640)
    assert secret_permission_warning(path, read_config_file(path)) is not None


def test_private_secret_does_not_warn(tmp_path: Path) -> None:
    path = write(tmp_path, f"key={KEY}\nsecret={SECRET}\n")
    os.chmod(path, 0o600)
    assert load_config(path)[1] == []


def test_readable_file_without_secret_does_not_warn(tmp_path: Path) -> None:
    path = write(tmp_path, "vault=v\nregion=eu-west-1\n")
    os.chmod(path, 0o644)
    assert load_config(path)[1] == []


def test_config_values_is_a_dict() -> None:
    values = ConfigValues("x")
    values["vault"] = "v"
    assert values == {"vault": "v"}


# ---------------------------------------------------------------------------------------------
# Retry settings (issues 11 and 12)


@pytest.mark.parametrize(("typed", "seconds"), [("900", 900.0), ("90s", 90.0), ("15m", 900.0),
                                                ("2h", 7200.0), ("0", 0.0), ("0.5", 0.5),
                                                ("10 min", 600.0)])
def test_retry_timeout_is_a_duration(typed: str, seconds: float) -> None:
    assert resolve_settings({"retry-timeout": typed}, {}, {}).retry_timeout == seconds


def test_retry_settings_defaults_and_precedence(tmp_path: Path) -> None:
    default = resolve_settings({}, {}, {})
    assert default.retry_timeout == 900 and default.max_attempts is None
    cfg = write(tmp_path, "retry-timeout = 30m\nmax-attempts = 7\n")
    from_file = resolve_settings({}, read_config_file(cfg), {})
    assert (from_file.retry_timeout, from_file.max_attempts) == (1800.0, 7)
    both = resolve_settings({"max-attempts": "0", "retry-timeout": "1h"},
                            read_config_file(cfg), {})
    assert (both.retry_timeout, both.max_attempts) == (3600.0, 0)


@pytest.mark.parametrize(("option", "value", "needle"), [
    ("retry-timeout", "soon", "expected a duration"),
    ("retry-timeout", "30d", "expected a duration"),
    ("retry-timeout", "200h", "between 0 and 168h"),
    ("max-attempts", "-1", "non-negative integer"),
    ("max-attempts", "20000", "between 0 (no limit) and 10000"),
])
def test_bad_retry_settings_name_the_option(option: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_settings({option: value}, {}, {})
    assert f"--{option}" in str(info.value) and needle in str(info.value)


def test_a_config_line_with_a_secret_is_never_echoed() -> None:
    for text in ("secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
                 "  token\tIQoJb3JpZ2luX2VjEXAMPLEtokenZZtop\n",
                 "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY\n",
                 "key AKIAIOSFODNN7EXAMPLE extra\n"):
        with pytest.raises(ConfigError) as info:
            parse_config_text(text, "my.cfg")
        message = str(info.value)
        assert "my.cfg, line 1" in message
        for secret in ("bPxRfiCY", "EXAMPLEtoken", "FODNN7"):
            assert secret not in message, message
    with pytest.raises(ConfigError) as info:
        parse_config_text("this is not a line\n", "my.cfg")
    assert "'this is not a line'" in str(info.value)  # what cannot be a secret is shown
    with pytest.raises(ConfigError, match="did you mean concurrency"):
        parse_config_text("concurency=3\n", "my.cfg")
