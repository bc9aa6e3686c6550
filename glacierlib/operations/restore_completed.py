"""``restore-completed``: download finished retrieval jobs into ``--dir``, verified.

Succeeded whole-archive retrieval jobs in the vault's job list are matched by archive id to the
latest archive of each journal file missing locally; each match becomes a
:class:`~glacierlib.download.DownloadRequest` (segment size per archive, journal tree hash and
the job's ArchiveSHA256TreeHash, journal mtime), and :func:`~glacierlib.download.download_archives`
fetches them in parallel. When nothing is ready but jobs are still running this raises
:class:`~glacierlib.exceptions.NothingReadyYet` (exit 75) with their number, so a cron job can
simply retry; a file with no job at all is reported (run ``restore`` first).

With ``--wait`` (:func:`download_as_ready`) it instead watches the jobs through
:func:`glacierlib.waiting.wait_for` and downloads each file as soon as its job succeeds;
``restore --wait`` uses the same loop after initiating its jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from glacierlib.config import Settings
from glacierlib.download import DownloadOutcome, DownloadRequest, download_archives
from glacierlib.exceptions import NothingReadyYet, UnsafeNameError
from glacierlib.journal import ArchiveEntry, read_journal
from glacierlib.names import safe_join
from glacierlib.operations._store import store_for
from glacierlib.operations.restore import missing_files, require, retrieval_jobs_by_archive
from glacierlib.progress import (
    FileSkipped,
    Notice,
    PlanReady,
    ProgressCallback,
    ignore_progress,
)
from glacierlib.restore_plan import RestoreCandidate, SkippedRestore, choose_segment_size
from glacierlib.storage import VaultStore
from glacierlib.waiting import SYSTEM_CLOCK, Clock, WaitPolicy, WaitStatus, wait_for

__all__ = [
    "PlannedDownload",
    "RestoreCompletedReport",
    "download_as_ready",
    "fetch_ready",
    "restore_completed",
]


@attrs.frozen
class PlannedDownload:
    """A missing file ``--dry-run`` would download if its job is ready."""

    name: str
    archive_id: str
    size: int
    #: The download to make (between a look at the jobs and the download; None in reports).
    request: DownloadRequest | None = attrs.field(default=None, eq=False, repr=False)


@attrs.frozen
class RestoreCompletedReport:
    """Downloads done or failed, plus files still waiting for a job or without one.

    ``planned`` is what was (or, with ``dry_run``, would be) downloaded: name, archive id and
    size of each file whose job was ready (with ``dry_run``: of each missing file).
    """

    downloads: tuple[DownloadOutcome, ...] = ()
    in_progress: tuple[str, ...] = ()
    without_job: tuple[str, ...] = ()
    rejected: tuple[SkippedRestore, ...] = ()
    unsafe: tuple[SkippedRestore, ...] = ()
    planned: tuple[PlannedDownload, ...] = ()
    dry_run: bool = False

    @property
    def downloaded(self) -> tuple[DownloadOutcome, ...]:
        return tuple(d for d in self.downloads if d.ok)

    @property
    def failed(self) -> tuple[DownloadOutcome, ...]:
        return tuple(d for d in self.downloads if not d.ok)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.rejected and not self.unsafe


def restore_completed(
    settings: Settings, on_event: ProgressCallback = ignore_progress, *,
    clock: Clock = SYSTEM_CLOCK,
) -> RestoreCompletedReport:
    """Download every ready retrieval for a missing file; see the module docstring."""
    require(settings, "dir", "vault", "journal")
    assert settings.dir is not None and settings.vault is not None
    assert settings.journal is not None
    root = settings.dir
    state = read_journal(settings.journal, filters=settings.filters)
    found, unsafe = missing_files(state, root)
    for skipped in unsafe:
        on_event(FileSkipped(skipped.name, skipped.reason, error=True))
    if settings.dry_run:
        planned = tuple(PlannedDownload(c.name, c.archive_id, c.size) for c, _e in found)
        return RestoreCompletedReport(unsafe=tuple(unsafe), planned=planned, dry_run=True)
    if not found:
        return RestoreCompletedReport(unsafe=tuple(unsafe))
    with store_for(settings, on_event) as store:
        if settings.wait:
            return download_as_ready(settings, store, found, unsafe, on_event, clock=clock,
                                     tier=settings.tier)
        found_round = fetch_ready(settings, store, found, on_event)
        if not found_round.planned and not found_round.rejected and found_round.in_progress:
            raise NothingReadyYet(
                f"no retrieval job has finished yet: {len(found_round.in_progress)} still in "
                "progress",
                hint="run restore-completed again later, or use --wait",
            )
        return _downloaded(settings, store, found_round, on_event, unsafe)


def fetch_ready(
    settings: Settings, store: VaultStore, found: Sequence[tuple[RestoreCandidate, ArchiveEntry]],
    on_event: ProgressCallback,
) -> RestoreCompletedReport:
    """One look at the vault's jobs: ``planned`` holds the ready files (not yet downloaded).

    ``requests`` (the downloads to make) are kept on the side, by name, for :func:`_downloaded`.
    """
    assert settings.dir is not None and settings.vault is not None
    root, vault = settings.dir, settings.vault
    succeeded, running = retrieval_jobs_by_archive(store.list_jobs(vault))
    requests: list[DownloadRequest] = []
    waiting: list[str] = []
    without: list[str] = []
    rejected: list[SkippedRestore] = []
    for cand, entry in found:
        job = succeeded.get(cand.archive_id)
        if job is None:
            (waiting if cand.archive_id in running else without).append(cand.name)
            continue
        if job.archive_size is not None and job.archive_size != entry.size:
            reason = (f"job {job.job_id} reports {job.archive_size} bytes, the journal "
                      f"says {entry.size}")
            rejected.append(SkippedRestore(cand.name, cand.archive_id, reason))
            on_event(FileSkipped(cand.name, reason, error=True))
            continue
        try:
            target = safe_join(root, cand.name)
        except UnsafeNameError as exc:  # the tree changed since missing_files()
            rejected.append(SkippedRestore(cand.name, cand.archive_id, exc.message))
            on_event(FileSkipped(cand.name, exc.message, error=True))
            continue
        requests.append(DownloadRequest(
            name=cand.name, root=root, target=target, vault=vault, job_id=job.job_id,
            archive_id=cand.archive_id, size=entry.size, tree_hash=entry.tree_hash,
            job_tree_hash=job.archive_tree_hash, mtime=entry.mtime,
            segment_size=choose_segment_size(entry.size, settings.segment_size),
        ))
    return RestoreCompletedReport(
        (), tuple(waiting), tuple(without), tuple(rejected),
        planned=tuple(PlannedDownload(r.name, r.archive_id, r.size, r) for r in requests),
    )


def _downloaded(
    settings: Settings, store: VaultStore, found: RestoreCompletedReport,
    on_event: ProgressCallback, unsafe: Sequence[SkippedRestore] = (), *, quiet: bool = False,
) -> RestoreCompletedReport:
    """Download the ready files of one :func:`fetch_ready` look."""
    requests = [p.request for p in found.planned if p.request is not None]
    if not quiet:
        if found.without_job:
            on_event(Notice(f"{len(found.without_job)} missing file(s) have no retrieval job; "
                            "run restore first"))
        if found.in_progress:
            on_event(Notice(f"{len(found.in_progress)} retrieval job(s) still in progress"))
    on_event(PlanReady(len(requests), sum(r.size for r in requests), complete=True))
    outcomes = download_archives(
        store, requests, concurrency=settings.concurrency, on_event=on_event,
        fsync=settings.fsync,
    ) if requests else []
    return attrs.evolve(found, downloads=tuple(outcomes), unsafe=tuple(unsafe))


def download_as_ready(
    settings: Settings, store: VaultStore,
    found: Sequence[tuple[RestoreCandidate, ArchiveEntry]], unsafe: Sequence[SkippedRestore],
    on_event: ProgressCallback, *, clock: Clock = SYSTEM_CLOCK,
    before_check: Callable[[], tuple[frozenset[str], float | None]] | None = None,
    tier: str | None = None,
) -> RestoreCompletedReport:
    """``--wait``: check the jobs, download each ready file, sleep, until none is pending.

    ``before_check`` (restore's pacing) runs first in every round: it initiates the jobs the
    budget now allows and returns the archive ids not initiated yet (still pending, not
    "without a job") and when it wants to run again.
    """
    remaining = list(found)
    downloads: list[DownloadOutcome] = []
    rejected: list[SkippedRestore] = []
    without: list[str] = []
    planned: list[PlannedDownload] = []
    in_progress: tuple[str, ...] = ()

    def step() -> WaitStatus:
        nonlocal in_progress
        later, wake = before_check() if before_check is not None else (frozenset(), None)
        look = fetch_ready(settings, store, remaining, on_event)
        got = _downloaded(settings, store, look, on_event, quiet=True)
        downloads.extend(got.downloads)
        rejected.extend(got.rejected)
        planned.extend(attrs.evolve(p, request=None) for p in got.planned)
        finished = {d.name for d in got.downloads} | {r.name for r in got.rejected}
        gone = {n for n in got.without_job}
        not_yet = {c.name for c, _e in remaining if c.archive_id in later}
        without.extend(sorted(gone - not_yet))
        remaining[:] = [(c, e) for c, e in remaining
                        if c.name not in finished and (c.name not in gone or c.name in not_yet)]
        in_progress = got.in_progress
        ok = sum(1 for d in downloads if d.ok)
        return WaitStatus(len(remaining), 0, ok, len(downloads) - ok + len(rejected), wake)

    policy = WaitPolicy.for_tier(tier or "Standard", poll_interval=settings.poll_interval,
                                 timeout=settings.wait_timeout)
    wait_for(step, policy, clock=clock, on_event=on_event, what="retrieval job(s)")
    return RestoreCompletedReport(
        tuple(downloads), in_progress, tuple(without), tuple(rejected), tuple(unsafe),
        planned=tuple(planned),
    )
