"""``restore-completed``: download finished retrieval jobs into ``--dir``, verified.

Succeeded whole-archive retrieval jobs in the vault's job list are matched by archive id to the
latest archive of each journal file missing locally; each match becomes a
:class:`~glacierlib.download.DownloadRequest` (segment size per archive, journal tree hash and
the job's ArchiveSHA256TreeHash, journal mtime), and :func:`~glacierlib.download.download_archives`
fetches them in parallel. When nothing is ready but jobs are still running this raises
:class:`~glacierlib.exceptions.NothingReadyYet` (exit 75) with their number, so a cron job can
simply retry; a file with no job at all is reported (run ``restore`` first).
"""

from __future__ import annotations

import attrs

from glacierlib.config import Settings
from glacierlib.download import DownloadOutcome, DownloadRequest, download_archives
from glacierlib.exceptions import NothingReadyYet, UnsafeNameError
from glacierlib.journal import read_journal
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
from glacierlib.restore_plan import SkippedRestore, choose_segment_size

__all__ = ["PlannedDownload", "RestoreCompletedReport", "restore_completed"]


@attrs.frozen
class PlannedDownload:
    """A missing file ``--dry-run`` would download if its job is ready."""

    name: str
    archive_id: str
    size: int


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
    settings: Settings, on_event: ProgressCallback = ignore_progress,
) -> RestoreCompletedReport:
    """Download every ready retrieval for a missing file; see the module docstring."""
    require(settings, "dir", "vault", "journal")
    assert settings.dir is not None and settings.vault is not None
    assert settings.journal is not None
    root, vault = settings.dir, settings.vault
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
        if not requests and not rejected and waiting:
            raise NothingReadyYet(
                f"no retrieval job has finished yet: {len(waiting)} still in progress",
                hint="run restore-completed again later",
            )
        if without:
            on_event(Notice(
                f"{len(without)} missing file(s) have no retrieval job; run restore first"
            ))
        if waiting:
            on_event(Notice(f"{len(waiting)} retrieval job(s) still in progress"))
        on_event(PlanReady(len(requests), sum(r.size for r in requests), complete=True))
        outcomes = download_archives(
            store, requests, concurrency=settings.concurrency, on_event=on_event,
            fsync=settings.fsync,
        )
    return RestoreCompletedReport(
        outcomes, tuple(waiting), tuple(without), tuple(rejected), tuple(unsafe),
        planned=tuple(PlannedDownload(r.name, r.archive_id, r.size) for r in requests),
    )
