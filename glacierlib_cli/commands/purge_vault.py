"""``mtglacier purge-vault``: delete every archive the journal knows (after filters)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib.plan import Delete
    from glacierlib_cli.output import Ui

NAME = "purge-vault"
SUMMARY = "delete every archive the journal knows"
OPTIONS = ("vault", "journal", "concurrency", "dry-run", "filter", "include", "exclude",
           "fsync", "format")
REQUIRED = ("vault", "journal")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.purge_vault import purge_vault
    from glacierlib.plan import describe_action

    planned: list[object] = []

    def on_plan(action: Delete) -> None:
        if ui.json:
            planned.append(action)
        ui.out(describe_action(action))

    report = purge_vault(settings, on_event=ui.progress, on_plan=on_plan)
    ui.close()  # the progress summary before the results
    if ui.json:
        from glacierlib_cli import jsonreport as j

        code = 0 if report.ok else 1
        ui.json_report(j.document(
            ui, exit_code=code, dry_run=report.dry_run,
            counts={"planned": report.planned, "deleted": report.result.deleted,
                    "failed": len(report.result.failed)},
            files=[j.planned_entry(a) for a in planned] if report.dry_run
            else j.finished_files(ui),
            failures=[j.failure_entry(f.display, f.reason) for f in report.result.failed]))
        return code
    if report.planned == 0:
        ui.out("Nothing to delete")
        return 0
    if report.dry_run:
        return 0
    ui.out(f"Deleted {report.result.deleted} of {report.planned} archive(s)")
    for failure in report.result.failed:
        ui.out(f"FAILED: {failure.display}: {failure.reason}")
    return 0 if report.ok else 1
