"""``mtglacier check-remote``: compare the journal with the newest finished inventory."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "check-remote"
SUMMARY = "compare the journal with the newest finished inventory of the vault"
OPTIONS = ("vault", "journal", "filter", "include", "exclude")
REQUIRED = ("vault", "journal")

_LABELS = {
    "missing": "MISSING in vault",
    "orphan": "ORPHAN (not in journal)",
    "size": "SIZE MISMATCH",
    "treehash": "TREEHASH MISMATCH",
    "not-yet": "NOT YET IN INVENTORY",
    "deleted-since": "DELETED SINCE INVENTORY",
}


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.check_remote import check_remote

    report = check_remote(settings, on_event=ui.progress)
    ui.out(f"Inventory job {report.job_id}, inventory date {report.inventory_date}")
    for issue in report.issues:
        name = f" {issue.name}" if issue.name else ""
        ui.out(f"{_LABELS[issue.kind]}{name} archive_id {issue.archive_id}: {issue.detail}")
    ui.out("TOTALS:")
    ui.out(f"{report.checked} archives in inventory, {report.matched} OK")
    for kind, label in _LABELS.items():
        ui.out(f"{len(report.of_kind(kind))} {label}")
    if not report.ok:
        ui.err("check-remote reported errors")
        return 1
    return 0
