"""Placeholder entry point; replaced by the full command framework."""

from __future__ import annotations

import sys

from glacierlib import __version__


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in ("version", "--version"):
        print(f"mtglacier {__version__}")
        return 0
    print("usage: mtglacier COMMAND [options]", file=sys.stderr)
    return 2


def entry_point() -> None:
    sys.exit(main())
