"""``python -m glacierlib_cli``: the same as the ``mtglacier`` console script."""

from __future__ import annotations

from glacierlib_cli.main import entry_point

if __name__ == "__main__":
    entry_point()
