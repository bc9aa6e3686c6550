"""``mtglacier restore-completed``: download finished retrievals into --dir, verified."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "restore-completed"
SUMMARY = "download the outputs of finished retrieval jobs into --dir, verified"
OPTIONS = ("dir", "vault", "journal", "concurrency", "segment-size", "dry-run", "filter",
           "include", "exclude", "fsync")
REQUIRED = ("dir", "vault", "journal")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.restore_completed import restore_completed

    # Each file refused or failed was shown once, as an ERROR line, when it happened.
    report = restore_completed(settings, on_event=ui.progress)
    if report.dry_run:
        for item in report.planned:
            ui.out(f"Will DOWNLOAD (if available) archive {item.archive_id} "
                   f"(filename {item.name})")
        return 0
    for outcome in report.downloads:
        if outcome.ok:
            extra = f", {outcome.resumed_segments} resumed" if outcome.resumed_segments else ""
            ui.out(f"Downloaded {outcome.name} ({outcome.size} bytes, {outcome.segments} "
                   f"segment(s){extra})")
    if report.in_progress:
        ui.out(f"{len(report.in_progress)} retrieval job(s) still in progress")
    for name in report.without_job:
        ui.out(f"No retrieval job for {name} (run restore first)")
    if (not report.downloads and not report.in_progress and not report.without_job
            and report.ok):
        ui.out("Nothing to download")
    return 0 if report.ok else 1
