"""Journal references for S3 objects, provenance metadata, and "one journal, one target"."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glacierlib.exceptions import JournalError
from glacierlib.journal import JournalRecord
from glacierlib.names import is_safe_relative_name
from glacierlib.targets.refs import (
    S3Ref,
    check_journal_target,
    kind_of_ref,
    name_from_key,
    parse_s3_metadata,
    s3_metadata,
)
from glacierlib.treehash import TreeHash

buckets = st.from_regex(r"\A[a-z0-9][a-z0-9-]{1,20}[a-z0-9]\Z")
keys = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=200)
versions = st.none() | st.text(st.characters(blacklist_categories=("Cs",)), min_size=1,
                               max_size=40)
glacier_ids = st.text(string.ascii_letters + string.digits + "-_", min_size=138, max_size=138)
TREE = TreeHash(bytes(range(32)))


@given(buckets, keys, versions)
def test_a_reference_round_trips_and_is_a_journal_archive_id(bucket: str, key: str,
                                                              version: str | None) -> None:
    ref = S3Ref(bucket, key, version)
    text = ref.format()
    assert S3Ref.parse(text) == ref
    assert text.isascii() and text.split() == [text]
    assert kind_of_ref(text) == "s3"
    record = JournalRecord.created(1, text, 5, 7, TREE, "some/name")
    assert JournalRecord.parse_untrusted(record.to_line(), "j", 1).archive_id == text


@given(glacier_ids)
def test_a_glacier_id_is_never_read_as_s3(archive_id: str) -> None:
    assert kind_of_ref(archive_id) == "glacier"
    with pytest.raises(ValueError):
        S3Ref.parse(archive_id)


@given(st.text(max_size=300))
def test_parse_refuses_anything_not_canonical_with_value_error_only(text: str) -> None:
    try:
        ref = S3Ref.parse(text)
    except ValueError:
        return
    assert ref.format() == text


@pytest.mark.parametrize("text", [
    "s3:", "s3:bucket", "s3:bucket/", "s3:Bucket/k", "s3:bucket/a b", "s3:bucket/k?x=1",
    "s3:bucket/k?v=", "s3:bucket/%zz", "s3:bucket/%ff", "s3:bucket/k%3f", "glacier:b/k",
])
def test_malformed_references_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        S3Ref.parse(text)


def test_question_mark_and_spaces_in_a_key_cannot_forge_a_version() -> None:
    ref = S3Ref("bucket", "a?v=1 b", None)
    assert ref.format() == "s3:bucket/a%3Fv%3D1%20b"
    assert S3Ref.parse(ref.format()).version_id is None


GLACIER_ID = "A" * 138
S3_OURS = S3Ref("mine", "backup/f", None).format()


def test_a_vault_journal_is_refused_for_s3_in_one_line_naming_both() -> None:
    with pytest.raises(JournalError) as caught:
        check_journal_target([GLACIER_ID], "S3 bucket 'mine'", "s3", journal="j.log",
                             bucket="mine")
    message = str(caught.value)
    assert "\n" not in message
    assert "j.log" in message and "Glacier vault" in message and "S3 bucket 'mine'" in message


def test_an_s3_journal_is_refused_for_a_vault() -> None:
    with pytest.raises(JournalError, match=r"S3 bucket 'mine', not to vault 'v'"):
        check_journal_target([S3_OURS], "vault 'v'", "glacier", journal="j")


def test_an_s3_journal_of_another_bucket_or_prefix_is_refused() -> None:
    with pytest.raises(JournalError, match=r"bucket 'mine'.*not to S3 bucket 'other'"):
        check_journal_target([S3_OURS], "S3 bucket 'other'", "s3", journal="j", bucket="other")
    with pytest.raises(JournalError, match="prefix 'x/'"):
        check_journal_target([S3_OURS], "S3 bucket 'mine' prefix 'x/'", "s3", journal="j",
                             bucket="mine", prefix="x/")


def test_a_journal_of_this_target_passes() -> None:
    check_journal_target([S3_OURS], "S3 bucket 'mine'", "s3", journal="j", bucket="mine",
                         prefix="backup/")
    check_journal_target([GLACIER_ID], "vault 'v'", "glacier", journal="j")
    check_journal_target([], "vault 'v'", "glacier", journal="j")


def test_metadata_keeps_mtime_like_rclone_and_the_tree_hash() -> None:
    meta = s3_metadata(1_500_000_000, TREE)
    assert meta == {"mtime": "1500000000", "treehash": TREE.hex}
    assert parse_s3_metadata(meta) == (1_500_000_000, TREE)
    assert parse_s3_metadata({"Mtime": "1500000000.25"}) == (1_500_000_000, None)


@pytest.mark.parametrize("meta", [
    None, {}, {"mtime": "soon"}, {"mtime": "1e9"}, {"mtime": "-5"}, {"mtime": "9" * 30},
    {"treehash": "zz"}, {"treehash": "ab" * 31}, {"mtime": 5}, {"treehash": None},
])
def test_bad_metadata_reads_as_unknown(meta: object) -> None:
    assert parse_s3_metadata(meta) == (None, None)  # type: ignore[arg-type]


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=80) | st.integers()))
def test_metadata_from_anyone_never_raises(meta: dict[str, object]) -> None:
    mtime, _tree = parse_s3_metadata(meta)
    assert mtime is None or 0 <= mtime < 10**11


@pytest.mark.parametrize("key", [
    "p/../etc/passwd", "p//etc", "p/", "p/a/./b", "p/a\nb", "p/a\x00b", "p/a\tb", "q/outside",
    "p/\x1b[2J",
])
def test_unsafe_listed_keys_get_no_name(key: str) -> None:
    assert name_from_key(key, "p/") is None


def test_an_absolute_key_gets_no_name_without_a_prefix() -> None:
    assert name_from_key("/etc/passwd", "") is None
    assert name_from_key("a/b.txt", "") == "a/b.txt"


@given(st.text(max_size=60), st.sampled_from(["", "p/", "backup/2025/"]))
def test_any_name_from_a_listing_is_a_safe_relative_name(key: str, prefix: str) -> None:
    name = name_from_key(prefix + key, prefix)
    assert name is None or (is_safe_relative_name(name) and name == key)
