"""Build ``mtglacier.1``, the man page, from the same parsers the commands use.

``python -m glacierlib_cli.manpage [FILE]`` writes the page to FILE (default ``mtglacier.1``;
``-`` for standard output). Every command, its usage line and every option come from
:func:`glacierlib_cli.commands.completion.command_table`, so the page cannot drift from
``mtglacier COMMAND --help``; the prose around them is short and points to the README.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main", "render"]


def _roff(text: str) -> str:
    """Text safe in a roff line: backslashes and dashes escaped, no leading control dot."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def render() -> str:
    """The whole man page (roff, ``man 7 man`` macros)."""
    from glacierlib import __version__
    from glacierlib_cli.commands.completion import command_table
    from glacierlib_cli.main import top_level_help

    table = command_table()
    out = [
        f'.TH MTGLACIER 1 "" "mtglacier {__version__}" "User Commands"',
        ".SH NAME",
        "mtglacier \\- Amazon Glacier backups, multithreaded multipart sync; "
        "compatible with mt\\-aws\\-glacier",
        ".SH SYNOPSIS",
        ".B mtglacier",
        ".I COMMAND",
        "[\\fIARGUMENTS\\fR] [\\fB\\-\\-option\\fR \\fIVALUE\\fR | "
        "\\fB\\-\\-option\\fR=\\fIVALUE\\fR | \\fB\\-\\-flag\\fR] ...",
        ".SH DESCRIPTION",
    ]
    overview = top_level_help().split("\n\n")
    out.append(_roff(overview[1]))
    out += [".PP", _roff("Options may stand before or after the command; unique prefixes of "
                         "long options work. Precedence: command line > config file "
                         "(--config) > environment / AWS profile > default."),
            ".SH COMMANDS"]
    for command in table:
        out += [f".SS {_roff(command.name)}", _roff(command.summary), ".PP",
                ".nf", _roff(command.usage), ".fi"]
        for option in command.options:
            if option.name == "--help":
                continue
            head = f"\\fB{_roff(option.name)}\\fR"
            if option.metavar:
                head += f" \\fI{_roff(option.metavar)}\\fR"
            out += [".TP", head, _roff(option.help or "")]
    out += [
        ".SH \"EXIT STATUS\"",
        _roff("0 success; 1 failure (including mismatches found by check-local-hash and "
              "check-remote); 2 usage or configuration error; 75 nothing ready yet (no "
              "finished inventory or retrieval job), try again later; 130 interrupted."),
        ".SH ENVIRONMENT",
        _roff("AWS_DEFAULT_REGION, AWS_REGION, AWS_PROFILE, and botocore's credential chain. "
              "AWS_MAX_ATTEMPTS and AWS_RETRY_MODE (or max_attempts and retry_mode in the "
              "profile) are honoured below --max-attempts and the config file."),
        ".SH \"SEE ALSO\"",
        _roff("mtglacier help; mtglacier COMMAND --help; mtglacier completion bash|zsh|fish; "
              "the README of glacierlib."),
        "",
    ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        print("usage: python -m glacierlib_cli.manpage [FILE | -]  (default: mtglacier.1)",
              file=sys.stderr)
        return 0 if args and args[0] in ("-h", "--help") else 2
    target = args[0] if args else "mtglacier.1"
    page = render()
    if target == "-":
        sys.stdout.write(page)
    else:
        Path(target).write_text(page, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
