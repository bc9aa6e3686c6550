"""``list-uploads`` and ``abort-uploads``: unfinished multipart uploads of a vault.

An interrupted upload keeps its parts (and its storage bill) until it is completed or aborted;
Glacier never expires them on its own. Sync resumes its own uploads, so aborting is a separate,
explicit command: it aborts every unfinished upload the filters select (by the file name in
its description), and ``--dry-run`` only lists them. Do not run it while a sync is uploading
into the same vault: that sync's upload would be aborted under it.
"""

from __future__ import annotations

import attrs

from glacierlib.config import Settings
from glacierlib.exceptions import GlacierlibError
from glacierlib.metadata import decode_description
from glacierlib.operations._store import store_for
from glacierlib.operations.restore import require
from glacierlib.progress import FileDone, FileSkipped, ProgressCallback, ignore_progress
from glacierlib.storage import VaultStore

__all__ = ["AbortUploadsReport", "UploadRow", "UploadsReport", "abort_uploads", "list_uploads"]


@attrs.frozen
class UploadRow:
    """One unfinished upload; ``name`` is decoded from its description when it has one."""

    upload_id: str
    creation_date: str
    part_size: int
    name: str | None
    description: str | None


@attrs.frozen
class UploadsReport:
    vault: str
    uploads: tuple[UploadRow, ...]


@attrs.frozen
class AbortUploadsReport:
    vault: str
    aborted: tuple[UploadRow, ...]
    failed: tuple[tuple[UploadRow, str], ...] = ()
    dry_run: bool = False


def _rows(store: VaultStore, vault: str) -> list[UploadRow]:
    uploads = list(store.list_multipart_uploads(vault))
    rows = [
        UploadRow(u.upload_id, u.creation_date, u.part_size,
                  decode_description(u.archive_description).name, u.archive_description)
        for u in uploads
    ]
    rows.sort(key=lambda r: (r.creation_date, r.upload_id))
    return rows


def list_uploads(
    settings: Settings, on_event: ProgressCallback = ignore_progress,
) -> UploadsReport:
    """Every unfinished multipart upload of the vault, oldest first."""
    require(settings, "vault")
    assert settings.vault is not None
    with store_for(settings, on_event) as store:
        rows = _rows(store, settings.vault)
    return UploadsReport(settings.vault, tuple(rows))


def abort_uploads(
    settings: Settings, on_event: ProgressCallback = ignore_progress,
) -> AbortUploadsReport:
    """Abort the unfinished uploads the filters select (all of them without filters)."""
    require(settings, "vault")
    assert settings.vault is not None
    vault = settings.vault
    aborted: list[UploadRow] = []
    failed: list[tuple[UploadRow, str]] = []
    with store_for(settings, on_event) as store:
        selected = [
            r for r in _rows(store, vault)
            if r.name is None or settings.filters.includes(r.name)
        ]
        if settings.dry_run:
            return AbortUploadsReport(vault, tuple(selected), dry_run=True)
        for row in selected:
            label = row.name or row.upload_id
            try:
                store.abort_multipart_upload(vault, row.upload_id)
            except GlacierlibError as exc:
                failed.append((row, str(exc)))
                on_event(FileSkipped(label, str(exc), error=True))
                continue
            aborted.append(row)
            on_event(FileDone(label, 0, "abort", detail=row.upload_id))
    return AbortUploadsReport(vault, tuple(aborted), tuple(failed))
