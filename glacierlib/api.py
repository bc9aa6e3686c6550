"""Calls for people who embed the library and want one thing done: "restore this one file".

The command-shaped operations (``restore`` then, hours later, ``restore_completed``) work on
every missing file of a tree, within caps. A script that needs one file back wants one call it
can repeat until the file is there::

    result = glacierlib.restore_file(settings, "photos/a.jpg", dest=Path("/tmp/a.jpg"))
    if result.status == "pending":
        ...  # a retrieval job runs (hours for Standard); call again later, from cron
    else:
        ...  # "done": result.path holds the file, tree-hash verified against the journal

Each call does at most one step, so repeating it is cheap and never pays twice: start a
retrieval job if the vault has none for the archive, report ``pending`` while it runs, download
and verify once it has succeeded, and report ``done`` (without downloading again) once the file
is there. Settings come from :func:`glacierlib.settings` or ``resolve_settings``; the target is
the Glacier vault of ``settings.vault`` (an S3 target would plug in at the same place).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Literal

import attrs

from glacierlib.config import Settings
from glacierlib.download import DownloadRequest, download_archives
from glacierlib.exceptions import ConfigError, GlacierlibError, VerificationError
from glacierlib.journal import ArchiveEntry, JournalWriter, read_journal
from glacierlib.names import safe_join
from glacierlib.operations._store import store_for
from glacierlib.operations.restore import require, retrieval_jobs_by_archive
from glacierlib.progress import FileDone, ProgressCallback, ignore_progress
from glacierlib.restore_plan import choose_segment_size
from glacierlib.storage import JobDescription, VaultStore
from glacierlib.treehash import tree_hash_file

__all__ = ["FileRestore", "NotInJournal", "RestoreFailed", "RestoreStatus", "restore_file"]

#: ``pending``: a retrieval job runs, call again later; ``done``: the file is in place.
RestoreStatus = Literal["pending", "done"]


class NotInJournal(GlacierlibError):
    """The journal has no live archive under this name: nothing to restore it from."""


class RestoreFailed(GlacierlibError):
    """The job's output could not be downloaded and verified; the next call resumes it."""


@attrs.frozen
class FileRestore:
    """Where the restore of one file stands after a :func:`restore_file` call.

    ``initiated`` says this call started the retrieval job (and recorded it in the journal);
    ``downloaded`` that this call wrote the file (``done`` without it: it was already there,
    and verified).
    """

    name: str
    path: Path
    archive_id: str
    size: int
    status: RestoreStatus
    job_id: str | None = None
    initiated: bool = False
    downloaded: bool = False

    @property
    def done(self) -> bool:
        return self.status == "done"


def _target(settings: Settings, name: str, dest: str | os.PathLike[str] | None
            ) -> tuple[Path, Path]:
    """(root, file) to write: ``dest`` (a file, or a directory to put it in) or ``dir/name``."""
    if dest is None:
        if settings.dir is None:
            raise ConfigError("restore_file needs dest= or settings with dir")
        return settings.dir, safe_join(settings.dir, name)
    path = Path(dest)
    if path.is_dir():
        path = path / PurePosixPath(name).name
    return path.parent, path


def _already_there(path: Path, entry: ArchiveEntry) -> bool:
    """True when ``path`` holds exactly this archive; refuse to overwrite anything else."""
    if not path.exists() and not path.is_symlink():
        return False
    if (path.is_file() and not path.is_symlink() and path.stat().st_size == entry.size
            and tree_hash_file(path) == entry.tree_hash):
        return True
    raise ConfigError(f"{path} exists and is not the archived {entry.name!r}; not overwritten",
                      hint="move it away or pass another dest=")


def _download(store: VaultStore, settings: Settings, entry: ArchiveEntry, job: JobDescription,
              *, root: Path, path: Path, on_event: ProgressCallback) -> None:
    assert settings.vault is not None
    if job.archive_size is not None and job.archive_size != entry.size:
        raise VerificationError(f"job {job.job_id} reports {job.archive_size} bytes, the "
                                f"journal says {entry.size} for {entry.name!r}")
    request = DownloadRequest(
        name=entry.name, root=root, target=path, vault=settings.vault, job_id=job.job_id,
        archive_id=entry.archive_id, size=entry.size, tree_hash=entry.tree_hash,
        job_tree_hash=job.archive_tree_hash, mtime=entry.mtime,
        segment_size=choose_segment_size(entry.size, settings.segment_size),
    )
    (outcome,) = download_archives(store, [request], concurrency=settings.concurrency,
                                   on_event=on_event, fsync=settings.fsync)
    if not outcome.ok:
        raise RestoreFailed(f"{entry.name}: {outcome.error}",
                            hint="call restore_file again: verified parts are kept")


def restore_file(
    settings: Settings, name: str, dest: str | os.PathLike[str] | None = None, *,
    on_event: ProgressCallback = ignore_progress,
) -> FileRestore:
    """Bring back the latest archive of ``name`` (as the journal spells it); one step per call.

    ``dest`` is the file to write, or an existing directory to write it into under its base
    name; by default ``settings.dir / name``. Needs ``settings.vault`` and
    ``settings.journal``; ``settings.tier`` and ``sns_topic`` apply to the job it starts.

    A new job is started only when the vault lists no in-progress or succeeded whole-archive
    retrieval of the archive (a failed or expired one is replaced), and it is recorded in the
    journal like ``restore`` does. With no job delay (``local_dir``), the job finishes at once
    and the same call downloads. An existing ``dest`` is never overwritten: if it already holds
    the archive (size and tree hash) the result is ``done``, otherwise ``ConfigError``.

    Raises :class:`NotInJournal`, :class:`RestoreFailed` (resumable), ``ConfigError``,
    ``JournalLockedError`` (when a job must be recorded while a sync holds the journal) and
    the service errors of the store.
    """
    require(settings, "vault", "journal")
    assert settings.vault is not None and settings.journal is not None
    if settings.dry_run:
        raise ConfigError("restore_file has no dry run", hint="build settings without dry_run")
    entry = read_journal(settings.journal).latest(name)
    if entry is None:
        raise NotInJournal(f"{name!r} is not in the journal {settings.journal}")
    root, path = _target(settings, name, dest)

    def result(status: RestoreStatus, job_id: str | None = None, *, initiated: bool = False,
               downloaded: bool = False) -> FileRestore:
        return FileRestore(name, path, entry.archive_id, entry.size, status, job_id,
                           initiated, downloaded)

    if _already_there(path, entry):
        return result("done")
    vault = settings.vault
    with store_for(settings, on_event) as store:
        succeeded, running = retrieval_jobs_by_archive(store.list_jobs(vault))
        job = succeeded.get(entry.archive_id) or running.get(entry.archive_id)
        initiated = False
        if job is None:
            with JournalWriter.open(settings.journal, fsync=settings.fsync) as writer:
                job_id = store.initiate_archive_retrieval(
                    vault, entry.archive_id, tier=settings.tier, sns_topic=settings.sns_topic)
                writer.retrieve_job(entry.archive_id, job_id)
            on_event(FileDone(name, entry.size, "retrieve", detail=job_id))
            job, initiated = store.describe_job(vault, job_id), True
        if not job.succeeded:
            return result("pending", job.job_id, initiated=initiated)
        _download(store, settings, entry, job, root=root, path=path, on_event=on_event)
    return result("done", job.job_id, initiated=initiated, downloaded=True)
