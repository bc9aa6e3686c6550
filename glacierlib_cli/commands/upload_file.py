"""``mtglacier upload-file``: one file or standard input, as one archive in the journal."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "upload-file"
SUMMARY = "upload one file or standard input, tracked in the journal"
OPTIONS = ("vault", "journal", "filename", "dir", "set-rel-filename", "stdin",
           "check-max-file-size", "concurrency", "partsize", "fsync", "multipart-only", "format")
REQUIRED = ("vault", "journal", "filename|stdin")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib_cli.errors import UsageError

    if settings.stdin:
        if settings.filename is not None or settings.set_rel_filename is None:
            raise UsageError("--stdin needs --set-rel-filename (and no --filename)")
    elif (settings.dir is None) == (settings.set_rel_filename is None):
        raise UsageError("--filename needs exactly one of --dir and --set-rel-filename")

    from glacierlib.operations.upload_file import upload_file

    report = upload_file(settings, on_event=ui.progress)
    ui.close()  # the progress summary before the results
    if ui.json:
        from glacierlib_cli import jsonreport as j

        ui.json_report(j.document(
            ui, exit_code=0, counts={"uploaded": 1}, bytes={"uploaded": report.size},
            files=[j.file_entry(report.name, "upload", size=report.size,
                                archive_id=report.archive_id, tree_hash=report.tree_hash.hex,
                                mtime=report.mtime)]))
        return 0
    ui.out(f"Uploaded {report.name}: {report.size} bytes, archive_id {report.archive_id}, "
           f"treehash {report.tree_hash.hex}")
    return 0
