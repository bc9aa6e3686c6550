"""``mtglacier sync``: upload new (and modified) files of --dir, delete archives of removed files.

The command only formats: the plan on ``--dry-run`` (mt-aws-glacier's ``Will ...`` lines),
then a summary, the files that could not be stored or failed, and exit 1 if there were any.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib.operations.sync import SyncReport
    from glacierlib.plan import Action
    from glacierlib_cli.output import Ui

NAME = "sync"
SUMMARY = "upload new (and modified) files of --dir, delete archives of removed files"
OPTIONS = ("dir", "vault", "journal", "concurrency", "partsize", "dry-run", "filter",
           "include", "exclude", "new", "replace-modified", "delete-removed", "detect",
           "max-number-of-files", "follow", "fsync", "multipart-only", "leaf-optimization",
           "format")
REQUIRED = ("dir", "vault", "journal")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.sync import sync
    from glacierlib.plan import describe_action

    planned: list[object] = []

    def on_plan(action: Action) -> None:
        if ui.json:
            planned.append(action)
        ui.out(describe_action(action))

    report = sync(settings, on_event=ui.progress, on_plan=on_plan,
                  count_first=ui.progress_display.live)
    ui.close()  # the progress summary before the results
    if ui.json:
        return _json(report, planned, ui)
    for warning in report.journal_warnings:
        ui.warn(warning)
    result = report.result
    if report.dry_run:
        ui.out(f"Plan: {report.planned} action(s); nothing was done (--dry-run)")
    else:
        ui.out(f"Uploaded {result.uploaded} file(s), {result.uploaded_bytes} bytes; "
               f"replaced {result.replaced}; deleted {result.deleted} archive(s)"
               + (f"; {result.verified_unchanged} unchanged by tree hash"
                  if result.verified_unchanged else ""))
    zero = [s for s in result.skipped if s.kind == "empty"]
    if zero:
        ui.out(f"Skipped {len(zero)} zero-size file(s) (Glacier cannot store empty archives):")
        for skip in zero:
            ui.out(f"  {skip.display}")
    for skip in result.skipped:
        if skip.kind in ("emptied", "vanished"):
            ui.warn(f"{skip.display}: {skip.reason}")
    unnamed = [s for s in result.unstorable if s.kind != "read"]
    if unnamed:
        ui.out(f"NOT STORED: {len(unnamed)} file(s) whose names cannot be stored:")
        for skip in unnamed:
            ui.out(f"  {skip.display}: {skip.reason}")
    unread = [s for s in result.unstorable if s.kind == "read"]
    if unread:
        ui.out(f"NOT READ: {len(unread)} file(s) or directories that could not be read:")
        for skip in unread:
            ui.out(f"  {skip.display}: {skip.reason}")
    if report.held_back:
        ui.out(f"HELD BACK: {report.held_back} deletion(s) of --delete-removed: these files "
               "were not proven absent, so their archives are kept:")
        for skip in result.skipped:
            if skip.kind == "kept":
                ui.out(f"  {skip.display}: {skip.kept} archive(s); {skip.reason}")
    if result.changed:
        ui.out(f"CHANGED while uploading, not recorded (the next sync retries them): "
               f"{len(result.changed)}")
        for name in result.changed:
            ui.out(f"  {name}")
    if result.in_doubt:
        ui.out(f"POSSIBLE EXTRA COPIES: {len(result.in_doubt)} file(s) stored after an attempt "
               "whose reply was lost; the vault may also hold an unjournaled copy of each "
               "(check-remote lists such copies as orphans):")
        for name in result.in_doubt:
            ui.out(f"  {name}")
    if result.failed:
        ui.out(f"FAILED: {len(result.failed)} file(s):")
        for failure in result.failed:
            ui.out(f"  {failure.display}: {failure.reason}")
    return 0 if report.ok else 1


def _json(report: SyncReport, planned: list[object], ui: Ui) -> int:
    from glacierlib_cli import jsonreport as j

    result = report.result
    code = 0 if report.ok else 1
    kept = [s for s in result.skipped if not s.error]
    if report.dry_run:  # the plan holds the skips too
        files = [j.planned_entry(a) for a in planned]
    else:
        files = j.finished_files(ui) + [
            j.file_entry(s.display, "skip", status="skipped", reason=s.reason, kind=s.kind,
                         kept=s.kept) for s in kept]
    kinds = [s.kind for s in result.skipped]
    not_read = [s for s in result.unstorable if s.kind == "read"]
    not_stored = [s for s in result.unstorable if s.kind != "read"]
    ui.json_report(j.document(
        ui, exit_code=code, dry_run=report.dry_run,
        counts={"planned": report.planned, "uploaded": result.uploaded,
                "replaced": result.replaced, "deleted": result.deleted,
                "unchanged": result.verified_unchanged,
                "skipped_zero_size": kinds.count("empty"), "emptied": kinds.count("emptied"),
                "held_back": report.held_back, "not_stored": len(not_stored),
                "not_read": len(not_read), "changed": len(result.changed),
                "failed": len(result.failed), "in_doubt": len(result.in_doubt)},
        bytes={"uploaded": result.uploaded_bytes},
        files=files,
        failures=[j.failure_entry(f.display, f.reason, kind="failed") for f in result.failed]
        + [j.failure_entry(s.display, s.reason, kind="not_stored") for s in not_stored]
        + [j.failure_entry(s.display, s.reason, kind="not_read") for s in not_read]
        + [j.failure_entry(name, "changed while uploading; not recorded (the next sync "
                                 "retries it)", kind="changed") for name in result.changed],
        warnings=[*report.journal_warnings,
                  *(f"{s.display}: {s.reason}" for s in result.skipped
                    if s.kind in ("emptied", "vanished"))],
        in_doubt=result.in_doubt,
    ))
    return code
