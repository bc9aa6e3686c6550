"""``mtglacier list-uploads``: unfinished multipart uploads of the vault."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "list-uploads"
SUMMARY = "list unfinished multipart uploads"
OPTIONS = ("vault", "format")
REQUIRED = ("vault",)


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.uploads import list_uploads

    report = list_uploads(settings, on_event=ui.progress)
    if ui.json:
        from glacierlib_cli import jsonreport as j

        ui.json_report(j.document(ui, exit_code=0, counts={"uploads": len(report.uploads)},
                                  VaultName=report.vault, UploadsList=[
            {"MultipartUploadId": u.upload_id, "CreationDate": u.creation_date,
             "PartSizeInBytes": u.part_size, "FileName": u.name,
             "ArchiveDescription": u.description} for u in report.uploads]))
    elif settings.format == "mtmsg":
        for u in report.uploads:
            for field, value in (("CreationDate", u.creation_date),
                                 ("PartSizeInBytes", u.part_size), ("FileName", u.name)):
                ui.out(f"MTMSG\tUPLOAD_LIST\t{u.upload_id}\t{field}\t"
                       f"{'' if value is None else value}")
    else:
        for u in report.uploads:
            ui.out(f"Upload {u.upload_id}: {u.name or '(no file name)'}, part size "
                   f"{u.part_size}, created {u.creation_date}")
        ui.out(f"Total: {len(report.uploads)} unfinished upload(s)")
    return 0
