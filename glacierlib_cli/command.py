"""A loaded command: the values a command module declares, checked once against the interface.

The interface itself is described in ``glacierlib_cli.commands``; this module is separate so
that ``mtglacier --help`` (which reads only the registry) does not pay for attrs or argparse.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import attrs

from glacierlib_cli import options as catalogue

if TYPE_CHECKING:
    from glacierlib.config import Settings
    from glacierlib_cli.output import Ui

__all__ = ["Command", "RunFunction"]

RunFunction = Callable[["Settings", argparse.Namespace, "Ui"], int]


@attrs.frozen
class Command:
    """A loaded command module, checked against the interface of ``glacierlib_cli.commands``."""

    name: str
    summary: str
    options: tuple[str, ...]
    required: tuple[str, ...]
    network: bool
    ok_done: bool
    run: RunFunction
    add_arguments: Callable[[argparse.ArgumentParser], None] | None

    @property
    def all_options(self) -> tuple[str, ...]:
        """The options the command accepts: its own, the automatic ones (``--filter-from``
        wherever ``--filter`` is), legacy ones, and the ones accepted only to be ignored with
        a warning."""
        names = list(self.options)
        extra = list(catalogue.COMMON)
        if "filter" in names:  # every command with filters reads them from files too
            extra.append("filter-from")
        if self.network:
            extra += catalogue.CONNECTION
        extra += catalogue.LEGACY
        extra += catalogue.DEPRECATED_FOR_COMMAND.get(self.name, ())
        for name in extra:
            if name not in names:
                names.append(name)
        return tuple(names)

    @classmethod
    def from_module(cls, command: str, module: ModuleType) -> Command:
        """Check a module against the interface; a mistake is a programming error."""

        def need(attr: str, kind: type | tuple[type, ...]) -> Any:
            value = getattr(module, attr, None)
            if not isinstance(value, kind):
                raise TypeError(f"command module {module.__name__} lacks a valid {attr}")
            return value

        name = need("NAME", str)
        if name != command:
            raise TypeError(f"command module {module.__name__} says NAME={name!r}, "
                            f"registered as {command!r}")
        opts = tuple(need("OPTIONS", tuple))
        required = tuple(need("REQUIRED", tuple))
        for entry in opts:
            catalogue.by_name(entry)  # KeyError names an option missing from the catalogue
        for entry in required:
            for alternative in entry.split("|"):
                if alternative not in opts:
                    raise TypeError(f"{module.__name__}: REQUIRED {alternative!r} is not in "
                                    "OPTIONS")
        run = getattr(module, "run", None)
        add_arguments = getattr(module, "add_arguments", None)
        if not callable(run) or (add_arguments is not None and not callable(add_arguments)):
            raise TypeError(f"command module {module.__name__} lacks run()")
        return cls(
            name=name,
            summary=need("SUMMARY", str),
            options=opts,
            required=required,
            network=bool(getattr(module, "NETWORK", True)),
            ok_done=bool(getattr(module, "OK_DONE", True)),
            run=run,
            add_arguments=add_arguments,
        )
