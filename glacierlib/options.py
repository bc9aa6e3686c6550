"""``glacierlib.settings(...)``: a ``Settings`` from typed keyword arguments that mypy checks.

:func:`~glacierlib.config.resolve_settings` takes option names as strings, the way the
command line spells them, so ``{"valt": ...}`` or ``{"detect": "mtime-and-treehas"}`` is found
only when the script runs (at 3 a.m., in cron). :func:`settings` takes the same options as
keyword-only parameters with real types and ``Literal`` enumerations, so a type checker finds
both mistakes before the script ever runs.

It is a front end to ``resolve_settings``, not a second copy of its rules: the keywords given
become that function's command-line mapping, so the defaults, the implied ``new``, the
``detect`` check, the units and every validator are the command line's. Sizes are in MiB where
the CLI counts MiB, and the parameter name says so (``part_size_mib``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Literal

from glacierlib.config import OPTION_FIELDS, Settings, load_config, resolve_settings
from glacierlib.exceptions import ConfigError, InvalidSetting

__all__ = ["Detect", "FilterKind", "InventoryFormat", "Scheme", "Tier", "settings"]

#: How ``replace_modified`` decides a file changed (``--detect``).
Detect = Literal["treehash", "mtime", "mtime-and-treehash", "mtime-or-treehash",
                 "always-positive", "size-only"]
#: Retrieval speed and price (``--tier``).
Tier = Literal["Expedited", "Standard", "Bulk"]
#: The endpoint scheme when no ``endpoint_url`` is given (``--protocol``).
Scheme = Literal["https", "http"]
#: The body format of inventory retrieval jobs (``--request-inventory-format``).
InventoryFormat = Literal["json", "csv"]
#: A filter rule's kind: ``("exclude", "*.tmp")`` is ``--exclude '*.tmp'``;
#: ``("filter-from", "rules.txt")`` reads the rules of a file.
FilterKind = Literal["filter", "include", "exclude", "filter-from"]

_PathArg = str | os.PathLike[str]

#: Options of the command line's output only; they mean nothing to a library caller.
OUTPUT_ONLY = frozenset({"format", "quiet", "verbose"})
#: The keywords counting MiB, as their options do; their ``Settings`` fields hold bytes.
MIB_KEYWORDS = frozenset({"part_size_mib", "segment_size_mib", "check_max_file_size_mib"})
#: Keyword -> command-line option (``part_size_mib`` -> ``partsize``, ``local_dir`` -> ``local``).
OPTION_OF = {
    (field + "_mib" if field + "_mib" in MIB_KEYWORDS else field): option
    for option, field in OPTION_FIELDS.items() if option not in OUTPUT_ONLY
}
_KEYWORD_OF = {option: keyword for keyword, option in OPTION_OF.items()}
_OPTION_RE = re.compile(r"--([a-z][a-z-]*)")


def _in_keywords(text: str) -> str:
    """Say ``part_size_mib`` where ``resolve_settings`` said ``--partsize``."""
    return _OPTION_RE.sub(lambda m: _KEYWORD_OF.get(m.group(1), m.group(0)), text)


def settings(
    *,
    vault: str | None = None,
    dir: _PathArg | None = None,
    journal: _PathArg | None = None,
    new_journal: _PathArg | None = None,
    filename: _PathArg | None = None,
    set_rel_filename: str | None = None,
    stdin: bool | None = None,
    region: str | None = None,
    profile: str | None = None,
    endpoint_url: str | None = None,
    local_dir: _PathArg | None = None,
    protocol: Scheme | None = None,
    timeout: int | None = None,
    retry_timeout: float | str | None = None,
    max_attempts: int | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    session_token: str | None = None,
    concurrency: int | None = None,
    part_size_mib: int | None = None,
    segment_size_mib: int | None = None,
    check_max_file_size_mib: int | None = None,
    new: bool | None = None,
    replace_modified: bool | None = None,
    delete_removed: bool | None = None,
    detect: Detect | None = None,
    max_number_of_files: int | None = None,
    max_size: int | str | None = None,
    tier: Tier | None = None,
    sns_topic: str | None = None,
    request_inventory_format: InventoryFormat | None = None,
    dry_run: bool | None = None,
    follow: bool | None = None,
    fsync: bool | None = None,
    multipart_only: bool | None = None,
    filters: Sequence[tuple[FilterKind, str]] = (),
    config: _PathArg | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """A validated ``Settings``; each keyword is the command-line option of the same name.

    A keyword left at ``None`` is not given: the value comes from the ``config`` file (the
    mt-aws-glacier format of ``mtglacier --config``) if it sets it, else the CLI's default
    (``concurrency`` 4, ``part_size_mib`` 16, ``detect="mtime-and-treehash"``,
    ``tier="Standard"``, ``protocol="https"``, ``timeout`` 180 s, ``fsync=True``, ...). As on
    the command line, ``new`` is implied when none of ``new``, ``replace_modified`` and
    ``delete_removed`` is given.

    Units: ``part_size_mib``, ``segment_size_mib`` and ``check_max_file_size_mib`` count MiB
    (the ``Settings`` fields ``part_size``... hold bytes); ``max_size`` is bytes or a string
    such as ``"20G"``; ``timeout`` is seconds; ``retry_timeout`` seconds or a string such as
    ``"15m"`` (``max_attempts`` 0: no cap on attempts, only that budget). ``filters`` are
    ``(kind, pattern)`` rules in command-line order. ``environ`` is consulted like the CLI's
    environment (region and profile only); by default nothing is, and botocore reads ``AWS_*``
    itself as usual.

    A bad value raises :class:`~glacierlib.exceptions.InvalidSetting` (a ``ConfigError``)
    naming the keyword, in the keyword's unit; a bad config file line, ``ConfigError`` naming
    the file and line.
    """
    given = {name: value for name, value in locals().items()
             if value is not None and name not in ("filters", "config", "environ")}
    cli: dict[str, object] = {OPTION_OF[name]: value for name, value in given.items()}
    if filters:
        cli["filters"] = list(filters)
    config_values: Mapping[str, str] = {}
    if config is not None:
        config_values, _warnings = load_config(config)  # a permission warning is logged
    try:
        return resolve_settings(cli, config_values, environ if environ is not None else {},
                                config_path=config)
    except ConfigError as exc:
        if exc.path is not None:  # a config file line: its own words are the right ones
            raise
        message = _in_keywords(exc.message)
        field = next((name for name in given if message.startswith(f"{name}: ")), None)
        raise InvalidSetting(message, field=field,
                             hint=_in_keywords(exc.hint) if exc.hint else None) from None
