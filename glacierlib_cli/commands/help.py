"""``mtglacier help [COMMAND]``: the overview, or one command's options."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "help"
SUMMARY = "show help for mtglacier or a command"
OPTIONS: tuple[str, ...] = ()
REQUIRED: tuple[str, ...] = ()
NETWORK = False
OK_DONE = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", nargs="?", metavar="COMMAND", help="the command to explain")


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib_cli import main
    from glacierlib_cli.commands import load_command, module_name
    from glacierlib_cli.errors import UsageError

    topic = args.topic
    if topic is None:
        ui.out(main.top_level_help())
        return 0
    if module_name(topic) is None:
        raise UsageError(f"unknown command {topic!r}", hint=f"see '{main.PROG} help'")
    ui.out(main.build_parser(load_command(topic)).format_help().rstrip("\n"))
    return 0
