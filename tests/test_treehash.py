"""Tree hash: golden vectors, botocore agreement, streaming splits, ranges and part combination."""

from __future__ import annotations

import array
import hashlib
import io
import itertools
import json
from pathlib import Path

import pytest
from botocore.utils import calculate_tree_hash
from hypothesis import given, settings
from hypothesis import strategies as st

from glacierlib.treehash import (
    MIB,
    ByteRange,
    TreeHash,
    TreeHasher,
    combine_tree_hashes,
    file_leaf_digests,
    hash_part,
    range_tree_hash,
    tree_hash_bytes,
    tree_hash_file,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VECTORS = json.loads((FIXTURES / "treehash-vectors.json").read_text())["vectors"]


def build(pattern: str, length: int) -> bytes:
    if pattern == "zeros":
        return bytes(length)
    if pattern == "mod251":
        return bytes(i % 251 for i in range(length))
    assert pattern.startswith("literal:")
    text = pattern.split(":", 1)[1].encode()
    assert len(text) == length
    return text


def mod251(n: int) -> bytes:
    return (bytes(range(251)) * (n // 251 + 1))[:n]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_golden_vectors(vector: dict[str, object], tmp_path: Path) -> None:
    data = build(str(vector["pattern"]), int(str(vector["length"])))
    assert tree_hash_bytes(data).hex == vector["tree_hash"]
    assert hashlib.sha256(data).hexdigest() == vector["sha256"]
    assert hash_part(data).sha256.hex() == vector["sha256"]
    assert hash_part(data).tree_hash.hex == vector["tree_hash"]
    path = tmp_path / "f"
    path.write_bytes(data)
    for threads in (1, 2, 3):
        assert tree_hash_file(path, threads=threads).hex == vector["tree_hash"]


@settings(max_examples=60, deadline=None)
@given(
    length=st.integers(min_value=0, max_value=3 * MIB + 17),
    cuts=st.lists(st.integers(min_value=0, max_value=3 * MIB + 17), max_size=8),
    seed=st.integers(min_value=0, max_value=250),
)
def test_streaming_matches_botocore(length: int, cuts: list[int], seed: int) -> None:
    data = mod251(length + seed)[seed:]
    hasher = TreeHasher()
    points = sorted({c for c in cuts if c <= length} | {0, length})
    for a, b in itertools.pairwise(points):
        hasher.update(memoryview(data)[a:b])
    assert hasher.length == length
    assert hasher.hexdigest() == calculate_tree_hash(io.BytesIO(data))


def test_copy_is_independent() -> None:
    first = TreeHasher(b"x" * (MIB + 5))
    second = first.copy()
    second.update(b"more")
    assert first.hexdigest() == tree_hash_bytes(b"x" * (MIB + 5)).hex
    assert second.hexdigest() == tree_hash_bytes(b"x" * (MIB + 5) + b"more").hex


def test_update_accepts_any_bytes_like() -> None:
    words = array.array("I", range(1000))
    assert TreeHasher(words).hexdigest() == hashlib.sha256(words.tobytes()).hexdigest()
    assert TreeHasher(bytearray(b"abc")).hexdigest() == hashlib.sha256(b"abc").hexdigest()


def test_multipart_composition_matches_whole() -> None:
    data = mod251(5 * MIB)
    whole = tree_hash_bytes(data)
    for part_mib in (1, 2, 4):
        size = part_mib * MIB
        parts = [tree_hash_bytes(data[i : i + size]) for i in range(0, len(data), size)]
        assert combine_tree_hashes(parts) == whole
    # Counter-example from the reference: illegal 3 MiB parts give a different hash.
    e = mod251(3 * MIB + 5)
    bad = [tree_hash_bytes(e[: 3 * MIB]), tree_hash_bytes(e[3 * MIB :])]
    assert combine_tree_hashes(bad).hex == (
        "6490e099b844de030be3b57e8d6d3aed9757c896cb6c5c553c26ee87be22b136"
    )


RANGE_TABLE = [
    ((0, 2), True, "bf4dff263ae686b64403208c35a3767e38453d6477e841947588d13d04e1d816"),
    ((2, 4), True, "9e217b1ceb8db81071f9c6e4a2bf0401a83491d10751ce858a2628f5d699dbdb"),
    ((1, 3), False, "b75aca8a18ab725e6da28ced838ac9be59756d81fd6899b0d853849b43f7117e"),
    ((4, 7), True, "3e997f13ddc355e8a55035672d60ba90275ece6485044b3616a0966e2b895fc1"),
    ((6, 7), True, "c9fed994db0d8e2e5b7d603f40c18613d1f545288928a52ee9d2b2e2375f7160"),
    ((2, 6), False, "7353df074b2ff53f8123affe971066a3ad5195c701ae5e63723eff4d7d73ad9b"),
    ((0, 7), True, "8bcaa7b4b8f991ca140f306627f2c4e84601364cde8e054b6e0924433ca7482f"),
]


@pytest.mark.parametrize(("leaves", "aligned", "expected"), RANGE_TABLE)
def test_range_alignment_and_hash(leaves: tuple[int, int], aligned: bool, expected: str) -> None:
    size = 6 * MIB + MIB // 2
    data = mod251(size)
    start, stop = leaves[0] * MIB, min(leaves[1] * MIB, size)
    byte_range = ByteRange(start, stop)
    assert byte_range.is_megabyte_aligned(size)
    assert byte_range.is_tree_hash_aligned(size) is aligned
    assert tree_hash_bytes(data[start:stop]).hex == expected
    digests = TreeHasher(data).leaf_digests()
    if aligned:
        assert range_tree_hash(digests, byte_range, size).hex == expected
    else:
        with pytest.raises(ValueError, match="not tree-hash aligned"):
            range_tree_hash(digests, byte_range, size)


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=40 * MIB),
    start_leaf=st.integers(min_value=0, max_value=40),
    leaves=st.integers(min_value=1, max_value=40),
)
def test_alignment_rule_matches_tree_nodes(size: int, start_leaf: int, leaves: int) -> None:
    """A range is tree-hash aligned iff it is exactly one node of the archive's tree."""
    total = -(-size // MIB)
    if start_leaf >= total:
        return
    stop_leaf = min(start_leaf + leaves, total)
    byte_range = ByteRange(start_leaf * MIB, min(stop_leaf * MIB, size))
    nodes: set[tuple[int, int]] = set()
    level = [(i, i + 1) for i in range(total)]
    while level:
        nodes.update(level)
        if len(level) == 1:
            break
        nxt = [(level[i][0], level[i + 1][1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    assert byte_range.is_tree_hash_aligned(size) is ((start_leaf, stop_leaf) in nodes)


def test_byte_range_validation_and_wire_forms() -> None:
    with pytest.raises(ValueError):
        ByteRange(5, 5)
    with pytest.raises(ValueError):
        ByteRange(-1, 3)
    r = ByteRange.parse_inclusive("0-1048575")
    assert r == ByteRange(0, MIB)
    assert r.http_range() == "bytes=0-1048575"
    assert r.content_range() == "bytes 0-1048575/*"
    assert r.content_range(2 * MIB) == "bytes 0-1048575/2097152"
    for bad in ("", "1", "a-b", "-3", "3-", "5-2"):
        with pytest.raises(ValueError):
            ByteRange.parse_inclusive(bad)


def test_tree_hash_value_type() -> None:
    h = TreeHash.from_hex("AB" * 32)
    assert h.hex == "ab" * 32
    assert str(h) == "ab" * 32
    assert "ab" * 32 in repr(h)
    for bad in ("ab" * 31, "zz" * 32, ""):
        with pytest.raises(ValueError):
            TreeHash.from_hex(bad)
    with pytest.raises(ValueError):
        TreeHash(b"short")


def test_file_hash_detects_shrinking_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * (2 * MIB))
    with pytest.raises(OSError, match="shrank"):
        file_leaf_digests(path, size=3 * MIB)
