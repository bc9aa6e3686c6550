"""``mtglacier retrieve-inventory``: initiate an inventory-retrieval job."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "retrieve-inventory"
SUMMARY = "initiate an inventory-retrieval job (JSON or CSV)"
OPTIONS = ("vault", "request-inventory-format", "sns-topic", "format", "wait", "wait-timeout",
           "poll-interval", "new-journal", "fsync")
REQUIRED = ("vault",)


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.inventory import retrieve_inventory

    if settings.new_journal is not None and not settings.wait:
        from glacierlib.exceptions import ConfigError

        raise ConfigError("--new-journal on retrieve-inventory needs --wait",
                          hint="or run download-inventory once the job has finished")
    started = retrieve_inventory(settings, on_event=ui.progress if settings.wait else _quiet)
    if started.journal is not None and not ui.json:
        report = started.journal
        ui.out(f"Wrote {report.archives} archive(s) to {report.new_journal} "
               f"({report.fallback_count} named by archive id, {report.unsafe_count} unsafe "
               "name(s))")
    if ui.json:
        from glacierlib_cli import jsonreport as j

        ui.json_report(j.document(ui, exit_code=0, counts={"jobs_initiated": 1},
                                  vault=settings.vault, job_id=started.job_id,
                                  inventory_format=started.format))
        return 0
    ready = ", finished" if started.ready else ""
    ui.out(f"Retrieved Inventory, job id {started.job_id} ({started.format}){ready}")
    return 0


def _quiet(_event: object) -> None:
    """Without --wait the result line says it all (as before)."""
