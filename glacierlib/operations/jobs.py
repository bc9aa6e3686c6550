"""``list-jobs``: the vault's jobs, with the journal's file name for archive retrievals.

Retrievals take hours and their output expires a day after completion; mt-aws-glacier gave no
way to see where they stood (its issues #71, #92). This lists every job the vault still shows,
newest first, naming the file each archive retrieval is for when a journal is given.
"""

from __future__ import annotations

import attrs

from glacierlib.config import Settings
from glacierlib.journal import read_journal
from glacierlib.metadata import parse_iso8601_or_none
from glacierlib.operations._store import store_for
from glacierlib.operations.restore import require
from glacierlib.progress import ProgressCallback, ignore_progress

__all__ = ["JobRow", "JobsReport", "list_jobs"]


@attrs.frozen
class JobRow:
    """One job as shown to the user; absent fields are ``None``."""

    job_id: str
    action: str
    status: str
    tier: str | None
    creation_date: str
    completion_date: str | None
    archive_id: str | None = None
    name: str | None = None
    size: int | None = None
    status_message: str | None = None
    description: str | None = None
    inventory_format: str | None = None


@attrs.frozen
class JobsReport:
    vault: str
    jobs: tuple[JobRow, ...]


def list_jobs(settings: Settings, on_event: ProgressCallback = ignore_progress) -> JobsReport:
    """List the vault's jobs, newest first (ties by job id, so the order is stable)."""
    require(settings, "vault")
    assert settings.vault is not None
    names: dict[str, str] = {}
    if settings.journal is not None:
        state = read_journal(settings.journal)
        names = {aid: entry.name for aid, entry in state.archives.items()}
    with store_for(settings, on_event) as store:
        jobs = list(store.list_jobs(settings.vault))
    rows = [
        JobRow(
            job.job_id, job.action, job.status_code, job.tier, job.creation_date,
            job.completion_date, job.archive_id,
            names.get(job.archive_id) if job.archive_id else None,
            job.archive_size if job.action == "ArchiveRetrieval" else job.inventory_size,
            job.status_message, job.description, job.inventory_format,
        )
        for job in jobs
    ]
    rows.sort(key=lambda r: (-(parse_iso8601_or_none(r.creation_date) or 0), r.job_id))
    return JobsReport(settings.vault, tuple(rows))
