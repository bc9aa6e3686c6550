"""``upload-file``: one file, or a stream of unknown size, as one archive in the journal.

Three ways to name what is stored, as in mt-aws-glacier: ``--filename F --dir D`` (the name
is F's path relative to D, both resolved), ``--filename F --set-rel-filename R``, and
``--stdin --set-rel-filename R``. A name already live in the journal is refused: a second
archive under one name is what ``sync --replace-modified`` is for.

A stream is read one part at a time into a held executor slot, so memory stays within
``concurrency x part size`` whatever its length; up to one part it is a single request. Its
recorded mtime is the time the upload started (mt-aws-glacier's rule).

Multipart uploads are recorded in ``<journal>.uploads`` as sync's are: a file's interrupted
upload is resumed by the next ``upload-file`` of it (or by ``sync``), and a stream's, which
nothing can resume, is aborted by the next ``upload-file`` or ``sync`` on the journal. Archives
an earlier run stored but could not journal are recorded first (:mod:`glacierlib.unrecorded`).
A failure is raised, and not also reported as a progress event: it is shown once.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import ExitStack
from typing import BinaryIO

import attrs

from glacierlib.config import Settings
from glacierlib.exceptions import ConfigError, GlacierlibError, UnsafeNameError
from glacierlib.executor import Executor
from glacierlib.journal import JournalWriter
from glacierlib.metadata import encode_mt2
from glacierlib.names import validate_relative_name
from glacierlib.operations._store import store_for, upload_processes_for
from glacierlib.plan import Upload, choose_part_size
from glacierlib.progress import (
    FileDone,
    FileSkipped,
    Notice,
    PlanReady,
    ProgressCallback,
    ProgressEvent,
    ignore_progress,
)
from glacierlib.stream_upload import StreamingExecutor
from glacierlib.treehash import TreeHash
from glacierlib.unrecorded import UnrecordedLog, default_state_dir, recover_unrecorded
from glacierlib.upload import ResumeState, resume_path
from glacierlib.walk import LocalFile

__all__ = ["UploadReport", "upload_file"]


class NameInJournal(GlacierlibError):
    """The relative name is already live in the journal; storing it twice is refused."""


@attrs.frozen
class UploadReport:
    """The archive created, as recorded in the journal."""

    name: str
    archive_id: str
    size: int
    tree_hash: TreeHash
    mtime: int


def _relative_name(settings: Settings) -> str:
    if settings.set_rel_filename is not None:
        try:
            return validate_relative_name(settings.set_rel_filename)
        except UnsafeNameError as exc:
            raise ConfigError(f"--set-rel-filename: {exc}") from None
    if settings.filename is None or settings.dir is None:
        raise ConfigError("upload-file needs --filename with --dir or --set-rel-filename, or "
                          "--stdin with --set-rel-filename")
    real_dir = os.path.realpath(settings.dir)
    real_file = os.path.realpath(settings.filename)
    rel = os.path.relpath(real_file, real_dir)
    if rel == os.curdir or rel.startswith(os.pardir + os.sep) or rel == os.pardir:
        raise ConfigError(f"{settings.filename} is not inside {settings.dir}",
                          hint="use --set-rel-filename to choose the name")
    return validate_relative_name(rel.replace(os.sep, "/"))


def _check_mode(settings: Settings) -> None:
    if settings.stdin:
        if settings.filename is not None:
            raise ConfigError("--stdin and --filename cannot be used together")
        if settings.set_rel_filename is None:
            raise ConfigError("--stdin needs --set-rel-filename")
    elif settings.filename is None:
        raise ConfigError("upload-file needs --filename or --stdin")


def upload_file(
    settings: Settings, on_event: ProgressCallback = ignore_progress, *,
    stream: BinaryIO | None = None,
) -> UploadReport:
    """Upload ``settings.filename`` (or ``stream``, or standard input with ``settings.stdin``).

    Raises :class:`NameInJournal` if the name is live in the journal, ``ConfigError`` for
    a bad combination of options or an empty/unreadable file, and the store's errors.
    """
    _check_mode(settings)
    if settings.stdin and stream is None and sys.stdin is None:  # started with ``<&-``
        raise ConfigError("--stdin: standard input is closed; nothing to upload")
    if settings.vault is None or settings.journal is None:
        raise ConfigError("upload-file needs --vault and --journal")
    name = _relative_name(settings)
    local: LocalFile | None = None
    if not settings.stdin:
        assert settings.filename is not None
        try:
            st = os.stat(settings.filename)
        except OSError as exc:
            raise ConfigError(f"{settings.filename}: cannot read: {exc.strerror}") from None
        if not os.path.isfile(settings.filename):
            raise ConfigError(f"{settings.filename}: not a regular file")
        if st.st_size == 0:
            raise ConfigError(f"{settings.filename}: empty file (Glacier cannot store an "
                              "empty archive)")
        local = LocalFile(name, os.fspath(settings.filename), st.st_size, st.st_mtime_ns,
                          ctime_ns=st.st_ctime_ns)
    started = int(time.time())
    mtime = local.mtime if local is not None else started
    description = encode_mt2(name, mtime)
    vault = settings.vault
    events = _without_failures(on_event)
    state_dir = default_state_dir()
    # The store first: under --local it locks the data directory, so a run refused there
    # (another run holds it) has not created the journal yet.
    stores = ExitStack()
    store = stores.enter_context(
        store_for(settings, on_event, upload_processes=upload_processes_for(settings)))
    with stores, JournalWriter.open(settings.journal, fsync=settings.fsync) as journal:
        for path in recover_unrecorded(journal, state_dir):
            on_event(Notice(f"recorded the archives an earlier run could not journal ({path})"))
        if journal.state.latest(name) is not None:
            raise NameInJournal(
                f"{name}: a file with this name is already in the journal {settings.journal}",
                hint="upload-file does not store several versions of one name; use sync "
                     "--replace-modified")
        resume = ResumeState.open(resume_path(settings.journal), fsync=settings.fsync)
        try:
            with stores:  # the store closes here, before the journal
                if settings.local_dir is not None:
                    store.create_vault(vault)
                with StreamingExecutor(
                        store, vault, journal, concurrency=settings.concurrency,
                        part_size=settings.part_size, on_event=events, resume=resume,
                        single_request_uploads=not settings.multipart_only,
                        unrecorded_log=UnrecordedLog(settings.journal, state_dir),
                ) as executor:
                    stopped = False
                    try:
                        executor.abort_streams()
                        if local is not None:
                            return _upload_local(executor, journal, local, description,
                                                 settings.part_size, on_event=events)
                        source = stream if stream is not None else sys.stdin.buffer
                        done = executor.upload_stream(
                            source, name, description, mtime=mtime,
                            size_hint=settings.check_max_file_size)
                    except KeyboardInterrupt:  # Ctrl-C, or the CLI's SIGTERM/SIGHUP
                        stopped = True
                        executor.close()  # requests in flight finish (and are journaled)
                        executor.abort_stopped_stream()
                        executor.abort_strays(after_stop=True)
                        raise
                    finally:
                        if not stopped:
                            executor.abort_strays()
        finally:
            resume.close()
    on_event(FileDone(name, done.size, "upload", done.archive_id))
    if settings.check_max_file_size is not None and done.size > settings.check_max_file_size:
        on_event(Notice(f"{name}: {done.size} bytes read, more than --check-max-file-size",
                        "warning"))
    return UploadReport(name, done.archive_id, done.size, done.tree_hash, mtime)


def _upload_local(executor: Executor, journal: JournalWriter, local: LocalFile,
                  description: str, part_size: int, *,
                  on_event: ProgressCallback) -> UploadReport:
    name, mtime = local.rel, local.mtime
    size_part, raised = choose_part_size(local.size, part_size)
    on_event(PlanReady(1, local.size, complete=True))
    report = executor.run([Upload(local, description, size_part, raised)])
    if report.changed:
        raise GlacierlibError(f"{name}: the file changed while it was uploaded; nothing was "
                              "recorded")
    if report.failed:
        raise GlacierlibError(f"{name}: {report.failed[0].reason}")
    entry = journal.state.latest(name)
    assert entry is not None
    return UploadReport(name, entry.archive_id, entry.size, entry.tree_hash, mtime)


def _without_failures(on_event: ProgressCallback) -> ProgressCallback:
    """The caller's callback minus per-file failures: upload-file raises its one failure."""

    def forward(event: ProgressEvent) -> None:
        if not (isinstance(event, FileSkipped) and event.error):
            on_event(event)

    return forward
