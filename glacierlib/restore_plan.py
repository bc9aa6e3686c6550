"""Pure planning for retrieval: which archives to pay for, and how to cut a download.

Nothing here touches the network or the disk, so ``--dry-run`` can print exactly what a real run
would do, and tests assert on the plan offline.

* :func:`plan_restore` picks archives to retrieve in journal path order (mt-aws-glacier used
  Perl hash order, so ``--max-number-of-files`` picked a random subset: its issue #73), applies
  the caps, and never pays twice: an archive with a RETRIEVE_JOB under 24 h old in the journal,
  or with an in-progress or succeeded job the vault still lists, is skipped.
* :func:`choose_segment_size` and :func:`plan_segments` cut an archive into ranged requests of a
  power of two MiB starting at multiples of their size: each segment is then a node of the
  archive's tree, so the service returns its tree hash and the segment hashes combine into the
  whole archive's hash (``glacier-api.md`` sections 3.3-3.5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from glacierlib.treehash import MIB, ByteRange, TreeHash

__all__ = [
    "AUTO_SEGMENT_MAX",
    "AUTO_SEGMENT_MIN",
    "RETRIEVE_JOB_FRESH_SECONDS",
    "RestoreCandidate",
    "RestorePlan",
    "Retrieval",
    "SkippedRestore",
    "choose_segment_size",
    "is_valid_segment_size",
    "plan_restore",
    "plan_segments",
]

RETRIEVE_JOB_FRESH_SECONDS = 24 * 3600
AUTO_SEGMENT_MIN = 16 * MIB
AUTO_SEGMENT_MAX = 1024 * MIB
_AUTO_TARGET_SEGMENTS = 64


@attrs.frozen
class RestoreCandidate:
    """The latest archive of a journal file that is missing locally."""

    name: str
    archive_id: str
    size: int
    tree_hash: TreeHash
    mtime: int | None = None


@attrs.frozen
class Retrieval:
    """One archive-retrieval job to initiate."""

    name: str
    archive_id: str
    size: int


@attrs.frozen
class SkippedRestore:
    """A missing file left alone, and why (already requested, job in progress, ...).

    ``unwritable``: the local filesystem cannot hold the file under this name (a component
    too long, a directory in its place): a failure of the run, not a choice.
    """

    name: str
    archive_id: str
    reason: str
    unwritable: bool = False


@attrs.frozen
class RestorePlan:
    """What ``restore`` will do; ``deferred`` counts files left for a later run by the caps."""

    retrievals: tuple[Retrieval, ...]
    skipped: tuple[SkippedRestore, ...]
    tier: str
    deferred: int = 0
    deferred_bytes: int = 0

    @property
    def count(self) -> int:
        return len(self.retrievals)

    @property
    def total_bytes(self) -> int:
        return sum(r.size for r in self.retrievals)


def plan_restore(
    candidates: Iterable[RestoreCandidate], *, now: int, tier: str = "Standard",
    journal_jobs: Mapping[str, int] | None = None,
    vault_jobs: Mapping[str, str] | None = None,
    max_number_of_files: int | None = None, max_size: int | None = None,
) -> RestorePlan:
    """Choose the archives to retrieve, in path order, within the caps.

    ``journal_jobs`` maps archive id -> time of its newest RETRIEVE_JOB record;
    ``vault_jobs`` maps archive id -> a description of a live job ("in progress" or
    "succeeded") from the vault's job list. The caps stop the selection at the first file that
    would exceed them, so the next run continues in the same order rather than skipping ahead.
    """
    journal_jobs = journal_jobs or {}
    vault_jobs = vault_jobs or {}
    chosen: list[Retrieval] = []
    skipped: list[SkippedRestore] = []
    deferred = 0
    deferred_bytes = 0
    total = 0
    capped = False
    for cand in sorted(candidates, key=lambda c: c.name):
        requested = journal_jobs.get(cand.archive_id)
        if requested is not None and now - requested < RETRIEVE_JOB_FRESH_SECONDS:
            hours = max(0, now - requested) / 3600
            skipped.append(SkippedRestore(
                cand.name, cand.archive_id,
                f"retrieval already requested {hours:.1f} h ago (journal RETRIEVE_JOB)",
            ))
            continue
        live = vault_jobs.get(cand.archive_id)
        if live is not None:
            skipped.append(SkippedRestore(
                cand.name, cand.archive_id, f"a retrieval job is already {live} in the vault",
            ))
            continue
        if not capped:
            over_count = max_number_of_files is not None and len(chosen) >= max_number_of_files
            over_size = max_size is not None and total + cand.size > max_size
            capped = over_count or over_size
        if capped:
            deferred += 1
            deferred_bytes += cand.size
            continue
        chosen.append(Retrieval(cand.name, cand.archive_id, cand.size))
        total += cand.size
    return RestorePlan(tuple(chosen), tuple(skipped), tier, deferred, deferred_bytes)


def is_valid_segment_size(segment_size: int) -> bool:
    """A power of two number of MiB (or 0, meaning one request for the whole archive)."""
    if segment_size == 0:
        return True
    if segment_size % MIB:
        return False
    units = segment_size // MIB
    return units & (units - 1) == 0


def choose_segment_size(archive_size: int, requested: int | None) -> int:
    """Segment size for one archive; 0 means a single whole-archive request.

    ``requested`` is ``--segment-size`` in bytes (``None`` = automatic). Automatic sizing aims
    at about 64 segments, between 16 MiB and 1 GiB: small archives go in one request, a
    large one is spread over the download pool so one big file still uses every connection.
    """
    if requested is not None:
        if not is_valid_segment_size(requested):
            raise ValueError(
                f"segment size must be a power of two number of MiB, got {requested} bytes"
            )
        return 0 if requested >= archive_size else requested
    if archive_size <= 2 * AUTO_SEGMENT_MIN:
        return 0
    size = AUTO_SEGMENT_MIN
    while size < AUTO_SEGMENT_MAX and size * _AUTO_TARGET_SEGMENTS < archive_size:
        size <<= 1
    return size


def plan_segments(archive_size: int, segment_size: int) -> tuple[ByteRange, ...]:
    """Ranges covering the archive: one when ``segment_size`` is 0, else aligned pieces.

    Every piece is tree-hash aligned (a power of two MiB at a multiple of its size, or the
    archive's tail), which the assertion below double-checks.
    """
    if archive_size <= 0:
        return ()
    if segment_size <= 0 or segment_size >= archive_size:
        return (ByteRange(0, archive_size),)
    if not is_valid_segment_size(segment_size):
        raise ValueError(f"segment size {segment_size} is not a power of two number of MiB")
    ranges = tuple(
        ByteRange(start, min(start + segment_size, archive_size))
        for start in range(0, archive_size, segment_size)
    )
    assert all(r.is_tree_hash_aligned(archive_size) for r in ranges)
    return ranges
