"""The mt-aws-glacier filter language: parsing, matching, first match, pruning."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glacierlib.exceptions import ConfigError
from glacierlib.filters import FilterRule, FilterSet, parse_filter_value

# (pattern, path, matches): the path is relative; directories end with "/".
MATCH_TABLE = [
    # no slash: matched against the last component only
    ("file.txt", "file.txt", True),
    ("file.txt", "dir/file.txt", True),
    ("file.txt", "dir/sub/file.txt", True),
    ("file.txt", "afile.txt", False),
    ("file.txt", "file.txt.bak", False),
    ("file.txt", "file.txt/", False),  # no trailing slash: never a directory
    ("dir", "dir/", False),
    ("dir", "dir/x", False),
    # leading slash anchors at the --dir root
    ("/file.txt", "file.txt", True),
    ("/file.txt", "dir/file.txt", False),
    ("/dir/file.txt", "dir/file.txt", True),
    ("/dir/file.txt", "x/dir/file.txt", False),
    # absolute host paths never match (issue #52)
    ("/home/me/data/", "photo.jpg", False),
    ("/home/me/data/", "data/", False),
    # a non-trailing slash anchors too, even without a leading one
    ("dir/file.txt", "dir/file.txt", True),
    ("dir/file.txt", "x/dir/file.txt", False),
    # trailing slash: the directory and everything below it, anywhere
    ("dir/", "dir/", True),
    ("dir/", "dir/file", True),
    ("dir/", "dir/sub/file", True),
    ("dir/", "x/dir/file", True),
    ("dir/", "dir", False),
    ("dir/", "xdir/file", False),
    ("dir/", "dirx/file", False),
    ("/dir/", "dir/file", True),
    ("/dir/", "x/dir/file", False),
    ("/a/b/", "a/b/c/d", True),
    ("/a/b/", "a/bc/d", False),
    # * stops at slashes
    ("*.txt", "a.txt", True),
    ("*.txt", "d/a.txt", True),
    ("*.txt", ".txt", True),
    ("*.txt", "a.txt.gz", False),
    ("/*.txt", "a.txt", True),
    ("/*.txt", "d/a.txt", False),
    ("/d*/f", "dir/f", True),
    ("/d*/f", "dir/x/f", False),
    ("a*b", "a/b", False),
    # ** crosses slashes
    ("/**.txt", "a/b/c.txt", True),
    ("/d**", "dir/x/y", True),
    ("/d**", "d", True),
    ("**", "anything/at/all", True),
    ("/data/**", "data/x", True),
    ("/data/**", "data/", True),
    ("/data/**", "database", False),
    ("a**b", "a/x/b", True),
    # /**/ is zero or more directories
    ("/a/**/b", "a/b", True),
    ("/a/**/b", "a/x/b", True),
    ("/a/**/b", "a/x/y/b", True),
    ("/a/**/b", "ab", False),
    ("/a/**/b", "a/xb", False),
    ("**/x", "x", True),  # anchored: ^/?.*/x matches "/x"
    ("**/x", "ax", False),
    ("/**/x", "x", True),
    ("/**/x", "d/e/x", True),
    # ? is one character except /
    ("?.txt", "a.txt", True),
    ("?.txt", "ab.txt", False),
    ("/a?b", "a/b", False),
    ("/a?b", "axb", True),
    # literal characters, including regex metacharacters
    ("a.txt", "abtxt", False),
    ("(x)+[y]", "(x)+[y]", True),
    ("$HOME", "$HOME", True),
    ("a b", "dir/a b", True),
    ("^a", "^a", True),
    ("ф*", "dir/файл", True),
    # empty pattern matches everything
    ("", "a", True),
    ("", "d/", True),
    ("", "d/e/f", True),
    # ! negates
    ("!*.txt", "a.txt", False),
    ("!*.txt", "a.jpg", True),
    ("!/dir/", "dir/x", False),
    ("!/dir/", "other/x", True),
    ("!", "anything", False),
    ("!!x", "!x", False),
    ("!!x", "y", True),
]


@pytest.mark.parametrize(("pattern", "path", "expected"), MATCH_TABLE)
def test_pattern_matching(pattern: str, path: str, expected: bool) -> None:
    assert FilterRule("-", pattern).matches("/" + path) is expected


def _fs(*options: tuple[str, str]) -> FilterSet:
    return FilterSet.from_options(options)


def test_no_rules_include_everything() -> None:
    empty = FilterSet()
    assert empty.includes("any/file")
    assert not empty.prunes_dir("any")
    assert not empty
    assert "every file is included" in empty.describe()


def test_include_alone_selects_everything() -> None:
    # The classic user error: nothing matches -> included anyway.
    filters = _fs(("include", "*.txt"))
    assert filters.includes("a.txt")
    assert filters.includes("a.jpg")


def test_include_then_exclude_everything() -> None:
    filters = _fs(("filter", "+*.txt -"))
    assert filters.includes("a.txt")
    assert filters.includes("d/a.txt")
    assert not filters.includes("a.jpg")


def test_first_match_wins() -> None:
    filters = _fs(("filter", "-*.txt +*.txt"))
    assert not filters.includes("a.txt")
    filters = _fs(("filter", "+*.txt -*.txt"))
    assert filters.includes("a.txt")


def test_include_below_an_excluded_directory_still_works() -> None:
    filters = _fs(("filter", "+/tmp/data/a/b/c -/tmp/data -"))
    assert filters.includes("tmp/data/a/b/c")
    assert not filters.includes("tmp/data/a/b/d")
    assert not filters.includes("other")


def test_options_keep_command_line_order() -> None:
    filters = _fs(("exclude", "*.log"), ("filter", "+keep.log"), ("include", "x y.log"))
    assert not filters.includes("keep.log")
    assert not filters.includes("x y.log")
    assert filters.includes("a.txt")
    filters = _fs(("include", "keep.log"), ("exclude", "*.log"))
    assert filters.includes("keep.log")
    assert not filters.includes("other.log")


def test_include_exclude_patterns_may_contain_spaces() -> None:
    filters = _fs(("exclude", "my photos/"), ("exclude", ""))
    assert [str(rule) for rule in filters.rules] == ["-my photos/", "-"]
    assert not filters.includes("my photos/a.jpg")


def test_excluding_a_directory_pattern_excludes_files_below() -> None:
    filters = _fs(("exclude", "cache/"))
    assert not filters.includes("cache/x")
    assert not filters.includes("a/cache/b/c")
    assert filters.includes("cache")  # a file named cache is not a directory


# Parsing --filter


@pytest.mark.parametrize(
    ("value", "rules"),
    [
        ("+a", [("+", "a")]),
        ("-a", [("-", "a")]),
        ("+a -b", [("+", "a"), ("-", "b")]),
        ("  +a   -b  ", [("+", "a"), ("-", "b")]),
        ("+ a - b", [("+", "a"), ("-", "b")]),
        ("-", [("-", "")]),
        ("+ -", [("+", "-")]),  # the space after the sign is eaten, "-" is the pattern
        ("+a-b", [("+", "a-b")]),
        ("+*.txt -", [("+", "*.txt"), ("-", "")]),
        ("-!/x/", [("-", "!/x/")]),
        ("+\ta\t-\tb", [("+", "a"), ("-", "b")]),
        ("--", [("-", "-")]),
        ("+ +", [("+", "+")]),
        ("-+", [("-", "+")]),
    ],
)
def test_parse_filter(value: str, rules: list[tuple[str, str]]) -> None:
    assert parse_filter_value(value) == rules


@pytest.mark.parametrize(
    ("value", "rest"),
    [
        ("", ""),
        ("   ", "   "),
        ("a", "a"),
        ("*.txt", "*.txt"),
        ("+a b", "b"),
        ("+a -b c d", "c d"),
        ("+a x -b", "x -b"),
    ],
)
def test_parse_errors_name_option_and_rest(value: str, rest: str) -> None:
    with pytest.raises(ConfigError) as info:
        FilterSet.from_options([("filter", value)])
    message = str(info.value)
    assert f"--filter {value!r}: Error in parsing filter" in message
    assert message.count(repr(value)) == 1, "the value is echoed once"
    if rest != value:
        assert f"Error in parsing filter at {rest!r}" in message


def test_parse_error_cuts_a_long_value_short() -> None:
    with pytest.raises(ConfigError) as info:
        FilterSet.from_options([("filter", "x" * 5000)])
    message = info.value.message
    assert message.startswith("--filter '" + "x" * 79 + "…: Error in parsing filter")
    assert len(message) < 120, message


def test_several_filter_values_concatenate() -> None:
    split = _fs(("filter", "+a"), ("filter", "-b -"))
    joined = _fs(("filter", "+a -b -"))
    assert split == joined
    assert [str(rule) for rule in split.rules] == ["+a", "-b", "-"]


def test_unknown_option_and_non_text() -> None:
    with pytest.raises(ConfigError):
        FilterSet.from_options([("filtre", "+a")])
    with pytest.raises(ConfigError):
        FilterSet.from_options([("include", None)])  # type: ignore[list-item]


def test_rule_validation() -> None:
    with pytest.raises(ValueError):
        FilterRule("*", "a")
    with pytest.raises(TypeError):
        FilterSet((("+", "a"),))  # type: ignore[arg-type]


@given(st.text(max_size=60))
def test_parser_never_crashes(value: str) -> None:
    try:
        filters = FilterSet.from_options([("filter", value)])
    except ConfigError as error:
        assert "Error in parsing filter" in str(error)
        return
    assert filters.rules
    filters.includes("a/b.txt")
    filters.prunes_dir("a")


@given(st.text(max_size=30), st.text(max_size=30))
def test_include_exclude_never_crash(pattern: str, path: str) -> None:
    filters = FilterSet.from_options([("include", pattern), ("exclude", pattern)])
    assert filters.includes(path) is True  # include comes first, same pattern


# Pruning


@pytest.mark.parametrize(
    ("options", "directory", "prunes"),
    [
        ([("exclude", "cache/")], "cache", True),
        ([("exclude", "cache/")], "a/cache", True),
        ([("exclude", "/cache/")], "a/cache", False),  # does not match there
        ([("exclude", "/data/**")], "data", True),
        ([("exclude", "/d**")], "dir", True),
        ([("exclude", "")], "anything", True),
        ([("filter", "-")], "anything", True),
        ([("exclude", "*.txt")], "d.txt", False),  # no trailing / or **: cannot prune
        ([("exclude", "/data/*")], "data/x", False),
        ([("exclude", "!keep/")], "other", False),  # negated rules never prune
        ([("include", "*.txt"), ("exclude", "")], "dir", False),  # include before it
        ([("filter", "+/tmp/data/a/b/c -/tmp/data/ -")], "tmp/data", False),
        ([("filter", "-/tmp/data/ +x -")], "tmp/data", True),  # include only after it
        ([("filter", "+x/ -")], "x", False),  # matched by the include itself
        ([("exclude", "cache/")], "", False),  # the root is never pruned
        ([("exclude", "cache/")], "other", False),
        ([("exclude", "a/b/")], "a/b/", True),  # a trailing slash in the argument is ok
    ],
)
def test_prunes_dir(options: list[tuple[str, str]], directory: str, prunes: bool) -> None:
    assert _fs(*options).prunes_dir(directory) is prunes


def test_pruned_directories_hold_no_included_file() -> None:
    # Pruning is an optimisation only: whatever it skips, includes() would have refused.
    filters = _fs(("exclude", "tmp/"), ("exclude", "/build/**"), ("include", "*.c"))
    for directory, below in [("tmp", "tmp/x.c"), ("a/tmp", "a/tmp/b/y.c"),
                             ("build", "build/z.c")]:
        assert filters.prunes_dir(directory)
        assert not filters.includes(below)


def test_describe_lists_rules_in_order() -> None:
    text = _fs(("filter", "+*.txt -!x"), ("exclude", "a b/")).describe()
    lines = text.splitlines()
    assert lines[0] == "1. include '*.txt'  [--filter]"
    assert lines[1] == "2. exclude '!x' (negated)  [--filter]"
    assert lines[2] == "3. exclude 'a b/'  [--exclude]"
    assert "included" in lines[-1]
    assert str(_fs(("filter", "-a"))) == _fs(("filter", "-a")).describe()
