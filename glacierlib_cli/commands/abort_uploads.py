"""``mtglacier abort-uploads``: abort unfinished multipart uploads (filters select)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "abort-uploads"
SUMMARY = "abort unfinished multipart uploads (not while a sync uploads to the vault)"
OPTIONS = ("vault", "dry-run", "filter", "include", "exclude", "format")
REQUIRED = ("vault",)


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.uploads import abort_uploads

    report = abort_uploads(settings, on_event=ui.progress)
    if ui.json:
        from glacierlib_cli import jsonreport as j

        code = 1 if report.failed else 0
        ui.json_report(j.document(
            ui, exit_code=code, dry_run=report.dry_run,
            counts={"aborted": 0 if report.dry_run else len(report.aborted),
                    "planned": len(report.aborted), "failed": len(report.failed)},
            files=[j.file_entry(u.name or "", "abort",
                                status="planned" if report.dry_run else "ok",
                                upload_id=u.upload_id) for u in report.aborted],
            failures=[j.failure_entry(u.name or "", error, upload_id=u.upload_id)
                      for u, error in report.failed],
            vault=report.vault))
        return code
    verb = "Will ABORT" if report.dry_run else "Aborted"
    for u in report.aborted:
        ui.out(f"{verb} upload {u.upload_id} (filename {u.name or 'unknown'})")
    for u, error in report.failed:
        ui.err(f"FAILED to abort upload {u.upload_id}: {error}")
    ui.out(f"{len(report.aborted)} upload(s) {'to abort' if report.dry_run else 'aborted'}")
    return 1 if report.failed else 0
