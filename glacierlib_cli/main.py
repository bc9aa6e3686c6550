"""mtglacier's entry point: parse, resolve settings, run one command, map errors to exit codes.

The parsing rules are mt-aws-glacier's (``cli.md``): options may stand before or after the
command; unique prefixes of long options are accepted, with one or two dashes;
``--opt value`` and ``--opt=value`` both work; deprecated aliases warn. argparse does the final
parse, but names are resolved here first against the *command's* options so that an option the
command does not use is refused with a message naming it, whatever spelling was typed.

``EXIT_CODES`` below is the only place that turns exceptions into exit codes. SIGTERM and
SIGHUP (``systemctl stop``, ``docker stop``, ``timeout``, a closed terminal) stop a run the way
Ctrl-C does: the handlers installed around the command raise :class:`Terminated` /
:class:`HungUp` (both ``KeyboardInterrupt``) in the main thread, so no new work starts, work in
flight finishes and is journaled, and the exit code is 128 + the signal number. The library
never installs a signal handler; this is the CLI's decision. ``mtglacier
--help`` must answer quickly: nothing here imports the library, attrs or botocore before it is
needed, and command modules are imported only when that command runs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

from glacierlib_cli import commands as registry
from glacierlib_cli.exitcodes import ExitCode

if TYPE_CHECKING:
    import argparse
    import logging

    from glacierlib.config import Settings
    from glacierlib_cli.command import Command
    from glacierlib_cli.output import Ui

__all__ = ["HungUp", "Terminated", "build_parser", "entry_point", "exit_code_for", "main",
           "top_level_help"]

PROG = "mtglacier"
_HELP_WORDS = ("help", "h", "-h", "--help", "-help")
_VERSION_WORDS = ("--version", "-version")


class StopSignal(KeyboardInterrupt):
    """A stop asked for by a signal: handled everywhere exactly like Ctrl-C's interrupt."""

    signal_name = "SIGINT"


class Terminated(StopSignal):
    """SIGTERM (``systemctl stop``, ``docker stop``, ``timeout``, ``kill``): exit 143."""

    signal_name = "SIGTERM"


class HungUp(StopSignal):
    """SIGHUP (the terminal or SSH session went away): exit 129."""

    signal_name = "SIGHUP"


@contextmanager
def _stop_on_signals(*, restore: bool = True) -> Iterator[None]:
    """While the command runs, turn SIGTERM and SIGHUP into :class:`StopSignal` exceptions.

    Only the first such signal raises: a second one must not break the wait for the requests
    in flight, whose archives are being journaled. A signal the parent set to be ignored
    (``nohup`` ignores SIGHUP) stays ignored. Outside the main thread nothing is installed.
    Without ``restore`` (the console script, about to exit) the handlers stay, ignoring any
    later stop: a run that has finished its work must not then die by the default action.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    raised: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        if raised:
            return
        raised.append(signum)
        raise Terminated() if signum == signal.SIGTERM else HungUp()

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        if restore:
            for sig, old in previous.items():
                signal.signal(sig, old)
        else:
            raised.append(0)


def _exit_code_table() -> tuple[tuple[type[BaseException], ExitCode], ...]:
    """THE table from exception class to exit code; the first matching row wins.

    Built on first use so ``--help`` never imports the library.
    """
    from glacierlib.exceptions import (
        ConfigError,
        GlacierlibError,
        JournalError,
        NothingReadyYet,
    )
    from glacierlib.unrecorded import JournalWriteError

    return (
        (Terminated, ExitCode.TERMINATED),
        (HungUp, ExitCode.HANGUP),
        (KeyboardInterrupt, ExitCode.INTERRUPTED),
        (NothingReadyYet, ExitCode.NOT_READY),
        (ConfigError, ExitCode.USAGE),  # includes glacierlib_cli.errors.UsageError
        (JournalWriteError, ExitCode.FAILURE),  # a full disk is no usage error
        (JournalError, ExitCode.USAGE),
        (GlacierlibError, ExitCode.FAILURE),
        (Exception, ExitCode.FAILURE),
    )


def exit_code_for(exc: BaseException) -> ExitCode:
    """The exit code of a run that ended with ``exc``."""
    for cls, code in _exit_code_table():
        if isinstance(exc, cls):
            return code
    return ExitCode.FAILURE


# ---------------------------------------------------------------------------------------------
# Help


def top_level_help() -> str:
    """The overview: every command whose module exists, without importing any of them."""
    present = set(registry.available_commands())
    width = max(len(name) for name, _ in registry.COMMANDS)
    lines = [
        f"usage: {PROG} COMMAND [ARGUMENTS] [--option VALUE | --option=VALUE | --flag] ...",
        "",
        "Amazon Glacier vaults, multithreaded multipart sync; compatible with mt-aws-glacier.",
        "",
        "commands:",
    ]
    for name, _module in registry.COMMANDS:
        if name in present:
            lines.append(f"  {name:<{width}}  {registry.SUMMARIES.get(name, '')}")
    lines += [
        "",
        f"Run '{PROG} COMMAND --help' for the options of a command.",
        "Options may stand before or after the command; unique prefixes of long options work.",
        "Precedence: command line > config file (--config) > environment / AWS profile > default.",
        "Exit codes: 0 success, 1 failure, 2 usage or configuration error, "
        "66 no retrieval job, 75 nothing ready yet, 130 interrupted (129 SIGHUP, 143 SIGTERM).",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Parsing


def _usage_error(message: str, hint: str | None = None) -> Exception:
    from glacierlib_cli.errors import UsageError

    return UsageError(message, hint=hint)


def _split_command(argv: Sequence[str]) -> tuple[str | None, list[str]]:
    """Find the command among the arguments (options may come first) and return the rest.

    An option before the command is looked up in the whole catalogue to know whether the next
    argument is its value; unknown options are left for the command's parser to judge.
    """
    from glacierlib_cli import options

    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            if i + 1 < len(argv):
                return argv[i + 1], [*rest, "--", *argv[i + 2:]]
            break
        if arg.startswith("-") and len(arg) > 1:
            rest.append(arg)
            body = arg[2:] if arg.startswith("--") else arg[1:]
            name, eq, _value = body.partition("=")
            matches = options.lookup_token(name)
            found = options.spelling(matches[0]) if len(matches) == 1 else None
            if (found is not None and found[0].takes_value and not eq and i + 1 < len(argv)
                    and not options.looks_like_option(argv[i + 1])):
                rest.append(argv[i + 1])
                i += 1
            i += 1
            continue
        return arg, rest + list(argv[i + 1:])
    return None, rest


def build_parser(command: Command) -> argparse.ArgumentParser:
    """The argparse parser of one command: its catalogue options plus its own arguments."""
    from glacierlib_cli import options

    class _Parser(options.CommandParser):
        def error(self, message: str) -> NoReturn:
            raise _usage_error(f"{command.name}: {message}")

    parser = _Parser(
        prog=f"{PROG} {command.name}",
        required_options=command.required,
        description=command.summary,
        allow_abbrev=False,  # prefixes are resolved by _normalise_tokens, with better errors
        add_help=True,
    )
    own = [n for n in command.options]
    automatic = [n for n in command.all_options if n not in own]
    options.add_options(parser, own)
    if command.add_arguments is not None:
        command.add_arguments(parser)
    group = parser.add_argument_group("common options")
    options.add_options(group, automatic)  # type: ignore[arg-type]
    return parser


def _normalise_tokens(
    tokens: Sequence[str], command: Command, parser: argparse.ArgumentParser,
    warnings: list[str],
) -> tuple[list[str], bool]:
    """Resolve every option spelling against the command's options; refuse the others.

    Returns the tokens rewritten to ``--canonical`` / ``--canonical=value`` (so argparse never
    mistakes a value for an option) and whether help was asked for.
    """
    from glacierlib_cli import options

    accepted = {s[2:] for s in parser._option_string_actions if s.startswith("--")}
    known = sorted(accepted | set(options.spellings_of(
        [n for n in command.all_options if n in accepted])))
    ignored = options.DEPRECATED_FOR_COMMAND.get(command.name, ())
    out: list[str] = []
    help_requested = False
    i = 0
    positional_only = False
    while i < len(tokens):
        arg = tokens[i]
        i += 1
        if positional_only or arg == "-" or not arg.startswith("-"):
            out.append(arg)
            continue
        if arg == "--":
            positional_only = True
            out.append(arg)
            continue
        if arg in ("-h", "--help", "-help"):
            help_requested = True
            continue
        body = arg[2:] if arg.startswith("--") else arg[1:]
        name, eq, value = body.partition("=")
        # Legacy options only by their full name: --jour must not become --journal-encoding.
        matches = options.lookup_token(name, [k for k in known if k not in options.LEGACY])
        if name in known:
            matches = [name]
        exact = options.spelling(name)
        if exact is not None and name not in known:
            # A full option name of another command wins over being a prefix of one of ours
            # (--journal is not --journal-encoding).
            matches = []
        if not matches:
            elsewhere = [m for m in options.lookup_token(name) if m not in options.LEGACY]
            owners = {options.spelling(m)[0].name for m in elsewhere}  # type: ignore[index]
            if len(owners) == 1:
                owner = owners.pop()
                raise _usage_error(f"option --{owner} is not used by command {command.name}")
            raise options.unknown_option(arg, known, command.name)
        if len(matches) > 1:
            raise _usage_error(f"ambiguous option {arg.split('=')[0]!r}: could be "
                               + ", ".join("--" + m for m in matches))
        spelled = matches[0]
        found = options.spelling(spelled)
        canonical = spelled
        if found is not None:
            option, alias = found
            if alias is not None:
                warnings.append(f"--{alias} is deprecated, use --{option.name}")
                canonical = option.name
        action = parser._option_string_actions[f"--{canonical}"]
        takes_value = action.nargs != 0
        if takes_value and not eq:
            if i >= len(tokens):
                raise _usage_error(f"option --{canonical} needs a value")
            value = tokens[i]
            options.refuse_option_as_value(canonical, value)
            i += 1
        elif not takes_value and eq:
            raise _usage_error(f"option --{canonical} takes no value")
        base = found[0].name if found is not None else canonical
        if base in ignored:
            warnings.append(f"--{base} is deprecated for {command.name} and ignored")
            continue
        out.append(f"--{canonical}={value}" if takes_value else f"--{canonical}")
    return out, help_requested


def _settings_for(
    command: Command, args: argparse.Namespace, ui: Ui, warnings: list[str],
) -> Settings:
    """Merge the command line, the config file and the environment into ``Settings``."""
    from glacierlib import config
    from glacierlib_cli import options

    cli: dict[str, object] = {}
    for name in command.all_options:
        option = options.by_name(name)
        if not option.settings:
            continue
        if option.kind == "list":
            continue
        dest = options.dest_of(name)
        if hasattr(args, dest):
            cli[name] = getattr(args, dest)
    if getattr(args, "filters", None):
        cli["filters"] = list(args.filters)

    file_values = config.ConfigValues()
    config_path = getattr(args, "config", None)
    if config_path is not None:
        values, file_warnings = config.load_config(config_path)
        warnings.extend(file_warnings)
        # Values for options this command does not use are ignored, as in mt-aws-glacier.
        file_values = values.only(command.all_options)
    settings = config.resolve_settings(cli, file_values, os.environ, config_path=config_path)
    warnings.extend(settings.warnings)

    missing = []
    for entry in command.required:
        alternatives = entry.split("|")
        if not any(_is_set(name, settings, args) for name in alternatives):
            missing.append(" or ".join(f"--{name}" for name in alternatives))
    if missing:
        raise _usage_error(f"{command.name}: missing mandatory option"
                           f"{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    return settings


def _is_set(name: str, settings: Settings, args: argparse.Namespace) -> bool:
    from glacierlib import config
    from glacierlib_cli import options

    field = config.OPTION_FIELDS.get(name)
    if field is not None and options.by_name(name).settings:
        value = getattr(settings, field)
        return value is not None and value is not False
    return hasattr(args, options.dest_of(name))


# ---------------------------------------------------------------------------------------------
# Running


def _log_handler(ui: Ui) -> logging.Handler:
    """A handler showing library log records through the Ui (warnings always, debug records
    with --verbose); built on demand so ``--help`` does not import logging."""
    import logging

    class UiLogHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if getattr(record, "returned_to_caller", False):
                return  # the caller prints the returned warning itself
            message = record.getMessage()
            if record.levelno >= logging.ERROR:
                ui.error(message)
            elif record.levelno >= logging.WARNING:
                ui.warn(message)
            else:
                ui.debug(f"{record.name}: {message}")

    return UiLogHandler(logging.DEBUG if ui.verbose else logging.WARNING)


def _run(argv: Sequence[str], ui: Ui, state: dict[str, bool]) -> int:
    if not argv:
        ui.err(f"usage: {PROG} COMMAND [options]; see '{PROG} help'")
        return ExitCode.USAGE
    if argv[0].lower() in _HELP_WORDS and len(argv) == 1:
        ui.out(top_level_help())
        return ExitCode.OK
    if argv[0] in _HELP_WORDS:
        argv = ["help", *argv[1:]]
    elif argv[0] in _VERSION_WORDS:
        argv = ["version", *argv[1:]]

    name, rest = _split_command(argv)
    if name is None:
        if any(t in ("-h", "--help") for t in rest):
            ui.out(top_level_help())
            return ExitCode.OK
        raise _usage_error("no command given", hint=f"see '{PROG} help'")
    if registry.module_name(name) is None:
        import difflib

        close = difflib.get_close_matches(name, [c for c, _ in registry.COMMANDS], n=1)
        from glacierlib.config import masked

        raise _usage_error(f"unknown command {masked(name)}",
                           hint=f"did you mean {close[0]}?" if close else f"see '{PROG} help'")

    command = registry.load_command(name)
    parser = build_parser(command)
    warnings: list[str] = []
    tokens, help_requested = _normalise_tokens(rest, command, parser, warnings)
    if help_requested:
        ui.out(parser.format_help().rstrip("\n"))
        return ExitCode.OK
    state["verbose"] = "--verbose" in tokens
    args = parser.parse_intermixed_args(tokens)
    settings = _settings_for(command, args, ui, warnings)
    ui.configure(quiet=settings.quiet, verbose=settings.verbose,
                 json=settings.format == "json" and "format" in command.options,
                 command=command.name)
    state["verbose"] = settings.verbose
    for warning in warnings:
        ui.warn(warning)

    import logging

    from glacierlib.wrappers.redaction import install_secret_redaction

    handler = _log_handler(ui)
    # Redact on the handler too, so records from loggers created later (botocore makes some
    # lazily) cannot carry a secret, token or signature to the terminal.
    install_secret_redaction([settings.secret_key, settings.session_token], handlers=[handler])
    root = logging.getLogger()
    library = logging.getLogger("glacierlib")
    old_level = library.level
    root.addHandler(handler)
    if settings.verbose:
        library.setLevel(logging.DEBUG)
    try:
        code = command.run(settings, args, ui)
    finally:
        root.removeHandler(handler)
        library.setLevel(old_level)
        ui.close()
    # ``--format json`` output stays one parseable JSON document: success is the exit code.
    if ui.json:
        _json_report(ui, code, None)
    elif code == ExitCode.OK and command.ok_done:
        ui.done()
    return int(code)


def main(argv: Sequence[str] | None = None, *, ui: Ui | None = None) -> int:
    """Run mtglacier with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    return _main(argv, ui, exiting=False)


def _main(argv: Sequence[str] | None, ui: Ui | None, *, exiting: bool) -> int:
    from glacierlib_cli.output import Ui

    args = list(sys.argv[1:] if argv is None else argv)
    ui = ui if ui is not None else Ui()
    state = {"verbose": any(a.startswith("--verb") for a in args)}
    try:
        with _stop_on_signals(restore=not exiting):
            return _run(args, ui, state)
    except BrokenPipeError:
        # The reader went away (``mtglacier list-vaults | head``): stop quietly, and make sure
        # the interpreter's final flush does not complain again.
        _silence_stdout()
        return ExitCode.FAILURE
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        ui.close()
        code = exit_code_for(exc)
        try:
            if isinstance(exc, StopSignal):
                ui.error(f"stopped by {exc.signal_name}: nothing new was started, work in "
                         "flight was finished; run the same command again to go on")
            elif isinstance(exc, KeyboardInterrupt):
                ui.error("interrupted")
            elif _is_ours(exc):
                ui.error(str(exc))
                _list_unrecorded(ui, exc)
            elif isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
                # A path the user named (a --local directory, a journal's folder) that the
                # system refused: the path and the reason, never "unexpected".
                ui.error(f"{os.fsdecode(exc.filename)}: {exc.strerror}")
            else:
                ui.error(f"unexpected {type(exc).__name__}: {exc}"
                         + ("" if state["verbose"] else " (run with --verbose for details)"))
            if state["verbose"] and not isinstance(exc, KeyboardInterrupt):
                import traceback

                ui.err("".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
                       .rstrip("\n"))
        except BrokenPipeError:  # pragma: no cover - stderr closed too
            pass
        if ui.json:
            _json_report(ui, code, exc)
        return int(code)


def _json_report(ui: Ui, code: int, exc: BaseException | None) -> None:
    """The run's JSON document if the command printed none (an error, a bare command)."""
    if ui.json_printed:
        return
    from glacierlib_cli import jsonreport

    try:
        files = jsonreport.finished_files(ui)
        ui.json_report(jsonreport.failure(ui, exc, code, files=files) if exc is not None
                       else jsonreport.document(ui, exit_code=code, files=files))
    except BrokenPipeError:  # pragma: no cover - the reader went away
        _silence_stdout()


def _list_unrecorded(ui: Ui, exc: BaseException) -> None:
    """Name every archive stored but not journaled, whatever became of its side file."""
    unrecorded = getattr(exc, "unrecorded", ())
    if unrecorded:
        ui.out(f"POSSIBLE EXTRA COPIES: {len(unrecorded)} archive(s) stored in the vault but "
               "not journaled (the next run records them from the saved file; without it, "
               "check-remote lists them as orphans):")
        for archive in unrecorded:
            ui.out(f"  {archive.describe()}")


def _is_ours(exc: BaseException) -> bool:
    from glacierlib.exceptions import GlacierlibError

    return isinstance(exc, GlacierlibError)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def entry_point() -> None:
    """The ``mtglacier`` console script."""
    sys.exit(_main(None, None, exiting=True))
