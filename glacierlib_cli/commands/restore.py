"""``mtglacier restore``: initiate retrieval jobs for journal files missing locally."""

from __future__ import annotations

from typing import TYPE_CHECKING

from glacierlib_cli.exitcodes import ExitCode

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib.operations.restore import RestoreReport
    from glacierlib_cli.output import Ui

NAME = "restore"
SUMMARY = "initiate retrieval jobs for journal files missing locally"
OPTIONS = ("dir", "vault", "journal", "max-number-of-files", "max-size", "tier", "sns-topic",
           "dry-run", "filter", "include", "exclude", "fsync", "concurrency", "format",
           "segment-size", "wait", "wait-timeout", "poll-interval", "max-retrieval-rate")
REQUIRED = ("dir", "vault", "journal", "max-number-of-files|max-size")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.restore import restore

    # Each file refused or failed was shown once, as an ERROR line, when it happened.
    report = restore(settings, on_event=ui.progress)
    plan = report.plan
    if ui.json:
        return _json(report, ui)
    if report.dry_run:
        for item in plan.retrievals:
            ui.out(f"Will RETRIEVE archive {item.archive_id} (filename {item.name}), "
                   f"{item.size} bytes")
        for skipped in plan.skipped:
            ui.out(f"Skip {skipped.name}: {skipped.reason}")
    for job in report.initiated:
        ui.out(f"Retrieved archive {job.archive_id} (filename {job.name}), job {job.job_id}")
    if not plan.retrievals and not plan.skipped and not plan.deferred:
        ui.out("Nothing to restore")
    else:
        verb = "Plan" if report.dry_run else "Restore"
        ui.out(f"{verb}: {plan.count} archive(s), {plan.total_bytes} bytes, tier {plan.tier}"
               + (f"; {len(plan.skipped)} already requested" if plan.skipped else "")
               + (f"; {plan.deferred} left by the caps ({plan.deferred_bytes} bytes)"
                  if plan.deferred else ""))
    if report.pace_seconds is not None:
        from glacierlib_cli.progress import format_duration

        ui.out(f"At --max-retrieval-rate {settings.max_retrieval_rate}, the last job starts "
               f"after {format_duration(report.pace_seconds)}")
    if report.paced:
        ui.out(f"Deferred by the retrieval budget: {len(report.paced)} archive(s), "
               f"{sum(p.size for p in report.paced)} bytes; run again later or use --wait")
    if report.downloads is not None:
        for outcome in report.downloads.downloads:
            if outcome.ok:
                ui.out(f"Downloaded {outcome.name} ({outcome.size} bytes)")
        ui.out(f"Downloaded {len(report.downloads.downloaded)} file(s)")
    if not report.ok:
        return 1
    return ExitCode.NOT_READY if report.paced else 0


def _json(report: RestoreReport, ui: Ui) -> int:
    from glacierlib_cli import jsonreport as j

    plan = report.plan
    code = (0 if not report.paced else ExitCode.NOT_READY) if report.ok else 1
    if report.dry_run:
        files = [j.file_entry(i.name, "retrieve", status="planned", size=i.size,
                              archive_id=i.archive_id) for i in plan.retrievals]
    else:
        files = [j.file_entry(i.name, "retrieve", size=i.size, archive_id=i.archive_id,
                              job_id=i.job_id) for i in report.initiated]
    files += [j.file_entry(s.name, "retrieve", status="already_requested",
                           archive_id=s.archive_id, reason=s.reason) for s in plan.skipped]
    ui.json_report(j.document(
        ui, exit_code=code, dry_run=report.dry_run,
        counts={"planned": plan.count, "initiated": len(report.initiated),
                "already_requested": len(plan.skipped), "deferred": plan.deferred,
                "failed": len(report.failed), "unsafe": len(report.unsafe),
                "paced": len(report.paced),
                "downloaded": len(report.downloads.downloaded) if report.downloads else 0},
        bytes={"planned": plan.total_bytes, "deferred": plan.deferred_bytes},
        files=files,
        failures=[j.failure_entry(f.name, f.error, archive_id=f.archive_id)
                  for f in report.failed]
        + [j.failure_entry(s.name, s.reason, archive_id=s.archive_id) for s in report.unsafe],
        tier=plan.tier))
    return code
