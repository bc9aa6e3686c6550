"""One behavioural suite for every target (see conftest.py for the parametrisation)."""

from __future__ import annotations

import hashlib

import pytest

from glacierlib.storage import PartBody
from glacierlib.targets.base import Provenance, Readability, ReadTicket
from glacierlib.targets.refs import kind_of_ref
from glacierlib.treehash import MIB, ByteRange, TreeHasher

from .conftest import TargetUnderTest

MTIME = 1_500_000_000


def pattern(size: int, seed: int = 1) -> bytes:
    block = hashlib.sha256(seed.to_bytes(4, "big")).digest()
    return (block * (size // len(block) + 1))[:size]


def readable(target: TargetUnderTest, ref: str) -> ReadTicket:
    ticket = target.target.request_readable(ref, tier="Expedited", days=1)
    target.settle_restore()
    assert target.target.readability(ticket).readable
    return ticket


def read_all(target: TargetUnderTest, ticket: ReadTicket, byte_range: ByteRange | None = None
             ) -> bytes:
    stream = target.target.read_range(ticket, byte_range)
    try:
        return stream.body.read()
    finally:
        stream.close()


def test_a_small_object_round_trips_with_its_provenance(target: TargetUnderTest) -> None:
    data = pattern(3000)
    body = PartBody.from_bytes(data)
    stored = target.target.store_small(Provenance("dir/a file.txt", MTIME), body)
    assert stored.size == 3000
    assert stored.tree_hash == body.tree_hash
    assert kind_of_ref(stored.ref) == target.target.capabilities.kind
    assert stored.ref.split() == [stored.ref]  # a valid journal archive id
    ticket = readable(target, stored.ref)
    assert read_all(target, ticket) == data
    assert read_all(target, ticket, ByteRange(1000, 1500)) == data[1000:1500]


def test_a_listing_shows_what_was_stored(target: TargetUnderTest) -> None:
    body = PartBody.from_bytes(pattern(100, seed=2))
    stored = target.target.store_small(Provenance("x/y.bin", MTIME), body)
    target.settle_listing()
    ticket = target.target.start_listing()
    assert target.target.listing_ready(ticket)
    listed = {o.ref: o for o in target.target.list_objects(ticket)}
    assert set(listed) == {stored.ref}
    seen = listed[stored.ref]
    assert (seen.name, seen.size) == ("x/y.bin", 100)
    if target.target.capabilities.listing == "job":  # a vault inventory carries provenance
        assert (seen.mtime, seen.tree_hash) == (MTIME, body.tree_hash)


def test_a_multipart_upload_lists_its_parts_and_completes(target: TargetUnderTest) -> None:
    part = 8 * MIB  # valid on both: a power of two MiB and at least S3's 5 MiB
    data = pattern(part + 1024, seed=3)
    whole = TreeHasher(data).tree_hash()
    upload = target.target.start_upload(Provenance("big.bin", MTIME, whole), part)
    first = target.target.send_part(upload, 0, PartBody.from_bytes(data[:part]))
    second = target.target.send_part(upload, part, PartBody.from_bytes(data[part:]))
    assert (first.part_number, second.part_number) == (1, 2)
    listed = sorted(target.target.list_parts(upload), key=lambda p: p.part_number)
    assert [p.byte_range for p in listed] == [ByteRange(0, part), ByteRange(part, len(data))]
    assert [p.upload_id for p in target.target.list_unfinished_uploads()] == [upload.upload_id]
    stored = target.target.finish_upload(upload, len(data), whole)
    assert (stored.size, stored.tree_hash) == (len(data), whole)
    assert list(target.target.list_unfinished_uploads()) == []
    ticket = readable(target, stored.ref)
    assert read_all(target, ticket, ByteRange(part - 10, part + 10)) == data[part - 10:part + 10]


def test_an_aborted_upload_is_gone_and_aborting_again_is_fine(target: TargetUnderTest) -> None:
    upload = target.target.start_upload(Provenance("gone.bin", MTIME), 8 * MIB)
    target.target.send_part(upload, 0, PartBody.from_bytes(pattern(8 * MIB, seed=4)))
    target.target.abort_upload(upload)
    assert list(target.target.list_unfinished_uploads()) == []
    target.target.abort_upload(upload)


def test_a_deleted_object_is_gone_and_deleting_again_is_fine(target: TargetUnderTest) -> None:
    stored = target.target.store_small(Provenance("d.txt", MTIME),
                                       PartBody.from_bytes(b"bye"))
    target.target.delete(stored.ref)
    target.target.delete(stored.ref)
    target.settle_listing()
    listing = target.target.start_listing()
    assert [o.ref for o in target.target.list_objects(listing)] == []


def test_a_name_too_long_for_the_target_is_refused_naming_it(target: TargetUnderTest) -> None:
    from glacierlib.exceptions import MetadataError

    name = "n" * 1100
    with pytest.raises(MetadataError, match="nnnn"):
        target.target.key_for(name)
    with pytest.raises(MetadataError):
        target.target.store_small(Provenance(name, MTIME), PartBody.from_bytes(b"x"))


def test_a_restore_while_one_runs_is_not_requested_again(target: TargetUnderTest) -> None:
    if not target.faithful_restores:
        pytest.skip("moto finishes a restore at once and never answers 409; the project's "
                    "S3 server checks this")
    if target.target.capabilities.kind == "glacier":
        pytest.skip("a vault has no restore state per archive: a job is per request")
    stored = target.target.store_small(Provenance("cold", MTIME), PartBody.from_bytes(b"c"))
    first = target.target.request_readable(stored.ref)
    second = target.target.request_readable(stored.ref)
    assert (first.state, second.state) == ("started", "in-progress")
    assert target.target.readability(second) == Readability(False, True)



def test_finishing_with_parts_missing_is_refused_and_keeps_the_upload(
        target: TargetUnderTest) -> None:
    from glacierlib.exceptions import GlacierlibError

    part = 8 * MIB
    data = pattern(part, seed=5)
    whole = TreeHasher(data + data).tree_hash()
    upload = target.target.start_upload(Provenance("half.bin", MTIME, whole), part)
    target.target.send_part(upload, 0, PartBody.from_bytes(data))
    with pytest.raises(GlacierlibError):
        target.target.finish_upload(upload, 2 * part, whole)
    assert [u.upload_id for u in target.target.list_unfinished_uploads()] == [upload.upload_id]


@pytest.mark.parametrize("hostile", ["../escape", "a/../../b", "/etc/passwd", "a\x1b[2Jb",
                                     "a//b", "dir/./x"])
def test_a_listing_with_unsafe_names_gives_them_no_name(target: TargetUnderTest,
                                                        hostile: str) -> None:
    target.plant(hostile, b"hostile")
    target.settle_listing()
    listed = list(target.target.list_objects(target.target.start_listing()))
    assert [(o.name, o.size) for o in listed] == [(None, 7)]
