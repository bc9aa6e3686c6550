"""Relative file names: the one rule for what may become a journal name or a local path.

A name arrives from three untrusted places: the local file system (sync), a journal someone
else wrote, and an archive description decoded from an inventory. The same rule guards all
three, so a name that could escape ``--dir`` (``../x``, ``/abs``) or break the TAB-separated
journal (TAB, CR, LF) is refused wherever it shows up, and the refusal names it with
``repr()`` so control characters are visible in the message.

The rule is mt-aws-glacier's "canonical relative path" (reference 4.7), tightened: NUL and
every other C0 control character, and text that is not valid Unicode (lone surrogates, i.e.
file names whose bytes are not UTF-8), are refused as well, because they cannot be written to
a UTF-8 journal or shown safely on a terminal.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from glacierlib.exceptions import UnsafeNameError

__all__ = [
    "is_safe_relative_name",
    "safe_join",
    "storable_name",
    "validate_relative_name",
]

logger = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _refuse(name: str, reason: str) -> UnsafeNameError:
    return UnsafeNameError(f"unsafe file name {name!r}: {reason}", name=name)


def _problem(name: str) -> str | None:
    """Why ``name`` is not a canonical relative name, or None when it is."""
    if not name:
        return "empty name"
    if name.startswith("/"):
        return "absolute path (leading '/')"
    if _SURROGATE.search(name):
        return "not valid UTF-8 text"
    control = _CONTROL.search(name)
    if control:
        char = control.group()
        if char in "\t\r\n":
            return "contains TAB, CR or LF (the journal is TAB and line separated)"
        return f"contains control character {char!r}"
    for component in name.split("/"):
        if component == "":
            return "empty path component ('//' or trailing '/')"
        if component in (".", ".."):
            return f"'{component}' path component"
    return None


def validate_relative_name(name: str) -> str:
    """Return ``name`` unchanged if it is a canonical relative name, else raise.

    Used on every name before it is written to a journal, uploaded, or joined to a
    directory; decoded archive descriptions are raw and must pass through here.
    """
    if not isinstance(name, str):
        raise UnsafeNameError(f"unsafe file name {name!r}: not a string", name=repr(name))
    problem = _problem(name)
    if problem is not None:
        raise _refuse(name, problem)
    return name


def is_safe_relative_name(name: str) -> bool:
    """True when :func:`validate_relative_name` would accept ``name``."""
    return isinstance(name, str) and _problem(name) is None


def storable_name(rel: str) -> str:
    """Turn a path relative to ``--dir`` (as ``os.fsdecode`` gives it) into a journal name.

    The walk hands over names decoded with ``surrogateescape``; a file whose bytes are not
    UTF-8 keeps them as lone surrogates. Such a file cannot be named in a UTF-8 journal or in
    an ``mt2`` description, so it is refused here with its raw bytes in the message, and
    sync skips and reports it instead of aborting the whole run (mt-aws-glacier issues #25,
    #34, #51). Like ``File::Spec::canonpath``, ``//`` and ``.`` components and a leading or
    trailing ``/`` are dropped first; ``..`` is refused, never resolved.
    """
    if _SURROGATE.search(rel):
        raw = os.fsencode(rel) if _fs_encodable(rel) else rel.encode("utf-8", "replace")
        raise UnsafeNameError(
            f"unsafe file name {raw!r}: not valid UTF-8 (cannot be stored in the journal)",
            name=rel,
        )
    if os.sep != "/":  # pragma: no cover - POSIX is the supported platform
        rel = rel.replace(os.sep, "/")
    parts = [part for part in rel.split("/") if part not in ("", ".")]
    name = "/".join(parts)
    if not name:
        raise _refuse(rel, "empty name")
    problem = _problem(name)
    if problem is not None:
        raise _refuse(rel, problem)
    return name


def _fs_encodable(text: str) -> bool:
    try:
        os.fsencode(text)
    except UnicodeEncodeError:
        return False
    return True


def safe_join(root: Path, rel: str) -> Path:
    """Join a validated name to ``root``, refusing any result that resolves outside it.

    The name check alone is not enough: a directory inside ``root`` may be a symlink that
    leads elsewhere, and restoring through it would write outside ``--dir``. So the joined
    path is resolved (symlinks followed as far as they exist) and must stay under the
    resolved root. This is a check at call time: a writer must still create files without
    following a final symlink (``O_NOFOLLOW`` or rename into place) because the tree can
    change after the check.
    """
    validate_relative_name(rel)
    resolved_root = Path(root).resolve()
    target = resolved_root.joinpath(*rel.split("/"))
    try:
        resolved = target.resolve()
    except (OSError, RuntimeError) as exc:  # symlink loop; RuntimeError before 3.13
        raise UnsafeNameError(
            f"unsafe file name {rel!r}: cannot be resolved ({exc.__class__.__name__})",
            name=rel,
        ) from exc
    if not resolved.is_relative_to(resolved_root) or resolved == resolved_root:
        logger.warning("refused %r: resolves to %s outside %s", rel, resolved, resolved_root)
        raise UnsafeNameError(
            f"unsafe file name {rel!r}: resolves outside {str(resolved_root)!r} "
            "(through a symbolic link)",
            name=rel,
        )
    # Python 3.13+ resolves a symlink loop without raising: the loop stays in the result.
    for part in (resolved, *resolved.parents):
        if part == resolved_root:
            break
        if part.is_symlink():
            raise UnsafeNameError(
                f"unsafe file name {rel!r}: cannot be resolved (symbolic link loop)", name=rel
            )
    return target
