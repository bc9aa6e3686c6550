"""``mtglacier restore``: initiate retrieval jobs for journal files missing locally."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "restore"
SUMMARY = "initiate retrieval jobs for journal files missing locally"
OPTIONS = ("dir", "vault", "journal", "max-number-of-files", "max-size", "tier", "sns-topic",
           "dry-run", "filter", "include", "exclude", "fsync", "concurrency")
REQUIRED = ("dir", "vault", "journal", "max-number-of-files|max-size")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.restore import restore

    # Each file refused or failed was shown once, as an ERROR line, when it happened.
    report = restore(settings, on_event=ui.progress)
    plan = report.plan
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
    return 0 if report.ok else 1
