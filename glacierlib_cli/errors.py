"""Errors of the command line itself (as opposed to the library's).

``UsageError`` is a ``ConfigError``: both mean "the user must change what they typed or
configured", so both exit with 2 through the one table in ``glacierlib_cli.main``. A command
module raises it when an option combination is wrong (e.g. upload-file's alternatives).
"""

from __future__ import annotations

from glacierlib.exceptions import ConfigError

__all__ = ["CommandUnavailable", "UsageError"]


class UsageError(ConfigError):
    """A bad command line: unknown or misplaced option, missing mandatory option, bad value."""


class CommandUnavailable(UsageError):
    """A registered command whose module is not part of this build (yet)."""
