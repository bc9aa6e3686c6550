"""``mtglacier retrieve-inventory``: initiate an inventory-retrieval job."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "retrieve-inventory"
SUMMARY = "initiate an inventory-retrieval job (JSON or CSV)"
OPTIONS = ("vault", "request-inventory-format", "sns-topic", "format")
REQUIRED = ("vault",)


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.inventory import retrieve_inventory

    started = retrieve_inventory(settings)
    if ui.json:
        from glacierlib_cli import jsonreport as j

        ui.json_report(j.document(ui, exit_code=0, counts={"jobs_initiated": 1},
                                  vault=settings.vault, job_id=started.job_id,
                                  inventory_format=started.format))
        return 0
    ui.out(f"Retrieved Inventory, job id {started.job_id} ({started.format})")
    return 0
