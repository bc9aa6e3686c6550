"""The one option catalogue of mtglacier: every option of ``cli.md``, its kind and help text.

A command module lists the option *names* it uses (``OPTIONS``); this catalogue turns them into
argparse arguments, so an option means the same on every command, and a name can be resolved
(exact, unique prefix, deprecated alias) before the command is even known, which is what lets
options stand before the command. Values stay strings here: ``glacierlib.config`` converts and
validates them, the same way it does for config-file values, so a bad ``--partsize`` and a bad
``partsize=`` line get the same rule and the same message.

Kinds:

* ``value``: ``--name VALUE`` or ``--name=VALUE``;
* ``flag``: ``--name`` (True);
* ``list``: repeatable rules kept in command-line order with the other list options
  (``--filter``/``--include``/``--exclude`` share one ordered list);
* ``switch``: ``--name`` / ``--no-name`` (``--fsync``).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

__all__ = [
    "CATALOGUE",
    "COMMON",
    "CONNECTION",
    "DEPRECATED_FOR_COMMAND",
    "LEGACY",
    "CommandParser",
    "Option",
    "add_options",
    "by_name",
    "dest_of",
    "lookup_token",
    "refuse_option_as_value",
    "unknown_option",
]


def _check_kind(_i: object, _a: object, value: str) -> None:
    if value not in ("value", "flag", "list", "switch"):
        raise ValueError(f"unknown option kind {value!r}")


@attrs.frozen
class Option:
    """One command-line option; ``settings`` says whether it flows into ``Settings``."""

    name: str
    kind: str = attrs.field(validator=_check_kind)
    help: str
    metavar: str | None = None
    aliases: tuple[str, ...] = ()
    settings: bool = True

    @property
    def takes_value(self) -> bool:
        return self.kind in ("value", "list")


def _v(name: str, metavar: str, text: str, **kw: Any) -> Option:
    return Option(name, "value", text, metavar, **kw)


def _f(name: str, text: str, **kw: Any) -> Option:
    return Option(name, "flag", text, **kw)


CATALOGUE: tuple[Option, ...] = (
    # Connection
    _v("config", "FILE", "config file in mt-aws-glacier format (name=value, # comments)",
       settings=False),
    _v("key", "KEY", "AWS access key id (default: botocore's credential chain)"),
    _v("secret", "SECRET", "AWS secret access key (prefer a config file with mode 600)"),
    _v("token", "TOKEN", "AWS session token for temporary credentials"),
    _v("profile", "NAME", "AWS profile from ~/.aws/config and ~/.aws/credentials"),
    _v("region", "REGION", "AWS region (default: from the profile or AWS_DEFAULT_REGION)"),
    _v("endpoint-url", "URL", "use this Glacier-compatible endpoint instead of AWS"),
    _v("local", "DIR", "run the built-in Glacier server in-process, storing vaults under DIR; "
                       "no AWS account needed"),
    _v("protocol", "https|http", "protocol for the AWS endpoint (default: https)"),
    _v("timeout", "SECONDS", "socket inactivity timeout per request (default: 180)"),
    _v("retry-timeout", "DURATION", "keep retrying a request that fails with a transient error "
                                    "(5xx, 408, throttling, broken connection) for this long: "
                                    "900 or 90s, 15m, 2h; 0 = no retries (default: 15m)"),
    _v("max-attempts", "N", "also cap the attempts per request; 0 = no cap (default: "
                            "AWS_MAX_ATTEMPTS or the profile's max_attempts, else no cap)"),
    _f("quiet", "print only errors, warnings and results"),
    _f("verbose", "print every file and retry; tracebacks on errors"),
    # Where and what
    _v("vault", "NAME", "vault name", aliases=("to-vault",)),
    _v("journal", "FILE", "journal file (mt-aws-glacier format)"),
    _v("new-journal", "FILE", "journal file to create from the inventory (absent or empty)"),
    _v("dir", "DIR", "local directory", aliases=("from-dir", "to-dir")),
    _v("filename", "FILE", "the file to upload"),
    _v("set-rel-filename", "REL", "name of the upload in the journal (relative path)"),
    _f("stdin", "upload standard input"),
    _v("check-max-file-size", "MiB", "upper bound of the size of standard input, in MiB"),
    # Transfer
    _v("concurrency", "N", "parallel requests, 1..64 (default: 4)"),
    _v("partsize", "MiB", "multipart part size, power of two 1..4096 (default: 16; "
                          "raised automatically for files that need more than 10,000 parts)"),
    _v("segment-size", "MiB", "download in ranges of this size (power of two); "
                              "0 = whole archive per request"),
    _f("dry-run", "print what would be done; touch neither the network nor the journal"),
    Option("filter", "list", "filter rules, e.g. '+*.jpg -'; first match wins", "RULES"),
    Option("include", "list", "include files matching PATTERN", "PATTERN"),
    Option("exclude", "list", "exclude files matching PATTERN", "PATTERN"),
    Option("filter-from", "list", "read filter rules from FILE: one '+PATTERN' or '-PATTERN' "
                                  "per line, '#' comments", "FILE"),
    _f("new", "upload new files (the default sync mode)"),
    _f("replace-modified", "upload modified files again (see --detect)"),
    _f("delete-removed", "delete archives of files removed locally"),
    _v("detect", "MODE", "how --replace-modified detects changes: treehash, mtime, "
                         "mtime-and-treehash (default), mtime-or-treehash, always-positive, "
                         "size-only"),
    _v("max-number-of-files", "N", "act on at most N files"),
    _v("max-size", "SIZE", "retrieve at most this many bytes, e.g. 500M, 20G"),
    _v("tier", "TIER", "retrieval tier: Expedited, Standard (default) or Bulk"),
    _v("sns-topic", "ARN", "notify this SNS topic when the job completes"),
    _v("request-inventory-format", "json|csv", "inventory format (default: json)"),
    _v("format", "FORMAT",
       "output format: for-humans (default), json (one JSON report and nothing else; "
       "docs/json-report.md) or mtmsg (list commands)"),
    _f("follow", "follow symbolic links while walking --dir"),
    Option("fsync", "switch", "fsync the journal after every record (default: on)"),
    _f("multipart-only", "upload small files with a multipart upload too (three requests "
                         "instead of one): a retry after a lost reply then never stores a "
                         "second copy"),
    # local-server
    _v("data-dir", "DIR", "directory where the local server keeps its vaults", settings=False),
    _v("port", "PORT", "TCP port (default: 0, a free port)", settings=False),
    _v("host", "ADDRESS", "address to listen on (default: 127.0.0.1)", settings=False),
    Option("allow-remote", "flag", "let --host be an address other machines can reach (the "
           "server's keys are public: anyone who reaches it can use its vaults)",
           settings=False),
    _v("job-delay", "SECONDS", "seconds before a job completes (default: 0)", settings=False),
    # mt-aws-glacier options that are accepted and ignored
    _v("terminal-encoding", "ENC", "ignored: mtglacier always uses UTF-8"),
    _v("config-encoding", "ENC", "ignored: mtglacier always uses UTF-8"),
    _v("filenames-encoding", "ENC", "ignored: mtglacier always uses UTF-8"),
    _v("journal-encoding", "ENC", "ignored: mtglacier always uses UTF-8"),
    _v("leaf-optimization", "0|1", "ignored: mtglacier does not rely on link counts"),
)

_BY_NAME = {option.name: option for option in CATALOGUE}

#: Options of every command that talks to Glacier (added automatically unless NETWORK = False).
CONNECTION = ("key", "secret", "token", "profile", "region", "endpoint-url", "local",
              "protocol", "timeout", "retry-timeout", "max-attempts")
#: Options of every command.
COMMON = ("config", "quiet", "verbose")
#: mt-aws-glacier options accepted by every command for old scripts, and ignored.
LEGACY = ("terminal-encoding", "config-encoding", "filenames-encoding", "journal-encoding",
          "leaf-optimization")
#: Options mt-aws-glacier accepted on a command that never used them: still accepted there,
#: with a warning, and ignored.
DEPRECATED_FOR_COMMAND: dict[str, tuple[str, ...]] = {
    "purge-vault": ("dir",),
    "check-local-hash": ("vault",),
}

#: Every spelling -> (canonical option, deprecated alias used or None, value for a switch).
_SPELLINGS: dict[str, tuple[Option, str | None]] = {}
for _option in CATALOGUE:
    _SPELLINGS[_option.name] = (_option, None)
    for _alias in _option.aliases:
        _SPELLINGS[_alias] = (_option, _alias)
    if _option.kind == "switch":
        _SPELLINGS["no-" + _option.name] = (_option, None)


def by_name(name: str) -> Option:
    """The catalogue entry for an option name; KeyError for a name not in the catalogue."""
    return _BY_NAME[name]


def dest_of(name: str) -> str:
    """The argparse ``dest`` of an option: the name with underscores."""
    return name.replace("-", "_")


def lookup_token(name: str, allowed: Iterable[str] | None = None) -> list[str]:
    """Spellings that ``name`` (without dashes) can mean: an exact match, else every spelling it
    is a prefix of, restricted to ``allowed`` spellings when given."""
    pool = list(_SPELLINGS) if allowed is None else list(allowed)
    if name in pool:
        return [name]
    return [s for s in pool if s.startswith(name)]


def spelling(name: str) -> tuple[Option, str | None] | None:
    """The option (and the deprecated alias, if one was used) for a full spelling."""
    return _SPELLINGS.get(name)


def spellings_of(names: Sequence[str]) -> list[str]:
    """All spellings (names, aliases, ``no-`` forms) of the given options."""
    result: list[str] = []
    for name in names:
        option = _BY_NAME[name]
        result.append(name)
        result.extend(option.aliases)
        if option.kind == "switch":
            result.append("no-" + name)
    return result


class _AppendRule(argparse.Action):
    """Append ``(option name, value)`` to one shared list so filter rules keep their order."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        rules = list(getattr(namespace, "filters", None) or [])
        rules.append((self.metavar_name, str(values)))
        namespace.filters = rules

    metavar_name = ""


def add_options(parser: argparse.ArgumentParser, names: Sequence[str]) -> None:
    """Add catalogue options to a parser; nothing given means absent from the namespace.

    Legacy options are accepted but left out of the help text: nobody should start using them.
    """
    for name in names:
        option = _BY_NAME[name]
        flags = [f"--{name}"]
        text = argparse.SUPPRESS if name in LEGACY else option.help
        if option.kind == "value":
            parser.add_argument(*flags, dest=dest_of(name), metavar=option.metavar,
                                help=text, default=argparse.SUPPRESS)
        elif option.kind == "flag":
            parser.add_argument(*flags, dest=dest_of(name), action="store_true",
                                help=text, default=argparse.SUPPRESS)
        elif option.kind == "switch":
            parser.add_argument(*flags, dest=dest_of(name),
                                action=argparse.BooleanOptionalAction,
                                help=text, default=argparse.SUPPRESS)
        else:
            action = type(f"_Append_{dest_of(name)}", (_AppendRule,), {"metavar_name": name})
            parser.add_argument(*flags, dest="filters", metavar=option.metavar,
                                action=action, help=text + " (repeatable)",
                                default=argparse.SUPPRESS)


# ---------------------------------------------------------------------------------------------
# Errors about what was typed: never echo what may be a secret, suggest what was meant


def _shown(text: str) -> str:
    """A piece of the command line for an error message, masked when it may be a secret."""
    from glacierlib.config import masked, may_be_secret

    return masked(text) if may_be_secret(text) else text


def unknown_option(arg: str, known: Iterable[str], command: str) -> Exception:
    """The error for an option the command does not know: "did you mean" a close one."""
    import difflib

    from glacierlib_cli.errors import UsageError

    typed = arg.split("=", maxsplit=1)[0]
    name = typed.lstrip("-")
    close = difflib.get_close_matches(name, [k for k in known if k not in LEGACY], n=1,
                                      cutoff=0.7)
    hint = f"did you mean --{close[0]}?" if close else f"see mtglacier {command} --help"
    from glacierlib.config import masked, may_be_secret

    # Option names are lower case: anything else (a key or secret typed after "--") is masked.
    plain = re.fullmatch(r"--?[a-z][a-z0-9-]{0,39}", typed) is not None
    shown = repr(typed) if plain or not may_be_secret(typed) else masked(typed)
    return UsageError(f"unknown option {shown} for command {command}", hint=hint)


def looks_like_option(value: str) -> bool:
    """A value that is surely an option the user forgot a value before: ``--anything``, or
    ``-name`` for a full option name (``-region``, mt-aws-glacier's single-dash form)."""
    if value.startswith("--"):
        return True
    return value.startswith("-") and spelling(value[1:].partition("=")[0]) is not None


def refuse_option_as_value(option: str, value: str) -> None:
    """``--token --region us-east-1`` must not make ``--region`` the token: refuse, naming
    the option; ``--option=VALUE`` remains the way to give a value that starts with ``--``."""
    if looks_like_option(value):
        from glacierlib_cli.errors import UsageError

        raise UsageError(f"option --{option} needs a value, but the option "
                         f"{_shown(value.partition('=')[0])} follows it",
                         hint=f"write --{option}=VALUE if the value really starts with '-'")


class CommandParser(argparse.ArgumentParser):
    """The parser of one command: its usage line shows mandatory options as mandatory, and
    stray arguments are reported masked (a secret typed without its option lands there)."""

    def __init__(self, *args: Any, required_options: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.required_options = tuple(required_options)

    def format_usage(self) -> str:
        self.usage = self.usage_line()
        return super().format_usage()

    def format_help(self) -> str:
        self.usage = self.usage_line()
        return super().format_help()

    def usage_line(self) -> str:
        """``PROG --dir DIR --vault NAME (--a A | --b B) [options] POSITIONALS``."""
        parts = [self.prog]
        for entry in self.required_options:
            alternatives = []
            for name in entry.split("|"):
                option = _BY_NAME[name]
                alternatives.append(f"--{name} {option.metavar}" if option.takes_value
                                    else f"--{name}")
            parts.append(alternatives[0] if len(alternatives) == 1
                         else "(" + " | ".join(alternatives) + ")")
        parts.append("[options]")
        for action in self._actions:
            if action.option_strings:
                continue
            metavar = action.metavar if isinstance(action.metavar, str) else action.dest
            if action.nargs == "?":
                parts.append(f"[{metavar}]")
            elif action.nargs in ("*", "+"):
                parts.append(f"[{metavar} ...]" if action.nargs == "*" else f"{metavar} ...")
            else:
                parts.append(metavar)
        return " ".join(parts)

    def parse_intermixed_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None,
    ) -> argparse.Namespace:
        parsed, extras = self.parse_known_intermixed_args(args, namespace)
        if extras:
            self.error("unrecognized arguments: " + " ".join(_shown(e) for e in extras))
        return parsed
