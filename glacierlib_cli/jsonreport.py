"""The ``--format json`` report: one document per run, the same frame for every command.

docs/json-report.md is the schema. Every document has the keys of :data:`COMMON_KEYS`;
``counts`` and ``bytes`` hold integers, ``files`` one object per file acted upon (with the
archive id where there is one), ``failures`` what went wrong per file, ``in_doubt`` the files
that may have an extra copy in the vault. Commands may add keys of their own (``vault``,
``job_id``, ...), never remove or retype these. A change that would break a reader bumps
:data:`SCHEMA_VERSION`; adding a key does not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glacierlib_cli.output import Ui

__all__ = ["COMMON_KEYS", "SCHEMA_VERSION", "document", "failure", "file_entry",
           "finished_files"]

SCHEMA_VERSION = 1

COMMON_KEYS = ("schema_version", "command", "ok", "exit_code", "dry_run", "elapsed_seconds",
               "counts", "bytes", "files", "failures", "warnings", "in_doubt", "error")


def file_entry(name: str, action: str, *, status: str = "ok", size: int | None = None,
               archive_id: str | None = None, **extra: Any) -> dict[str, Any]:
    """One element of ``files``: name, action, status, size, archive_id (+ command's keys)."""
    return {"name": name, "action": action, "status": status, "size": size,
            "archive_id": archive_id, **extra}


def failure_entry(name: str, reason: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "reason": reason, **extra}


_ARCHIVE_ACTIONS = frozenset({"upload", "replace", "delete"})


def finished_files(ui: Ui) -> list[dict[str, Any]]:
    """``files`` from the finished-file events of the run (``FileDone``, in order).

    For uploads, replacements and deletions the event's detail is the archive id; any other
    detail (a job id, a check status) is kept as ``detail``.
    """
    actions = _ARCHIVE_ACTIONS
    entries = []
    for event in ui.finished_files:
        archive_id = event.detail if event.action in actions and event.detail else None
        detail = {} if archive_id is not None or not event.detail else {"detail": event.detail}
        entries.append(file_entry(event.path, event.action, size=event.size,
                                  archive_id=archive_id, **detail))
    return entries


def _warnings(ui: Ui, extra: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for message in [*ui.all_warnings, *extra]:
        seen.setdefault(message, None)
    return list(seen)


def document(
    ui: Ui, *, exit_code: int, dry_run: bool = False,
    counts: Mapping[str, int] | None = None, bytes: Mapping[str, int] | None = None,
    files: Iterable[Mapping[str, Any]] = (), failures: Iterable[Mapping[str, Any]] = (),
    warnings: Iterable[str] = (), in_doubt: Iterable[str] = (), **extra: Any,
) -> dict[str, Any]:
    """The report of a run that finished (successfully or with per-file failures)."""
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "command": ui.command,
        "ok": exit_code == 0,
        "exit_code": int(exit_code),
        "dry_run": dry_run,
        "elapsed_seconds": round(ui.elapsed, 3),
        "counts": dict(counts or {}),
        "bytes": dict(bytes or {}),
        "files": [dict(f) for f in files],
        "failures": [dict(f) for f in failures],
        "warnings": _warnings(ui, warnings),
        "in_doubt": list(in_doubt),
        "error": None,
    }
    doc.update(extra)
    return doc


def failure(ui: Ui, exc: BaseException, exit_code: int,
            files: Iterable[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The report of a run stopped by an error (``error`` says which; exit code non-zero).

    ``files`` are those finished before the error (a sync stopped by expired credentials has
    still stored and journaled them).
    """
    doc = document(ui, exit_code=exit_code, files=files)
    doc["error"] = {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__}
    return doc


def planned_entry(action: object) -> dict[str, Any]:
    """One element of ``files`` for a ``--dry-run`` plan action (status ``planned``)."""
    from glacierlib.plan import Delete, Replace, Skip, Upload, Verify

    if isinstance(action, Upload | Replace | Verify):
        kind = {Upload: "upload", Replace: "replace", Verify: "verify"}[type(action)]
        old = None if isinstance(action, Upload) else action.old.archive_id
        return file_entry(action.file.rel, kind, status="planned", size=action.file.size,
                          archive_id=old)
    if isinstance(action, Delete):
        return file_entry(action.name, "delete", status="planned", archive_id=action.archive_id)
    if isinstance(action, Skip):
        return file_entry(action.display, "skip", status="planned", reason=action.reason,
                          kind=action.kind, kept=action.kept)
    raise TypeError(f"not a plan action: {action!r}")  # pragma: no cover
