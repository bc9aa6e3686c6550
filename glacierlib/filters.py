"""mt-aws-glacier's file selection language: ``--filter``, ``--include``, ``--exclude``.

Users move between the two tools with the same scripts, so the rules are reproduced exactly
(reference section 3), including the surprising ones: the first matching rule wins, a file
no rule matches is *included* (``--include X`` alone selects everything; write
``--filter '+X -'``), and a pattern is matched against ``"/" + relative_path``, so an
absolute host path in a pattern never matches (mt-aws-glacier issue #52).

Each pattern is compiled to one regular expression when the options are read, never per
file. The same :class:`FilterSet` selects local files during the walk and journal records
when a journal is read.

``--filter-from FILE`` (new) reads rules from a file, one per line, so a cron job keeps a
long exclude list in one place: ``+PATTERN`` or ``-PATTERN`` (spaces after the sign are
skipped, the pattern runs to the end of the line and may contain spaces; trailing spaces and
tabs are trimmed), blank lines and whole-line ``#`` comments are skipped. A line that is
none of these is an error naming the file and line.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import attrs

from glacierlib.exceptions import ConfigError, clipped

__all__ = ["FILTER_OPTIONS", "FilterRule", "FilterSet", "parse_filter_value", "read_filter_file"]

#: The options that add rules, in the one ordered list of rules.
FILTER_OPTIONS = ("filter", "include", "exclude", "filter-from")

logger = logging.getLogger(__name__)

Action = Literal["+", "-"]

# One ``[+-]PATTERN`` token of a ``--filter`` value: spaces may precede the sign and sit
# between the sign and the pattern; the pattern runs to the next space (and may be empty).
_TOKEN = re.compile(r"\s*([+-])\s*(\S*)\s*")


def _compile(pattern: str) -> tuple[re.Pattern[str], bool]:
    """Regex and "can prune" flag of a pattern whose leading ``!`` was already removed.

    ``/**/`` is zero or more directories, ``**`` anything, ``*`` anything but ``/``, ``?``
    one character but ``/``; everything else is literal. A pattern with a ``/`` before its
    last character is anchored at the root; otherwise it may start at any component. A
    trailing ``/`` matches the directory and everything below; without it, the pattern
    must reach the end of the path.
    """
    if pattern == "":
        return re.compile(""), True
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern.startswith("/**/", i):
            out.append("(?:/|/.*/)")
            i += 4
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    body = "".join(out)
    anchored = "/" in pattern[:-1]
    regex = ("^/?" if anchored else "(?:^|/)") + body
    if not pattern.endswith("/"):
        regex += r"\Z"
    prunable = pattern.endswith(("/", "**"))
    return re.compile(regex), prunable


def _check_action(_: object, __: attrs.Attribute[str], value: str) -> None:
    if value not in ("+", "-"):
        raise ValueError(f"filter action must be '+' or '-', not {value!r}")


@attrs.frozen
class FilterRule:
    """One rule: include (``+``) or exclude (``-``) what ``pattern`` matches.

    ``pattern`` is as the user wrote it, with its ``!`` if any; ``option`` records where it
    came from (``filter``, ``include`` or ``exclude``) for messages and dry-run output.
    """

    action: str = attrs.field(validator=_check_action)
    pattern: str = attrs.field(validator=attrs.validators.instance_of(str))
    option: str = attrs.field(default="filter")
    regex: re.Pattern[str] = attrs.field(init=False, eq=False, repr=False)
    negated: bool = attrs.field(init=False, repr=False)
    prunable: bool = attrs.field(init=False, repr=False)

    def __attrs_post_init__(self) -> None:
        negated = self.pattern.startswith("!")
        regex, prunable = _compile(self.pattern[1:] if negated else self.pattern)
        object.__setattr__(self, "regex", regex)
        object.__setattr__(self, "negated", negated)
        # A negated rule can match below a directory it does not match, so it never prunes.
        object.__setattr__(self, "prunable", prunable and not negated)

    @property
    def include(self) -> bool:
        return self.action == "+"

    def matches(self, path: str) -> bool:
        """Does the rule match ``path`` (already in the ``"/" + rel`` form)?"""
        return (self.regex.search(path) is None) if self.negated else (
            self.regex.search(path) is not None)

    def __str__(self) -> str:
        return f"{self.action}{self.pattern}"


def parse_filter_value(value: str) -> list[tuple[Action, str]]:
    """Split one ``--filter`` value into ``(sign, pattern)`` pairs; ConfigError if it cannot."""
    rules: list[tuple[Action, str]] = []
    position = 0
    while True:
        match = _TOKEN.match(value, position)
        if match is None or match.end() == position:
            break
        sign: Action = "+" if match.group(1) == "+" else "-"
        rules.append((sign, match.group(2)))
        position = match.end()
    if not rules or position < len(value):
        # The value once, cut short (a hostile one may be megabytes); where it went wrong
        # only when that is not its very start.
        rest = value[position:]
        where = "" if position == 0 else f" at {clipped(rest)}"
        raise ConfigError(
            f"--filter {clipped(value, 80)}: Error in parsing filter{where}",
            hint="write rules as '+PATTERN -PATTERN ...'; use --include/--exclude for "
            "patterns with spaces",
        )
    return rules


_FILE_RULE = re.compile(r"[ \t]*([+-])[ \t]*(.*?)[ \t]*")


def read_filter_file(path: str | os.PathLike[str]) -> list[FilterRule]:
    """The rules of a ``--filter-from`` file (format in the module docstring), in order;
    ``ConfigError`` names the file and line of anything else."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the filter file: {exc.strerror or exc}",
                          path=path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        lineno = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError("not valid UTF-8", path=path, line=lineno) from None
    rules: list[FilterRule] = []
    for lineno, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = raw.removesuffix("\r")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _FILE_RULE.fullmatch(line)
        if match is None:
            shown = line if len(line) <= 60 else line[:57] + "..."
            raise ConfigError(f"expected '+PATTERN' or '-PATTERN', got {shown!r}",
                              path=path, line=lineno,
                              hint="one rule per line; '#' starts a comment line")
        rules.append(FilterRule(match.group(1), match.group(2),
                                f"filter-from {path}:{lineno}"))
    return rules


def _rule_tuple(rules: Sequence[FilterRule]) -> tuple[FilterRule, ...]:
    for rule in rules:
        if not isinstance(rule, FilterRule):
            raise TypeError(f"not a FilterRule: {rule!r}")
    return tuple(rules)


@attrs.frozen
class FilterSet:
    """An ordered list of rules; the first match decides, and no match means include."""

    rules: tuple[FilterRule, ...] = attrs.field(default=(), converter=_rule_tuple)

    @classmethod
    def from_options(cls, options: Sequence[tuple[str, str]]) -> FilterSet:
        """Build from ``("filter" | "include" | "exclude" | "filter-from", value)`` in
        command-line order; a ``filter-from`` value is a file of rules, read now."""
        rules: list[FilterRule] = []
        for option, value in options:
            if not isinstance(value, str):
                raise ConfigError(f"--{option}: value must be text, not {value!r}")
            if option == "filter":
                rules.extend(FilterRule(sign, pattern, "filter")
                             for sign, pattern in parse_filter_value(value))
            elif option == "include":
                rules.append(FilterRule("+", value, "include"))
            elif option == "exclude":
                rules.append(FilterRule("-", value, "exclude"))
            elif option == "filter-from":
                rules.extend(read_filter_file(value))
            else:
                raise ConfigError(f"unknown filter option {option!r}")
        return cls(rules)

    def _first_match(self, path: str) -> int | None:
        for index, rule in enumerate(self.rules):
            if rule.matches(path):
                return index
        return None

    def includes(self, rel: str) -> bool:
        """Is the file ``rel`` (a relative name, no leading ``/``) selected?"""
        index = self._first_match("/" + rel)
        return True if index is None else self.rules[index].include

    def prunes_dir(self, rel_dir: str) -> bool:
        """May the walk skip directory ``rel_dir`` and everything below it?

        Only when it is safe: the first rule matching ``rel_dir + "/"`` excludes, is not
        negated, ends in ``/`` or ``**`` or is empty, and no include rule comes before it
        (an include rule could select a file deeper down).
        """
        rel_dir = rel_dir.strip("/")
        if not rel_dir:
            return False
        index = self._first_match("/" + rel_dir + "/")
        if index is None:
            return False
        rule = self.rules[index]
        if rule.include or not rule.prunable:
            return False
        return not any(earlier.include for earlier in self.rules[:index])

    def describe(self) -> str:
        """Human-readable rules for ``--dry-run`` and ``--verbose`` output."""
        if not self.rules:
            return "no filter rules: every file is included"
        lines = []
        for number, rule in enumerate(self.rules, start=1):
            verb = "include" if rule.include else "exclude"
            note = " (negated)" if rule.negated else ""
            lines.append(f"{number}. {verb} {rule.pattern!r}{note}  [--{rule.option}]")
        lines.append("files no rule matches are included")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.describe()

    def __bool__(self) -> bool:
        return bool(self.rules)
