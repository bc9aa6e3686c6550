"""``mtglacier check-remote``: compare the journal with the newest finished inventory."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "check-remote"
SUMMARY = "compare the journal with the newest finished inventory of the vault"
OPTIONS = ("vault", "journal", "filter", "include", "exclude", "format")
REQUIRED = ("vault", "journal")

_LABELS = {
    "missing": "MISSING in vault",
    "orphan": "ORPHAN (not in journal)",
    "size": "SIZE MISMATCH",
    "treehash": "TREEHASH MISMATCH",
    "not-yet": "NOT YET IN INVENTORY",
    "deleted-since": "DELETED SINCE INVENTORY",
}
#: Kinds that make the run fail; the others are the inventory's lag.
_FAILING = ("missing", "orphan", "size", "treehash")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.check_remote import check_remote

    report = check_remote(settings, on_event=ui.progress)
    if ui.json:
        from glacierlib_cli import jsonreport as j

        code = 0 if report.ok else 1
        kinds = {kind: len(report.of_kind(kind)) for kind in _LABELS}
        extra = [i for i in report.of_kind("orphan") if "an extra copy of" in i.detail]
        ui.json_report(j.document(
            ui, exit_code=code,
            counts={"checked": report.checked, "matched": report.matched,
                    **{k.replace("-", "_"): n for k, n in kinds.items()}},
            files=[j.file_entry(i.name, "check", status=i.kind.replace("-", "_"),
                                archive_id=i.archive_id, detail=i.detail)
                   for i in report.issues],
            failures=[j.failure_entry(i.name, f"{_LABELS[i.kind]}: {i.detail}",
                                      archive_id=i.archive_id, kind=i.kind.replace("-", "_"))
                      for i in report.issues if i.kind in _FAILING],
            in_doubt=[i.name for i in extra],
            extra_copies=[{"name": i.name, "archive_id": i.archive_id} for i in extra],
            vault=settings.vault, job_id=report.job_id, inventory_date=report.inventory_date))
        return code
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
