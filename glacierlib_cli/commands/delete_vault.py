"""``mtglacier delete-vault NAME``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from glacierlib_cli.commands.create_vault import _vault_name

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "delete-vault"
SUMMARY = "delete an (empty) vault"
OPTIONS = ("format",)
REQUIRED: tuple[str, ...] = ()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("vault_name", metavar="VAULT-NAME", help="the vault to delete")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.vaults import delete_vault

    name = delete_vault(settings, _vault_name(args.vault_name), on_event=ui.progress)
    if ui.json:
        from glacierlib_cli import jsonreport as j

        ui.json_report(j.document(ui, exit_code=0, counts={"vaults_deleted": 1}, vault=name))
        return 0
    ui.out(f"Deleted vault {name}")
    return 0
