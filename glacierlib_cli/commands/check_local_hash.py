"""``mtglacier check-local-hash``: verify local files against the journal, offline.

Prints mt-aws-glacier's report lines and ``TOTALS:`` block; exit 1 on any size, tree hash,
zero-size, missing or unreadable file (an mtime difference alone is only reported).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib.operations.check_local_hash import CheckLocalHashReport
    from glacierlib_cli.output import Ui

NAME = "check-local-hash"
SUMMARY = "verify local files against the journal (offline)"
OPTIONS = ("dir", "journal", "dry-run", "filter", "include", "exclude", "concurrency",
           "format")
REQUIRED = ("dir", "journal")
NETWORK = False


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.check_local_hash import check_local_hash

    report = check_local_hash(settings, on_event=ui.progress)
    ui.close()  # the progress summary before the results
    if ui.json:
        return _json(report, ui)
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


def _key(status: str) -> str:
    """mt-aws-glacier's status words as a JSON key: ``SIZE MISSMATCH`` -> ``size_mismatch``."""
    return status.lower().replace("missmatch", "mismatch").replace(" ", "_")


def _json(report: CheckLocalHashReport, ui: Ui) -> int:
    from glacierlib_cli import jsonreport as j

    code = 0 if report.ok else 1
    counts = {key: 0 for key in ("ok", "treehash_mismatch", "size_mismatch", "zero_size",
                                 "missed", "cannot_open")}
    for result in report.results if not report.dry_run else ():
        counts[_key(result.status)] = counts.get(_key(result.status), 0) + 1
    files = [j.file_entry(r.name, "check", size=r.size, tree_hash=r.tree_hash.hex,
                          status="planned" if report.dry_run else _key(r.status),
                          mtime_mismatch=r.mtime_mismatch,
                          **({"error": r.error} if r.error else {}))
             for r in report.results]
    ui.json_report(j.document(
        ui, exit_code=code, dry_run=report.dry_run,
        counts={"files": len(report.results), **counts,
                "mtime_mismatch": 0 if report.dry_run else report.mtime_mismatches},
        bytes={"checked": sum(r.size for r in report.results
                              if not report.dry_run and r.status == "OK")},
        files=files,
        failures=[j.failure_entry(r.name, r.error or r.status, kind=_key(r.status))
                  for r in report.results if not report.dry_run and r.status != "OK"],
        warnings=report.journal_warnings))
    return code
