"""``mtglacier list-jobs``: the vault's jobs with status, tier and file name."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "list-jobs"
SUMMARY = "list the vault's jobs: action, status, tier, file, creation and completion time"
OPTIONS = ("vault", "journal", "format")
REQUIRED = ("vault",)

_FIELDS = ("JobId", "Action", "StatusCode", "Tier", "ArchiveId", "FileName", "SizeInBytes",
           "CreationDate", "CompletionDate", "StatusMessage")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.jobs import list_jobs

    report = list_jobs(settings, on_event=ui.progress)
    rows = [
        dict(zip(_FIELDS, (j.job_id, j.action, j.status, j.tier, j.archive_id, j.name, j.size,
                           j.creation_date, j.completion_date, j.status_message), strict=True))
        for j in report.jobs
    ]
    if ui.json:
        from glacierlib_cli import jsonreport as j

        ui.json_report(j.document(ui, exit_code=0, counts={"jobs": len(rows)},
                                  VaultName=report.vault, JobList=rows))
    elif settings.format == "mtmsg":
        for row in rows:
            for field in _FIELDS[1:]:
                value = row[field]
                ui.out(f"MTMSG\tJOB_LIST\t{row['JobId']}\t{field}\t"
                       f"{'' if value is None else value}")
        ui.out(f"MTMSG\tJOBS_SUMMARY\ttotal_number_of_jobs\t{len(rows)}")
    else:
        for job in report.jobs:
            what = job.name or job.archive_id or (job.inventory_format or "")
            ui.out(f"Job {job.job_id}")
            ui.out(f"  {job.action} {job.status}"
                   + (f" (tier {job.tier})" if job.tier else "")
                   + (f": {what}" if what else ""))
            ui.out(f"  Created: {job.creation_date}, completed: "
                   f"{job.completion_date or 'not yet'}")
        ui.out(f"Total: {len(rows)} job(s)")
    return 0
