"""``mtglacier version``: the versions a bug report needs (mtglacier, Python, botocore, attrs).

Versions come from the installed distributions' metadata, so this command imports neither
botocore nor attrs and answers as fast as ``--help``.
"""

from __future__ import annotations

import argparse
import platform
from importlib import metadata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

NAME = "version"
SUMMARY = "show the versions of mtglacier, Python, botocore and attrs"
OPTIONS: tuple[str, ...] = ()
REQUIRED: tuple[str, ...] = ()
NETWORK = False
OK_DONE = False


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def version_lines() -> list[str]:
    from glacierlib import __version__

    return [
        f"mtglacier {__version__}",
        f"python {platform.python_version()} ({platform.python_implementation()})",
        f"botocore {_version('botocore')}",
        f"attrs {_version('attrs')}",
    ]


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    for line in version_lines():
        ui.out(line)
    return 0
