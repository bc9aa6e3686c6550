"""Configuration: the mt-aws-glacier config file format and one frozen ``Settings`` per run.

Three sources feed a run: the command line, a config file (``--config FILE``, the format of
mt-aws-glacier 1.120 so existing files keep working) and the environment. ``resolve_settings``
merges them with the precedence *command line > config file > environment / AWS profile >
default* and is pure (plain mappings in, a frozen value out), so every precedence case is a
one-line test with dicts.

What this module deliberately does **not** resolve:

* Credentials other than an explicit key/secret/token. When none are given, ``access_key``,
  ``secret_key`` and ``session_token`` stay ``None`` and the client layer hands the session to
  botocore, whose own chain (environment variables, shared credentials and config files,
  profiles, SSO, container and instance roles, expiry refresh) is used unchanged.
* The region of an AWS profile. ``resolve_settings`` takes the region from the options, then
  ``AWS_DEFAULT_REGION``, then ``AWS_REGION``; if none is set it stays ``None``. The client layer
  then asks botocore for the profile's region (``session.get_config_variable("region")``) and
  calls :func:`require_region` with it, which raises the "region is required" error when that
  is empty too. Reading ``~/.aws/config`` here would duplicate botocore and make this module
  impure.

Every value passes a converter (strings from a file or the command line become ints, bytes,
paths) and then a validator, both declared on the ``Settings`` field, so a ``Settings`` built
directly from Python is held to the same rules. Errors are ``ConfigError`` naming the option
and where its value came from (``--concurrency``, ``FILE, line N``, ``AWS_DEFAULT_REGION``).
"""

from __future__ import annotations

import difflib
import functools
import logging
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import attrs

from glacierlib.exceptions import ConfigError, InvalidSetting, clipped
from glacierlib.pacing import RetrievalRate, parse_rate
from glacierlib.waiting import parse_duration, positive_duration

if TYPE_CHECKING:
    from glacierlib.filters import FilterSet

__all__ = [
    "CONFIG_FILE_NAMES",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_PART_SIZE",
    "DEFAULT_RETRY_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "DETECT_MODES",
    "FORMATS",
    "INVENTORY_FORMATS",
    "LEGACY_IGNORED_NAMES",
    "LIST_OPTIONS",
    "OPTION_FIELDS",
    "TIERS",
    "ConfigValues",
    "Settings",
    "load_config",
    "masked",
    "may_be_secret",
    "parse_config_text",
    "parse_duration",
    "parse_size",
    "read_config_file",
    "require_region",
    "resolve_settings",
    "secret_permission_warning",
]

logger = logging.getLogger(__name__)

MIB = 1 << 20
DEFAULT_CONCURRENCY = 4
DEFAULT_PART_SIZE = 16 * MIB
DEFAULT_TIMEOUT = 180
#: How long one request may keep failing with transient errors before the run gives up on it
#: (seconds; ``--retry-timeout``). At one request in five failing, a 200-file sync meets no
#: request that fails for that long; an outage of the whole network does meet it.
DEFAULT_RETRY_TIMEOUT = 900
MAX_RETRY_TIMEOUT = 7 * 24 * 3600
MAX_CONCURRENCY = 64
MAX_PART_SIZE_MIB = 4096
MAX_CHECK_FILE_SIZE_MIB = 40_960_000

DETECT_MODES = (
    "treehash",
    "mtime",
    "mtime-and-treehash",
    "mtime-or-treehash",
    "always-positive",
    "size-only",
)
TIERS = ("Expedited", "Standard", "Bulk")
INVENTORY_FORMATS = ("json", "csv")
FORMATS = ("for-humans", "mtmsg", "json")
PROTOCOLS = ("https", "http")

#: Options that may be repeated and whose order matters. In a config file each line adds its
#: rule after those of the command line (mt-aws-glacier refused them there; cron jobs keep
#: long exclude lists in their config).
LIST_OPTIONS = frozenset({"filter", "include", "exclude", "filter-from"})

#: Names mt-aws-glacier 1.120 knew but mtglacier has no use for: accepted so old config files
#: and scripts keep working, then ignored with a warning (encodings are always UTF-8 here;
#: ``leaf-optimization`` concerned a Perl directory walker; the others were dead in 1.120).
LEGACY_IGNORED_NAMES = frozenset({
    "terminal-encoding",
    "config-encoding",
    "filenames-encoding",
    "journal-encoding",
    "leaf-optimization",
    "base-dir",
    "job-id",
})

#: Option name (dashes, as written on the command line and in config files) -> Settings field.
#: Most are the name with underscores; the exceptions keep mt-aws-glacier's option names while
#: the fields say what they hold.
OPTION_FIELDS: Mapping[str, str] = {
    "key": "access_key",
    "secret": "secret_key",
    "token": "session_token",
    "profile": "profile",
    "region": "region",
    "endpoint-url": "endpoint_url",
    "local": "local_dir",
    "protocol": "protocol",
    "timeout": "timeout",
    "retry-timeout": "retry_timeout",
    "max-attempts": "max_attempts",
    "vault": "vault",
    "journal": "journal",
    "new-journal": "new_journal",
    "dir": "dir",
    "concurrency": "concurrency",
    "partsize": "part_size",
    "segment-size": "segment_size",
    "dry-run": "dry_run",
    "new": "new",
    "replace-modified": "replace_modified",
    "delete-removed": "delete_removed",
    "detect": "detect",
    "max-number-of-files": "max_number_of_files",
    "max-size": "max_size",
    "tier": "tier",
    "sns-topic": "sns_topic",
    "request-inventory-format": "request_inventory_format",
    "format": "format",
    "follow": "follow",
    "filename": "filename",
    "set-rel-filename": "set_rel_filename",
    "stdin": "stdin",
    "check-max-file-size": "check_max_file_size",
    "fsync": "fsync",
    "multipart-only": "multipart_only",
    "quiet": "quiet",
    "verbose": "verbose",
    "wait": "wait",
    "wait-timeout": "wait_timeout",
    "poll-interval": "poll_interval",
    "max-retrieval-rate": "max_retrieval_rate",
}

#: Every name a config file may set: the non-list options plus the legacy ones.
CONFIG_FILE_NAMES = frozenset(OPTION_FIELDS) | LEGACY_IGNORED_NAMES

_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
# "NAME = VALUE" or "NAME": spaces and tabs around "=" and at both ends are trimmed. The value
# is the rest of the line verbatim (no quotes, no escapes, a "#" inside it is kept).
_ASSIGN_RE = re.compile(r"[ \t]*([A-Za-z0-9][A-Za-z0-9-]*)[ \t]*=[ \t]*(.*?)[ \t]*")
_FLAG_RE = re.compile(r"[ \t]*([A-Za-z0-9][A-Za-z0-9-]*)[ \t]*")
_BLANK_RE = re.compile(r"[ \t\f\v]*")
_COMMENT_RE = re.compile(r"[ \t\f\v]*#.*")


# --------------------------------------------------------------------------------------------
# Config file


class ConfigValues(dict[str, str]):
    """The ``name -> value`` pairs of one config file, remembering where each came from.

    It is a plain ``dict`` to every caller; ``path`` and ``lines`` (name -> line number of the
    line that won) let ``resolve_settings`` name the file and line of a value it refuses.
    Filter lines are not in the dict (each one counts, in order): they are in ``filters``, as
    ``(option, value, line)``.
    """

    def __init__(self, path: object = None) -> None:
        super().__init__()
        self.path = path
        self.lines: dict[str, int] = {}
        self.filters: list[tuple[str, str, int]] = []

    def only(self, names: Iterable[str]) -> ConfigValues:
        """The values for these option names (a command's), with their lines; the filter
        rules when ``filter`` is among them. Other values are ignored, as in mt-aws-glacier."""
        usable = set(names)
        kept = ConfigValues(self.path)
        for key, value in self.items():
            if key in usable:
                kept[key] = value
                kept.lines[key] = self.lines[key]
        if "filter" in usable:
            kept.filters = list(self.filters)
        return kept


#: Config names whose value is a credential: nothing after them is ever shown.
_CREDENTIAL_NAMES = frozenset({"key", "secret", "token"})
#: Shortest text that may be a credential (an access key id has 16 or more characters, a
#: secret 40, a session token hundreds): longer words are masked wherever input is quoted.
_SECRET_MIN = 12


def may_be_secret(text: str) -> bool:
    """Could this piece of user input be a key, secret or token? (Long, without spaces.)"""
    return len(text) >= _SECRET_MIN and not any(c.isspace() for c in text)


def masked(text: str) -> str:
    """``text`` quoted for an error message: as is when short, else its first two characters
    and its length, so a secret typed in the wrong place never reaches a terminal or log."""
    if not may_be_secret(text):
        return repr(text)
    return f"'{text[:2]}...' ({len(text)} characters, the rest hidden: it may be a secret)"


def _show_line(line: str) -> str:
    """An offending config line for an error: words that may be secrets are masked, and
    everything after a credential name (``secret wJal...``) is hidden whatever its length."""
    words = line.split()
    if words and words[0].split("=")[0].lower() in _CREDENTIAL_NAMES:
        return f"{words[0].split('=')[0]!r} followed by {len(line.strip()) - len(words[0])} " \
            "characters (hidden: they may be a secret)"
    shown = " ".join(w if not may_be_secret(w) else f"{w[:2]}...({len(w)} characters)"
                     for w in words)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return repr(shown)


def _unknown_name(name: str, names: Iterable[str]) -> ConfigError:
    """'unknown option' for a config-file NAME: masked if it may be a secret; a close
    known name is suggested."""
    import difflib

    close = difflib.get_close_matches(name, sorted(names), n=1)
    return ConfigError(f"unknown option {masked(name)}",
                       hint=f"did you mean {close[0]}?" if close else None)


def parse_config_text(text: str, path: object = "<config>") -> ConfigValues:
    """Parse config-file text (already decoded); the rules of mt-aws-glacier 1.120.

    Lines end with LF or CRLF. Blank lines and whole-line ``#`` comments are skipped; a
    ``NAME=VALUE`` line sets NAME, a bare ``NAME`` line sets it to ``"1"`` (flags); a later
    line for the same name wins, except for ``filter``, ``include``, ``exclude`` and
    ``filter-from``, which add rules in file order (see ``ConfigValues.filters``). An unknown
    name is refused, because a typo silently ignored would run a sync with settings the user
    did not mean.
    """
    values = ConfigValues(path)
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if _BLANK_RE.fullmatch(line) or _COMMENT_RE.fullmatch(line):
            continue
        match = _ASSIGN_RE.fullmatch(line)
        if match:
            name, value = match.group(1), match.group(2)
        else:
            match = _FLAG_RE.fullmatch(line)
            if match is None:
                raise ConfigError(
                    f"cannot parse line {_show_line(line)}: expected NAME=VALUE, NAME or # comment",
                    path=path, line=lineno,
                )
            name, value = match.group(1), "1"
        if name in LIST_OPTIONS:
            if "\x00" in value:
                raise ConfigError(f"NUL character in the value of {name!r}", path=path,
                                  line=lineno)
            values.filters.append((name, value, lineno))
            continue
        if name not in CONFIG_FILE_NAMES:
            error = _unknown_name(name, CONFIG_FILE_NAMES)
            raise ConfigError(error.message, path=path, line=lineno, hint=error.hint)
        if "\x00" in value:
            raise ConfigError(f"NUL character in the value of {name!r}", path=path, line=lineno)
        values[name] = value
        values.lines[name] = lineno
    return values


def read_config_file(path: str | os.PathLike[str]) -> ConfigValues:
    """Read and parse a config file; ``ConfigError`` names the file (and line) on any problem.

    The file must be UTF-8 (the default ``--config-encoding`` of mt-aws-glacier); a line that
    is not is refused with its number rather than decoded into a wrong value.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file: {exc.strerror or exc}", path=path) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        lineno = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError("not valid UTF-8", path=path, line=lineno) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return parse_config_text(text, path)


def secret_permission_warning(
    path: str | os.PathLike[str], values: Mapping[str, str]
) -> str | None:
    """Warn when a config file that holds a secret can be read by group or other users.

    The warning is logged (``logging.warning``) and returned, so a front end can print it in
    its own style; the log record carries ``returned_to_caller=True`` so that front end can
    skip the duplicate. Returns None when there is nothing to say.
    """
    if "secret" not in values and "token" not in values:
        return None
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return None
    message = (
        f"{path} holds a secret and is readable by other users "
        f"(mode {stat.S_IMODE(mode):04o}); run: chmod 600 {path}"
    )
    # Returned, and logged below WARNING: a front end shows what it is given; a warning record
    # would also reach Python's last-resort handler before the front end installed its own,
    # and the user would read it twice.
    logger.info("%s", message, extra={"returned_to_caller": True})
    return message


def load_config(path: str | os.PathLike[str]) -> tuple[ConfigValues, list[str]]:
    """Read a config file and check its permissions: the values and the warnings to show."""
    values = read_config_file(path)
    warning = secret_permission_warning(path, values)
    return values, [warning] if warning else []


# --------------------------------------------------------------------------------------------
# Converters (strings from files and the command line -> typed values) and validators


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", "y"):
        return True
    if text in ("0", "false", "no", "off", "n", ""):
        return False
    raise ValueError(f"expected 1 or 0 (a flag), got {value!r}")


_INT_MAX = 10**12 - 1  # twelve digits: far above any count or size a setting needs


def _to_int(value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"[0-9]+", text):
        raise ValueError(f"expected a non-negative integer, got {clipped(value)}")
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(_INT_MAX)):
        raise ValueError(f"{clipped(text)}: too large (at most {_INT_MAX})")
    return int(digits)


def _opt_int(value: object) -> int | None:
    return None if value is None else _to_int(value)


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _opt_path(value: object) -> Path | None:
    if value is None:
        return None
    if isinstance(value, Path):
        return value
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    if not text:
        raise ValueError("expected a path, got an empty value")
    if "\x00" in text:
        raise ValueError("a path cannot contain a NUL character")
    return Path(text)


def _lower(value: object) -> str:
    return str(value).strip().lower()


def _tier(value: object) -> str:
    text = str(value).strip()
    for tier in TIERS:
        if tier.lower() == text.lower():
            return tier
    return text


_SIZE_RE = re.compile(r"([0-9]{1,15})[ \t]*([KMGT]?)(?:I?B)?", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(value: object) -> int:
    """A byte count written like ``500M``, ``20G``, ``1.5``-free: ``N[K|M|G|T][i][B]``.

    Units are binary (``M`` = MiB), as every other size in mt-aws-glacier; a bare number is
    bytes.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE_RE.fullmatch(str(value).strip())
    if match is None:
        raise ValueError(f"expected a size such as 500M or 20G, got {value!r}")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def _check_retry_timeout(_i: object, _a: object, value: float) -> None:
    if not 0 <= value <= MAX_RETRY_TIMEOUT:
        raise ValueError(f"must be between 0 and {MAX_RETRY_TIMEOUT // 3600}h, got {value:g}s")


def _opt_size(value: object) -> int | None:
    return None if value is None else parse_size(value)


def _opt_duration(value: object) -> float | None:
    return None if value is None else positive_duration(value)


def _opt_rate(value: object) -> RetrievalRate | None:
    return None if value is None else parse_rate(value)


def _mib_to_bytes(value: object) -> int | None:
    """Sizes given in MiB on the command line and in config files are stored in bytes."""
    return None if value is None else _to_int(value) * MIB


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _check_concurrency(_i: object, _a: object, value: int) -> None:
    if not 1 <= value <= MAX_CONCURRENCY:
        raise ValueError(f"must be between 1 and {MAX_CONCURRENCY}, got {value}")


# The size validators speak the caller's unit. ``resolve_settings`` runs them with no instance
# (``instance is None``) on values its options gave in MiB; a ``Settings`` built from Python
# (an instance, or ``_BUILT_DIRECTLY``) was given bytes, and "6.1e-05 MiB" would help nobody.


def _check_part_size(instance: object, _a: object, value: int) -> None:
    if value % MIB or not _is_power_of_two(value // MIB) or value // MIB > MAX_PART_SIZE_MIB:
        if instance is not None:
            raise ValueError(
                f"{value} bytes is not a power of two multiple of 1 MiB ({MIB} bytes) "
                f"between 1 and {MAX_PART_SIZE_MIB} MiB"
            )
        raise ValueError(
            f"must be a power of two between 1 and {MAX_PART_SIZE_MIB} (MiB), "
            f"got {value // MIB}"
        )


def _check_segment_size(instance: object, _a: object, value: int | None) -> None:
    if value is None or value == 0:
        return
    if value % MIB or not _is_power_of_two(value // MIB):
        if instance is not None:
            raise ValueError(f"{value} bytes is neither 0 nor a power of two multiple of "
                             f"1 MiB ({MIB} bytes)")
        raise ValueError(f"must be 0 or a power of two (MiB), got {value // MIB}")


def _check_timeout(_i: object, _a: object, value: int) -> None:
    if not 1 <= value <= 99_999:
        raise ValueError(f"must be between 1 and 99999 seconds, got {value}")


def _check_positive(_i: object, _a: object, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"must be at least 1, got {value}")


def _check_max_attempts(_i: object, _a: object, value: int | None) -> None:
    if value is not None and not 0 <= value <= 10_000:
        raise ValueError(f"must be between 0 (no limit) and 10000, got {value}")


def _check_max_file_size(instance: object, _a: object, value: int | None) -> None:
    if value is not None and not MIB <= value <= MAX_CHECK_FILE_SIZE_MIB * MIB:
        if instance is not None:
            raise ValueError(f"{value} bytes is not between 1 MiB ({MIB} bytes) and "
                             f"{MAX_CHECK_FILE_SIZE_MIB} MiB")
        raise ValueError(
            f"must be between 1 and {MAX_CHECK_FILE_SIZE_MIB} (MiB), got {value // MIB}"
        )


def _one_of(choices: Sequence[str]) -> Callable[[object, object, str], None]:
    def check(_i: object, _a: object, value: str) -> None:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}; got {value!r}")

    return check


def _matches(pattern: str, what: str) -> Callable[[object, object, str | None], None]:
    compiled = re.compile(pattern)

    def check(_i: object, _a: object, value: str | None) -> None:
        if value is not None and not compiled.fullmatch(value):
            # Never echo the value: this checks keys, secrets and tokens too.
            raise ValueError(f"must be {what}")

    return check


def _check_endpoint(_i: object, _a: object, value: str | None) -> None:
    if value is None:
        return
    if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s]*)?", value):
        raise ValueError(f"must be an http:// or https:// URL with a host, got {value!r}")


_SNS_RE = re.compile(r"arn:[a-z0-9-]+:sns:[a-z0-9-]*:[0-9]*:[\w-]{1,256}")


def _check_sns_topic(_i: object, _a: object, value: str | None) -> None:
    if value is not None and not _SNS_RE.fullmatch(value):
        raise ValueError(f"must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME), "
                         f"got {value!r}")


def _check_rel_filename(_i: object, _a: object, value: str | None) -> None:
    if value is not None and not value:
        raise ValueError("must not be empty")


_check_vault = _matches(r"[A-Za-z0-9._-]{1,255}", "1 to 255 of the characters A-Z a-z 0-9 . _ -")


def _empty_filters() -> FilterSet:
    from glacierlib.filters import FilterSet

    return FilterSet()


# --------------------------------------------------------------------------------------------
# Settings

#: The ``instance`` the size validators see when a Settings is built from Python (bytes).
_BUILT_DIRECTLY = object()
_T = TypeVar("_T")


def _invalid_setting(fields: Mapping[str, attrs.Attribute[Any]], given: Mapping[str, object],
                     error: Exception) -> InvalidSetting:
    """Turn what attrs raised for ``Settings(**given)`` into an error naming the field.

    attrs does not say which field failed, so the converters and validators run again one
    field at a time; only a refused ``Settings`` pays for it.
    """
    unknown = sorted(set(given) - set(fields))
    if unknown:
        option = OPTION_FIELDS.get(unknown[0].replace("_", "-"))  # key= for access_key=
        close = [option] if option else difflib.get_close_matches(unknown[0], list(fields), 1)
        return InvalidSetting(f"unknown setting {unknown[0]!r}", field=unknown[0],
                              hint=f"did you mean {close[0]}?" if close else None)
    for name, value in given.items():
        attr = fields[name]
        try:
            if attr.converter is not None:
                value = cast("Callable[[object], object]", attr.converter)(value)
            if attr.validator is not None:
                attr.validator(_BUILT_DIRECTLY, attr, value)
        except (ValueError, TypeError) as exc:
            return InvalidSetting(f"{name}: {exc}", field=name)
    return InvalidSetting(str(error))


def _config_errors(cls: type[_T]) -> type[_T]:
    """Make the attrs ``__init__`` raise :class:`InvalidSetting` instead of a bare ValueError.

    A caller embedding the library catches ``GlacierlibError`` for every mistake, and reads
    which field was wrong. (``InvalidSetting`` is still a ``ValueError``.)
    """
    generated = cls.__init__

    @functools.wraps(generated)
    def __init__(self: _T, **given: object) -> None:
        try:
            generated(self, **given)
        except (ValueError, TypeError) as exc:
            raise _invalid_setting(attrs.fields_dict(cast(Any, cls)), given, exc) from None

    setattr(cls, "__init__", __init__)  # noqa: B010 - mypy refuses assigning to a method
    return cls


@_config_errors
@attrs.frozen(kw_only=True)
class Settings:
    """Everything one run needs to know, validated once; sizes are in bytes.

    Build it with :func:`resolve_settings` (which says where a bad value came from), with
    :func:`glacierlib.options.settings` (typed keywords, the CLI's units and defaults) or
    directly; all go through the same converters and validators. A value refused here raises
    :class:`~glacierlib.exceptions.InvalidSetting` (a ``ConfigError``) naming the field, in
    bytes for sizes. Secrets are excluded from ``repr`` so a Settings can be logged or shown
    in a traceback safely.
    """

    # Connection
    region: str | None = attrs.field(
        default=None, converter=_opt_str,
        validator=_matches(r"[A-Za-z0-9-]{3,32}", "a region name such as eu-west-1"))
    endpoint_url: str | None = attrs.field(
        default=None, converter=_opt_str, validator=_check_endpoint)
    protocol: str = attrs.field(
        default="https", converter=_lower, validator=_one_of(PROTOCOLS))
    timeout: int = attrs.field(default=DEFAULT_TIMEOUT, converter=_to_int, validator=_check_timeout)
    retry_timeout: float = attrs.field(
        default=DEFAULT_RETRY_TIMEOUT, converter=parse_duration, validator=_check_retry_timeout)
    #: None: botocore's ``max_attempts`` (AWS_MAX_ATTEMPTS, the profile) if any; 0: no cap.
    max_attempts: int | None = attrs.field(
        default=None, converter=_opt_int, validator=_check_max_attempts)
    access_key: str | None = attrs.field(
        default=None, converter=_opt_str, repr=False,
        validator=_matches(r"[A-Za-z0-9]{16,128}",
                           "16 to 128 letters and digits (an access key id)"))
    secret_key: str | None = attrs.field(
        default=None, converter=_opt_str, repr=False,
        validator=_matches(r"[\x21-\x7e]{1,256}", "printable ASCII without spaces"))
    session_token: str | None = attrs.field(
        default=None, converter=_opt_str, repr=False,
        validator=_matches(r"[\x21-\x7e]{16,16384}",
                           "16 or more printable ASCII characters without spaces"))
    profile: str | None = attrs.field(
        default=None, converter=_opt_str,
        validator=_matches(r"[\w.@+=,:/-]{1,128}", "a profile name"))
    local_dir: Path | None = attrs.field(default=None, converter=_opt_path)

    # Where and what
    vault: str | None = attrs.field(default=None, converter=_opt_str, validator=_check_vault)
    journal: Path | None = attrs.field(default=None, converter=_opt_path)
    new_journal: Path | None = attrs.field(default=None, converter=_opt_path)
    dir: Path | None = attrs.field(default=None, converter=_opt_path)
    filename: Path | None = attrs.field(default=None, converter=_opt_path)
    set_rel_filename: str | None = attrs.field(
        default=None, converter=_opt_str, validator=_check_rel_filename)
    stdin: bool = attrs.field(default=False, converter=_to_bool)
    check_max_file_size: int | None = attrs.field(
        default=None, converter=_opt_int, validator=_check_max_file_size)

    # Transfer
    concurrency: int = attrs.field(
        default=DEFAULT_CONCURRENCY, converter=_to_int, validator=_check_concurrency)
    part_size: int = attrs.field(
        default=DEFAULT_PART_SIZE, converter=_to_int, validator=_check_part_size)
    segment_size: int | None = attrs.field(
        default=None, converter=_opt_int, validator=_check_segment_size)
    dry_run: bool = attrs.field(default=False, converter=_to_bool)
    filters: FilterSet = attrs.field(factory=_empty_filters)
    new: bool = attrs.field(default=True, converter=_to_bool)
    replace_modified: bool = attrs.field(default=False, converter=_to_bool)
    delete_removed: bool = attrs.field(default=False, converter=_to_bool)
    detect: str = attrs.field(
        default="mtime-and-treehash", converter=_lower, validator=_one_of(DETECT_MODES))
    max_number_of_files: int | None = attrs.field(
        default=None, converter=_opt_int, validator=_check_positive)
    max_size: int | None = attrs.field(default=None, converter=_opt_size, validator=_check_positive)
    tier: str = attrs.field(default="Standard", converter=_tier, validator=_one_of(TIERS))
    sns_topic: str | None = attrs.field(
        default=None, converter=_opt_str, validator=_check_sns_topic)
    request_inventory_format: str = attrs.field(
        default="json", converter=_lower, validator=_one_of(INVENTORY_FORMATS))
    format: str = attrs.field(default="for-humans", converter=_lower, validator=_one_of(FORMATS))
    follow: bool = attrs.field(default=False, converter=_to_bool)
    fsync: bool = attrs.field(default=True, converter=_to_bool)
    multipart_only: bool = attrs.field(default=False, converter=_to_bool)

    # Output
    quiet: bool = attrs.field(default=False, converter=_to_bool)
    verbose: bool = attrs.field(default=False, converter=_to_bool)

    # Waiting for jobs and retrieval pacing (issue #16)
    wait: bool = attrs.field(default=False, converter=_to_bool)
    wait_timeout: float | None = attrs.field(default=None, converter=_opt_duration)
    poll_interval: float | None = attrs.field(default=None, converter=_opt_duration)
    max_retrieval_rate: RetrievalRate | None = attrs.field(default=None, converter=_opt_rate)

    # Provenance
    config_path: Path | None = attrs.field(default=None, converter=_opt_path)
    warnings: tuple[str, ...] = attrs.field(default=(), converter=tuple, eq=False)

    def __attrs_post_init__(self) -> None:
        if self.secret_key is not None and self.access_key is None:
            raise ConfigError("a secret was given without a key", hint="add --key")
        if self.access_key is not None and self.secret_key is None:
            raise ConfigError("a key was given without its secret", hint="add --secret")
        if self.session_token is not None and self.access_key is None:
            raise ConfigError("a token was given without a key and secret",
                              hint="add --key and --secret")
        if self.local_dir is not None and self.endpoint_url is not None:
            raise ConfigError("--local and --endpoint-url cannot be used together",
                              hint="--local starts its own endpoint")
        if self.quiet and self.verbose:
            raise ConfigError("--quiet and --verbose cannot be used together")

    @property
    def explicit_credentials(self) -> bool:
        """True when key and secret were given; otherwise botocore's chain supplies them."""
        return self.access_key is not None and self.secret_key is not None

    @property
    def use_ssl(self) -> bool:
        """HTTPS unless ``--protocol http``; an ``endpoint_url`` carries its own scheme."""
        if self.endpoint_url is not None:
            return self.endpoint_url.startswith("https://")
        return self.protocol == "https"


_FIELDS = attrs.fields_dict(Settings)


def require_region(settings: Settings, profile_region: str | None = None) -> str | None:
    """The region a networked command uses, or a clear ``ConfigError`` when there is none.

    ``profile_region`` is what botocore resolved for the session (the profile's ``region``),
    passed in by the client layer. With ``--local`` no region is needed (None is returned and
    the local server supplies its own).
    """
    if settings.local_dir is not None:
        return settings.region or profile_region
    region = settings.region or profile_region
    if not region:
        raise ConfigError(
            "no AWS region: the region is required",
            hint="give --region, set region= in the config file or AWS_DEFAULT_REGION, "
                 "or use a --profile that has a region",
        )
    return region


# --------------------------------------------------------------------------------------------
# Resolution


_MIB_OPTIONS = frozenset({"partsize", "segment-size", "check-max-file-size"})


def _convert(option: str, raw: object) -> object:
    """Run the field's converter and validator on one value; ValueError on a bad value."""
    attr = _FIELDS[OPTION_FIELDS[option]]
    value = raw
    if option in _MIB_OPTIONS:
        value = _mib_to_bytes(raw)  # options count MiB, as in mt-aws-glacier; fields bytes
    if attr.converter is not None:
        value = cast("Callable[[object], object]", attr.converter)(value)
    if attr.validator is not None:
        attr.validator(None, attr, value)
    return value


def _normalise(name: str) -> str:
    return name.replace("_", "-")


def resolve_settings(
    cli: Mapping[str, object],
    config_file: Mapping[str, str],
    environ: Mapping[str, str],
    *,
    config_path: str | os.PathLike[str] | None = None,
) -> Settings:
    """Merge command line > config file > environment > defaults into one ``Settings``.

    ``cli`` holds only options the user gave, keyed by option name (``"dry-run"``; underscores
    are accepted too); values are strings as typed or already-converted values (``True`` for
    a flag). Its ``"filters"`` entry is the list of ``(kind, value)`` filter rules in
    command-line order. ``config_file`` is what :func:`read_config_file` returned (its line
    numbers are used in errors when it is a ``ConfigValues``). ``environ`` is consulted for
    the region (``AWS_DEFAULT_REGION``, then ``AWS_REGION``) and the profile (``AWS_PROFILE``);
    credentials in the environment are left to botocore.

    ``--new`` is implied when none of ``--new``, ``--replace-modified`` and
    ``--delete-removed`` is given; an explicit ``--detect`` on the command line without
    ``--replace-modified`` is refused (it would silently do nothing), in a config file it is
    tolerated, as in mt-aws-glacier.
    """
    cli = {_normalise(k): v for k, v in cli.items()}
    path = config_path if config_path is not None else getattr(config_file, "path", None)
    lines: Mapping[str, int] = getattr(config_file, "lines", {})
    values: dict[str, Any] = {}
    warnings: list[str] = []

    def put(option: str, raw: object, label: str, where: object = None,
            line: int | None = None) -> None:
        try:
            values[OPTION_FIELDS[option]] = _convert(option, raw)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{label}: {exc}", path=where, line=line) from None

    # Lowest to highest precedence: environment, config file, command line.
    for option, variables in (("region", ("AWS_DEFAULT_REGION", "AWS_REGION")),
                              ("profile", ("AWS_PROFILE",))):
        for variable in variables:
            if environ.get(variable):
                put(option, environ[variable], f"environment variable {variable}")
                break

    file_rules: list[tuple[str, str, int | None]] = list(getattr(config_file, "filters", ()))
    for name, raw in config_file.items():
        if name in LIST_OPTIONS:  # a plain mapping: one rule per option
            file_rules.append((name, str(raw), lines.get(name)))
            continue
        if name not in CONFIG_FILE_NAMES:
            raise ConfigError(f"option {name!r} cannot be set in a config file",
                              path=path, line=lines.get(name))
        if name in LEGACY_IGNORED_NAMES:
            try:
                _legacy_warning(name, raw, warnings)
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}", path=path, line=lines.get(name)) from None
            continue
        put(name, raw, name, path, lines.get(name))

    filter_rules: list[tuple[str, str]] = []
    for name, given in cli.items():
        if name == "filters":
            filter_rules = _filter_rules(given)
            continue
        if name in LEGACY_IGNORED_NAMES:
            try:
                _legacy_warning(name, given, warnings)
            except ValueError as exc:
                raise ConfigError(f"--{name}: {exc}") from None
            continue
        if name not in OPTION_FIELDS:
            raise ConfigError(f"unknown option --{name}")
        put(name, given, f"--{name}")

    sync_modes = ("new", "replace-modified", "delete-removed")
    if not any(m in cli or m in config_file for m in sync_modes):
        values["new"] = True
    elif "new" not in cli and "new" not in config_file:
        values["new"] = False
    if "detect" in cli and not values.get("replace_modified", False):
        raise ConfigError("--detect only makes sense with --replace-modified")

    if filter_rules or file_rules:
        values["filters"] = _filter_set(filter_rules, file_rules, path)
    if path is not None:
        values["config_path"] = path
    values["warnings"] = tuple(warnings)
    try:
        return Settings(**values)
    except (ValueError, TypeError) as exc:  # pragma: no cover - every field was checked above
        raise ConfigError(str(exc)) from None


def _filter_set(cli_rules: Sequence[tuple[str, str]],
                file_rules: Sequence[tuple[str, str, int | None]], path: object) -> FilterSet:
    """Command-line rules first, then the config file's: the first match wins, so a rule given
    on the command line overrides the file's for the files it matches."""
    from glacierlib.filters import FilterSet

    rules = list(FilterSet.from_options(cli_rules).rules)
    for option, value, line in file_rules:
        try:
            rules.extend(FilterSet.from_options([(option, value)]).rules)
        except ConfigError as exc:
            raise ConfigError(exc.message, path=path, line=line, hint=exc.hint) from None
    return FilterSet(rules)


def _filter_rules(raw: object) -> list[tuple[str, str]]:
    rules: list[tuple[str, str]] = []
    if not isinstance(raw, Iterable) or isinstance(raw, str | bytes):
        raise ConfigError("filters must be a list of (kind, value) pairs")
    for item in raw:
        if (not isinstance(item, tuple) or len(item) != 2
                or item[0] not in LIST_OPTIONS or not isinstance(item[1], str)):
            raise ConfigError(f"bad filter rule {item!r}: expected "
                              "(filter|include|exclude|filter-from, text)")
        rules.append((item[0], item[1]))
    return rules


def _legacy_warning(name: str, raw: object, warnings: list[str]) -> None:
    """Note a legacy option that changes nothing; UTF-8 encodings and leaf-optimization are
    exactly what mtglacier does anyway, so they pass silently."""
    text = str(raw)
    if name.endswith("-encoding"):
        if text.replace("-", "").lower() not in ("utf8", "1"):
            warnings.append(f"option {name}={text} is ignored: mtglacier always uses UTF-8")
    elif name == "leaf-optimization":
        if text not in ("0", "1"):
            raise ValueError(f"must be 0 or 1, got {text!r}")
    else:
        warnings.append(f"option {name} is obsolete and ignored")
