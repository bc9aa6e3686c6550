"""``mtglacier check-local-hash``: verify local files against the journal, offline.

Prints mt-aws-glacier's report lines and ``TOTALS:`` block; exit 1 on any size, tree hash,
zero-size, missing or unreadable file (an mtime difference alone is only reported).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "check-local-hash"
SUMMARY = "verify local files against the journal (offline)"
OPTIONS = ("dir", "journal", "dry-run", "filter", "include", "exclude", "concurrency")
REQUIRED = ("dir", "journal")
NETWORK = False


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.check_local_hash import check_local_hash

    report = check_local_hash(settings, on_event=ui.progress)
    for warning in report.journal_warnings:
        ui.warn(warning)
    if report.dry_run:
        for result in report.results:
            ui.out(f"Will check file {result.name}")
        return 0
    for result in report.results:
        for line in result.lines():
            ui.out(line)
    for line in report.totals():
        ui.out(line)
    if not report.ok:
        ui.err("ERROR: check-local-hash reported errors")
        return 1
    return 0
