"""``mtglacier download-inventory``: build a journal from the newest finished inventory."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "download-inventory"
SUMMARY = "build a new journal from the newest finished full inventory"
OPTIONS = ("vault", "new-journal", "fsync", "format", "wait", "wait-timeout", "poll-interval",
           "request-inventory-format", "sns-topic")
REQUIRED = ("vault", "new-journal")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.inventory import download_inventory

    report = download_inventory(settings, on_event=ui.progress)
    if ui.json:
        from glacierlib_cli import jsonreport as j

        ui.json_report(j.document(
            ui, exit_code=0,
            counts={"archives": report.archives, "named_by_archive_id": report.fallback_count,
                    "unsafe_names": report.unsafe_count},
            files=[j.file_entry(f.archive_id, "name", status="named_by_archive_id",
                                archive_id=f.archive_id, reason=f.reason)
                   for f in report.fallbacks],
            vault=settings.vault, job_id=report.job_id, inventory_format=report.format,
            inventory_date=report.inventory_date, new_journal=str(report.new_journal)))
        return 0
    for fallback in report.fallbacks:
        ui.out(f"Named by archive id {fallback.archive_id}: {fallback.reason}")
    if report.fallback_count > len(report.fallbacks):
        ui.out(f"... and {report.fallback_count - len(report.fallbacks)} more named by "
               "archive id")
    ui.out(f"Downloaded inventory in {report.format} format, job id {report.job_id}, "
           f"inventory date {report.inventory_date or 'unknown'}")
    ui.out(f"Wrote {report.archives} archive(s) to {report.new_journal} "
           f"({report.fallback_count} named by archive id, {report.unsafe_count} unsafe "
           "name(s))")
    return 0
