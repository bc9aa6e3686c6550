"""``mtglacier sync``: upload new (and modified) files of --dir, delete archives of removed files.

The command only formats: the plan on ``--dry-run`` (mt-aws-glacier's ``Will ...`` lines),
then a summary, the files that could not be stored or failed, and exit 1 if there were any.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "sync"
SUMMARY = "upload new (and modified) files of --dir, delete archives of removed files"
OPTIONS = ("dir", "vault", "journal", "concurrency", "partsize", "dry-run", "filter",
           "include", "exclude", "new", "replace-modified", "delete-removed", "detect",
           "max-number-of-files", "follow", "fsync", "multipart-only", "leaf-optimization")
REQUIRED = ("dir", "vault", "journal")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.sync import sync
    from glacierlib.plan import describe_action

    report = sync(settings, on_event=ui.progress,
                  on_plan=lambda action: ui.out(describe_action(action)))
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
