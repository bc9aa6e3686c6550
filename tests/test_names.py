"""Relative names: the canonical rule, storable names from the walk, and safe joins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glacierlib.exceptions import UnsafeNameError
from glacierlib.names import (
    is_safe_relative_name,
    safe_join,
    storable_name,
    validate_relative_name,
)

GOOD = [
    "file",
    "a/b/c.txt",
    "sub/файл с пробелом.txt",
    "日本語/ファイル.txt",
    "emoji/😀 smile.png",
    'quote"and\\backslash.txt',
    "...",
    ".hidden/..dots../x.",
    " leading and trailing space ",
    "a" * 5000,
]

BAD = [
    ("", "empty"),
    ("/abs", "absolute"),
    ("/", "absolute"),
    ("a//b", "empty path component"),
    ("a/", "empty path component"),
    (".", "'.' path component"),
    ("..", "'..' path component"),
    ("../evil.txt", "'..' path component"),
    ("a/../../b", "'..' path component"),
    ("a/./b", "'.' path component"),
    ("tab\there", "TAB"),
    ("cr\rhere", "TAB, CR or LF"),
    ("lf\nhere", "TAB, CR or LF"),
    ("nul\x00here", "control character"),
    ("esc\x1b[31m", "control character"),
    ("bad\udcffbytes", "not valid UTF-8"),
]


@pytest.mark.parametrize("name", GOOD)
def test_good_names_pass_unchanged(name: str) -> None:
    assert validate_relative_name(name) == name
    assert is_safe_relative_name(name)


@pytest.mark.parametrize(("name", "reason"), BAD)
def test_bad_names_are_refused_with_a_visible_name(name: str, reason: str) -> None:
    assert not is_safe_relative_name(name)
    with pytest.raises(UnsafeNameError) as info:
        validate_relative_name(name)
    message = str(info.value)
    assert reason in message
    assert repr(name) in message  # control characters appear escaped, never raw
    assert info.value.name == name
    assert "\n" not in message and "\t" not in message and "\r" not in message


def test_non_string_is_refused() -> None:
    assert not is_safe_relative_name(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(UnsafeNameError):
        validate_relative_name(None)  # type: ignore[arg-type]


@given(st.lists(st.text(min_size=1).filter(lambda c: "/" not in c), min_size=1, max_size=4))
def test_validate_agrees_with_component_rule(components: list[str]) -> None:
    name = "/".join(components)
    expected = all(
        c not in (".", "..")
        and not any(ord(ch) < 0x20 or 0xD800 <= ord(ch) <= 0xDFFF for ch in c)
        for c in components
    )
    assert is_safe_relative_name(name) is expected


# storable_name: what sync gets from os.fsdecode


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("a/b", "a/b"),
        ("./a/b", "a/b"),
        ("a//b/", "a/b"),
        ("a/./b", "a/b"),
        ("/a", "a"),
        ("файл", "файл"),
    ],
)
def test_storable_name_canonicalises(rel: str, expected: str) -> None:
    assert storable_name(rel) == expected


def test_storable_name_refuses_undecodable_bytes_and_shows_them() -> None:
    rel = os.fsdecode(b"dir/caf\xe9.txt")  # Latin-1 file name on a UTF-8 system
    with pytest.raises(UnsafeNameError) as info:
        storable_name(rel)
    assert "not valid UTF-8" in str(info.value)
    assert "caf\\xe9" in str(info.value)
    assert info.value.name == rel


@pytest.mark.parametrize("rel", ["a/../b", "..", "a\tb", "a\nb", "x\x00", "", ".", "//"])
def test_storable_name_refuses(rel: str) -> None:
    with pytest.raises(UnsafeNameError):
        storable_name(rel)


# safe_join


def test_safe_join_inside_root(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    joined = safe_join(tmp_path, "d/new file.txt")
    assert joined == tmp_path.resolve() / "d" / "new file.txt"


def test_safe_join_accepts_missing_directories(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "x/y/z") == tmp_path.resolve() / "x" / "y" / "z"


@pytest.mark.parametrize("rel", ["../x", "/etc/passwd", "a/../../x", "a//b", ""])
def test_safe_join_refuses_bad_names(tmp_path: Path, rel: str) -> None:
    with pytest.raises(UnsafeNameError):
        safe_join(tmp_path, rel)


def test_safe_join_refuses_symlinked_directory_leading_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafeNameError) as info:
        safe_join(root, "link/file.txt")
    assert "'link/file.txt'" in str(info.value)
    assert not (outside / "file.txt").exists()


def test_safe_join_refuses_final_symlink_leading_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "secret").write_text("x")
    (root / "f").symlink_to(tmp_path / "secret")
    with pytest.raises(UnsafeNameError):
        safe_join(root, "f")


def test_safe_join_allows_symlink_staying_inside(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert safe_join(tmp_path, "alias/f") == tmp_path.resolve() / "alias" / "f"


def test_safe_join_refuses_symlink_to_root_itself(tmp_path: Path) -> None:
    (tmp_path / "self").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(UnsafeNameError):
        safe_join(tmp_path, "self")


def test_safe_join_through_symlinked_root(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    alias = tmp_path / "alias"
    alias.symlink_to(real, target_is_directory=True)
    assert safe_join(alias, "a/b") == real.resolve() / "a" / "b"


def test_safe_join_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    with pytest.raises(UnsafeNameError):
        safe_join(tmp_path, "loop/x")
