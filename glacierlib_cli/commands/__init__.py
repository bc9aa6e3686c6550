"""The commands of mtglacier: a registry, and the interface every command module follows.

Command-module interface
========================

Each ``glacierlib_cli/commands/<module>.py`` defines:

``NAME: str``
    The command as typed, with dashes (``"upload-file"``). Must equal its registry entry.
``SUMMARY: str``
    One line for ``mtglacier COMMAND --help``.
``OPTIONS: tuple[str, ...]``
    Names from the catalogue (``glacierlib_cli.options.CATALOGUE``), with dashes, e.g.
    ``("dir", "vault", "journal", "concurrency", "partsize", "dry-run", "filter", "include",
    "exclude", "new")``. Only these (plus the automatic ones below) are accepted on the command
    line; any other catalogue option is an error naming it (exit 2). Config-file values for
    options the command does not use are ignored, as in mt-aws-glacier.
``REQUIRED: tuple[str, ...]``
    Mandatory options, checked after the config file is merged (so ``vault=`` in the file
    counts). An entry ``"a|b"`` means at least one of them. Finer rules (upload-file's three
    alternatives) are checked in ``run``, raising ``glacierlib_cli.errors.UsageError``.
``NETWORK: bool`` (optional, default True)
    True adds the connection options (config, key, secret, token, profile, region,
    endpoint-url, local, protocol, timeout, retry-timeout, max-attempts). ``config``,
    ``quiet`` and ``verbose`` are added to every command, ``filter-from`` to every command
    that lists ``filter``. An offline command (check-local-hash) says ``NETWORK = False`` and then
    needs neither credentials nor a region.
``OK_DONE: bool`` (optional, default True)
    Whether a successful run (``run`` returned 0) ends with the ``OK DONE`` line. The framework
    prints it (once) unless the command already called ``ui.done()``.
``add_arguments(parser: argparse.ArgumentParser) -> None`` (optional)
    Command-specific positionals (``create-vault NAME``) or options outside the catalogue.
``run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int``
    Does the work: one ``glacierlib.operations`` call with ``on_event=ui.progress``, then the
    report on ``ui.out``. Returns the exit code for outcomes (0, or 1 for mismatches found);
    errors are raised (``glacierlib.exceptions.*``) and mapped to exit codes by
    ``glacierlib_cli.main``. ``args`` holds the positionals and the options with
    ``settings=False`` (``data-dir``...); everything else is in ``settings``.

Import heavy things (``glacierlib.operations``, botocore) inside ``run``, not at module level:
``mtglacier COMMAND --help`` imports the module and must stay quick.

The framework (``glacierlib_cli.main``) does the rest: option prefixes and aliases, options
before the command, the config file and environment (``glacierlib.config.resolve_settings``),
mandatory options, ``--dir`` on purge-vault and ``--vault`` on check-local-hash (accepted with a
warning and ignored; do not list them), warnings, logging, the exit code of every exception,
and ``OK DONE``. A networked command's store layer calls ``glacierlib.config.require_region``
once botocore has resolved the profile. A new command needs a line in ``COMMANDS`` and in
``SUMMARIES`` below; ``glacierlib_cli.command.Command`` is the checked, loaded form.

Modules are imported only when their command runs or its help is asked for. A registered module
that does not exist yet is left out of ``mtglacier help`` and running it says it is unavailable
(exit 2); that fallback goes away once every command has landed.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glacierlib_cli.command import Command

__all__ = [
    "COMMANDS",
    "SUMMARIES",
    "available_commands",
    "load_command",
    "module_name",
]

#: Every command of cli.md, in help order: (command name, module name).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("sync", "sync"),
    ("upload-file", "upload_file"),
    ("check-local-hash", "check_local_hash"),
    ("purge-vault", "purge_vault"),
    ("restore", "restore"),
    ("restore-completed", "restore_completed"),
    ("retrieve-inventory", "retrieve_inventory"),
    ("download-inventory", "download_inventory"),
    ("check-remote", "check_remote"),
    ("list-jobs", "list_jobs"),
    ("list-uploads", "list_uploads"),
    ("abort-uploads", "abort_uploads"),
    ("create-vault", "create_vault"),
    ("delete-vault", "delete_vault"),
    ("list-vaults", "list_vaults"),
    ("local-server", "local_server"),
    ("help", "help"),
    ("version", "version"),
    ("completion", "completion"),
)

#: One-line summaries for ``mtglacier help``: kept here so the overview imports no module.
SUMMARIES: dict[str, str] = {
    "sync": "upload new (and modified) files of --dir, delete archives of removed files",
    "upload-file": "upload one file or standard input, tracked in the journal",
    "check-local-hash": "verify local files against the journal (offline)",
    "purge-vault": "delete every archive the journal knows",
    "restore": "initiate retrieval jobs for journal files missing locally",
    "restore-completed": "download the outputs of finished retrieval jobs into --dir",
    "retrieve-inventory": "initiate an inventory-retrieval job",
    "download-inventory": "build a journal from the newest finished inventory",
    "check-remote": "compare the journal with the newest finished inventory",
    "list-jobs": "list the vault's jobs",
    "list-uploads": "list unfinished multipart uploads",
    "abort-uploads": "abort unfinished multipart uploads",
    "create-vault": "create a vault",
    "delete-vault": "delete an (empty) vault",
    "list-vaults": "list the vaults of the account",
    "local-server": "run the built-in Glacier-compatible server in the foreground",
    "help": "show help for mtglacier or a command",
    "version": "show the versions of mtglacier, Python, botocore and attrs",
    "completion": "print a shell completion script (bash, zsh or fish)",
}

_MODULES = dict(COMMANDS)
_PACKAGE = __name__


def module_name(command: str) -> str | None:
    """The full module name of a registered command, None for an unknown command."""
    module = _MODULES.get(command)
    return None if module is None else f"{_PACKAGE}.{module}"


def available_commands() -> list[str]:
    """Registered commands whose module exists, without importing any of them."""
    result = []
    for command, module in COMMANDS:
        if importlib.util.find_spec(f"{_PACKAGE}.{module}") is not None:
            result.append(command)
    return result


def load_command(command: str) -> Command:
    """Import a command's module (only now) and check it; ``CommandUnavailable`` if missing."""
    from glacierlib_cli.command import Command
    from glacierlib_cli.errors import CommandUnavailable

    full = module_name(command)
    if full is None:
        raise KeyError(command)
    try:
        module = importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name != full:
            raise
        raise CommandUnavailable(f"command {command!r} is not available in this build") from None
    return Command.from_module(command, module)
