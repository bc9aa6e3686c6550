"""``mtglacier purge-vault``: delete every archive the journal knows (after filters)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "purge-vault"
SUMMARY = "delete every archive the journal knows"
OPTIONS = ("vault", "journal", "concurrency", "dry-run", "filter", "include", "exclude",
           "fsync")
REQUIRED = ("vault", "journal")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.purge_vault import purge_vault
    from glacierlib.plan import describe_action

    report = purge_vault(settings, on_event=ui.progress,
                         on_plan=lambda action: ui.out(describe_action(action)))
    if report.planned == 0:
        ui.out("Nothing to delete")
        return 0
    if report.dry_run:
        return 0
    ui.out(f"Deleted {report.result.deleted} of {report.planned} archive(s)")
    for failure in report.result.failed:
        ui.out(f"FAILED: {failure.display}: {failure.reason}")
    return 0 if report.ok else 1
