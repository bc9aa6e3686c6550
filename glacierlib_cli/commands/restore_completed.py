"""``mtglacier restore-completed``: download finished retrievals into --dir, verified."""

from __future__ import annotations

from typing import TYPE_CHECKING

from glacierlib_cli.exitcodes import ExitCode

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib.operations.restore_completed import RestoreCompletedReport
    from glacierlib_cli.output import Ui

NAME = "restore-completed"
SUMMARY = "download the outputs of finished retrieval jobs into --dir, verified"
OPTIONS = ("dir", "vault", "journal", "concurrency", "segment-size", "dry-run", "filter",
           "include", "exclude", "fsync", "format", "wait", "wait-timeout", "poll-interval",
           "tier")
REQUIRED = ("dir", "vault", "journal")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.restore_completed import restore_completed

    # Each file refused or failed was shown once, as an ERROR line, when it happened.
    report = restore_completed(settings, on_event=ui.progress)
    ui.close()  # the progress summary before the results
    code = _exit_code(report)
    if ui.json:
        return _json(report, code, ui)
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
    if report.without_job:
        nothing = " Nothing was restored." if code == ExitCode.NO_RETRIEVAL_JOB else ""
        ui.out(f"No retrieval job for {len(report.without_job)} missing file(s); run restore "
               f"first (--verbose lists them).{nothing}")
    for name in report.without_job:
        ui.debug(f"No retrieval job for {name}")
    if (not report.downloads and not report.in_progress and not report.without_job
            and report.ok):
        ui.out("Nothing to download")
    return code


def _exit_code(report: RestoreCompletedReport) -> int:
    """1 on failures; 66 when nothing was downloaded because no missing file has a job.

    (Nothing ready while jobs run is exit 75, raised by the library; nothing missing is 0.)
    """
    if not report.ok:
        return ExitCode.FAILURE
    if not report.dry_run and not report.downloads and report.without_job:
        return ExitCode.NO_RETRIEVAL_JOB
    return ExitCode.OK


def _json(report: RestoreCompletedReport, code: int, ui: Ui) -> int:
    from glacierlib_cli import jsonreport as j

    ids = {p.name: p.archive_id for p in report.planned}
    if report.dry_run:
        files = [j.file_entry(p.name, "download", status="planned", size=p.size,
                              archive_id=p.archive_id) for p in report.planned]
    else:
        files = [j.file_entry(d.name, "download", status="ok" if d.ok else "failed",
                              size=d.size, archive_id=ids.get(d.name), segments=d.segments,
                              resumed_segments=d.resumed_segments) for d in report.downloads]
    files += [j.file_entry(n, "download", status="job_in_progress") for n in report.in_progress]
    files += [j.file_entry(n, "download", status="no_job") for n in report.without_job]
    ui.json_report(j.document(
        ui, exit_code=code, dry_run=report.dry_run,
        counts={"planned": len(report.planned), "downloaded": len(report.downloaded),
                "failed": len(report.failed), "rejected": len(report.rejected),
                "unsafe": len(report.unsafe), "job_in_progress": len(report.in_progress),
                "no_job": len(report.without_job)},
        bytes={"downloaded": sum(d.size for d in report.downloaded)},
        files=files,
        failures=[j.failure_entry(d.name, d.error or "failed", archive_id=ids.get(d.name))
                  for d in report.failed]
        + [j.failure_entry(s.name, s.reason, archive_id=s.archive_id)
           for s in (*report.rejected, *report.unsafe)],
        without_job=list(report.without_job), in_progress=list(report.in_progress)))
    return code
