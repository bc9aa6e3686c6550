"""``mtglacier download-inventory``: build a journal from the newest finished inventory."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "download-inventory"
SUMMARY = "build a new journal from the newest finished full inventory"
OPTIONS = ("vault", "new-journal", "fsync")
REQUIRED = ("vault", "new-journal")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.inventory import download_inventory

    report = download_inventory(settings, on_event=ui.progress)
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
