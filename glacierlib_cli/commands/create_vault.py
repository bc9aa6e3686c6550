"""``mtglacier create-vault NAME``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "create-vault"
SUMMARY = "create a vault"
OPTIONS = ("format",)
REQUIRED: tuple[str, ...] = ()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("vault_name", metavar="VAULT-NAME", help="the vault to create")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.operations.vaults import create_vault

    name = create_vault(settings, _vault_name(args.vault_name), on_event=ui.progress)
    if ui.json:
        from glacierlib_cli import jsonreport as j

        ui.json_report(j.document(ui, exit_code=0, counts={"vaults_created": 1}, vault=name))
        return 0
    ui.out(f"Created vault {name}")
    return 0


def _vault_name(name: str) -> str:
    import re

    from glacierlib_cli.errors import UsageError

    if not re.fullmatch(r"[A-Za-z0-9._-]{1,255}", name):
        raise UsageError(f"invalid vault name {name!r}: use 1 to 255 of A-Z a-z 0-9 . _ -")
    return name
