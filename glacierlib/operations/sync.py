"""``sync``: back a directory tree up to a vault, tracked in the journal.

Walk, plan, execute, as one stream: :func:`glacierlib.walk.walk_tree` feeds
:func:`glacierlib.plan.plan_sync`, whose actions the :class:`~glacierlib.executor.Executor`
pulls only when it has a free slot. Multipart uploads are recorded in ``<journal>.uploads``
(:mod:`glacierlib.upload`) so an interrupted run's uploads are resumed by the next one, and
the ones nothing needs any more are aborted. With ``dry_run`` the plan is handed to ``on_plan`` and
nothing else happens: no store is built, no request is sent, and the journal is only read
(a missing journal is not created, unlike mt-aws-glacier).

``--delete-removed`` deletes only what the walk proved absent (see :mod:`glacierlib.plan`):
the deletions a walk problem held back are counted in the report (:attr:`SyncReport.held_back`)
and logged, on a dry run too. The journal and its side files are never backed up when they
live inside ``--dir``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path

import attrs

from glacierlib.config import Settings
from glacierlib.exceptions import ConfigError
from glacierlib.executor import ExecutionReport, Executor
from glacierlib.journal import JournalState, JournalWriter, read_journal
from glacierlib.operations._gc import freeze_long_lived
from glacierlib.operations._store import store_for, upload_processes_for
from glacierlib.plan import (
    Action,
    JournalSnapshot,
    Replace,
    Skip,
    SyncOptions,
    Upload,
    plan_sync,
)
from glacierlib.progress import Notice, PlanReady, ProgressCallback, ignore_progress
from glacierlib.unrecorded import UnrecordedLog, default_state_dir, recover_unrecorded
from glacierlib.upload import ResumeState, resume_path
from glacierlib.walk import LocalFile, WalkEntry, WalkProblem, not_absent, walk_tree

__all__ = ["SyncReport", "sync", "sync_options"]

logger = logging.getLogger(__name__)

PlanCallback = Callable[[Action], None]


@attrs.frozen
class SyncReport:
    """The outcome of a sync; ``ok`` is false when a file failed or could not be stored.

    With ``dry_run``, ``planned`` counts the actions handed to ``on_plan`` and ``result`` holds
    only the skips the plan found.
    """

    result: ExecutionReport
    dry_run: bool = False
    planned: int = 0
    journal_warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.result.ok

    @property
    def held_back(self) -> int:
        """Archives ``--delete-removed`` kept because the walk could not prove them absent."""
        return sum(s.kept for s in self.result.skipped if s.kind == "kept")


def sync_options(settings: Settings) -> SyncOptions:
    """The planner's options from the settings (one place, reused by the examples)."""
    return SyncOptions(
        new=settings.new, replace_modified=settings.replace_modified,
        delete_removed=settings.delete_removed, detect=settings.detect,
        max_number_of_files=settings.max_number_of_files, part_size=settings.part_size,
    )


def _require(settings: Settings) -> tuple[Path, str, Path]:
    if settings.dir is None:
        raise ConfigError("sync needs --dir")
    if settings.vault is None:
        raise ConfigError("sync needs --vault")
    if settings.journal is None:
        raise ConfigError("sync needs --journal")
    if not settings.dir.is_dir():
        raise ConfigError(f"{settings.dir}: not a directory", hint="check --dir")
    return settings.dir, settings.vault, settings.journal


def _dry_run(settings: Settings, root: Path, journal: Path, on_event: ProgressCallback,
             on_plan: PlanCallback | None) -> SyncReport:
    state = read_journal(journal, filters=settings.filters)
    planned = 0
    skipped: list[Skip] = []
    for action in plan_sync(_walk(settings, root, journal), state, sync_options(settings),
                            not_absent=not_absent(root)):
        planned += 1
        if isinstance(action, Skip):
            skipped.append(action)
        if on_plan is not None:
            on_plan(action)
    report = SyncReport(ExecutionReport(skipped=tuple(skipped)), dry_run=True, planned=planned,
                        journal_warnings=tuple(state.warnings))
    _log_held_back(report)
    return report


def _walk(settings: Settings, root: Path, journal: Path) -> Iterator[WalkEntry]:
    return walk_tree(root, filters=settings.filters, follow=settings.follow, journal=journal,
                     server_dir=settings.local_dir)


def _log_held_back(report: SyncReport) -> None:
    if report.held_back:
        reasons = "; ".join(f"{s.display}: {s.reason}" for s in report.result.skipped
                            if s.kind == "kept")
        logger.info("--delete-removed held back %d deletion(s): %s", report.held_back, reasons)


def _work(action: Action) -> tuple[int, int]:
    """(files, bytes) an action adds to the totals, counted as the executor counts them."""
    if isinstance(action, Skip):
        return 0, 0
    return 1, action.file.size if isinstance(action, Upload | Replace) else 0


def _final_totals(actions: Iterable[Action], on_event: ProgressCallback, *,
                  before: Callable[[], None]) -> Iterator[Action]:
    """Pass the plan through; once it runs out, tell ``on_event`` the exact totals.

    ``before`` stops the count ahead first, so its estimate never arrives after them.
    """
    files = size = 0
    for action in actions:
        more_files, more_bytes = _work(action)
        files += more_files
        size += more_bytes
        yield action
    before()
    on_event(PlanReady(files, size, complete=True))


def _count_ahead(settings: Settings, state: JournalState, *, journal_names: int,
                 on_event: ProgressCallback, stop: threading.Event) -> None:
    """Walk and plan once more, ahead of the executor, only to count the work (restic's way).

    The executor pulls the real plan only when a slot is free, so without this the totals
    would grow until the last file. The count plans without deletions (planning them iterates
    the journal while the executor appends); they are counted as the journal's names
    (``journal_names``, taken before the executor started) that the walk did not find. A
    lookup can race with this run's own uploads only if the count falls behind them, which can
    only shrink it; the real plan's final totals (:func:`_final_totals`) correct that.
    """
    try:
        _count(settings, state, journal_names=journal_names, on_event=on_event, stop=stop)
    except Exception as exc:  # only a count: the real plan meets and reports the same problem
        logger.debug("counting ahead stopped: %s", exc)


def _count(settings: Settings, state: JournalState, *, journal_names: int,
           on_event: ProgressCallback, stop: threading.Event) -> None:
    root, _vault, journal = _require(settings)
    options = sync_options(settings)
    snapshot = JournalSnapshot(state)
    present = 0
    hidden = False  # a walk problem hid names: the deletions cannot be counted from here

    def entries() -> Iterator[WalkEntry]:
        nonlocal present, hidden
        for entry in _walk(settings, root, journal):
            if stop.is_set():
                return
            if options.delete_removed:
                if isinstance(entry, LocalFile) and snapshot.has(entry.rel):
                    present += 1  # an emptied file too: it is kept, not deleted
                elif isinstance(entry, WalkProblem) and entry.unproven is not None:
                    hidden = True
            yield entry

    files = size = 0
    last = time.monotonic()
    for action in plan_sync(entries(), state, attrs.evolve(options, delete_removed=False)):
        more_files, more_bytes = _work(action)
        files += more_files
        size += more_bytes
        if time.monotonic() - last > 0.5:
            on_event(PlanReady(files, size))
            last = time.monotonic()
    if stop.is_set():
        return
    files += max(0, journal_names - present)
    if options.max_number_of_files is not None:
        files = min(files, options.max_number_of_files)
    on_event(PlanReady(files, size, complete=not hidden))


def sync(
    settings: Settings, on_event: ProgressCallback = ignore_progress, *,
    on_plan: PlanCallback | None = None, count_first: bool = False,
) -> SyncReport:
    """Upload new (and, on request, modified) files of ``settings.dir``; delete removed ones.

    Raises :class:`~glacierlib.exceptions.JournalLockedError` at once if another run holds the
    journal, and the fatal errors of the executor (credentials, missing vault). Per-file
    problems are in the report. Under ``--local`` the vault is created if it does not exist,
    so a first sync is one command. ``count_first`` counts the work in a second, parallel walk
    so that ``on_event`` gets final totals (``PlanReady.complete``) early, for a progress bar;
    without it they are final only when the plan runs out near the end.
    """
    root, vault, journal = _require(settings)
    if settings.dry_run:
        return _dry_run(settings, root, journal, on_event, on_plan)
    # The store first: under --local it locks the data directory, so a run refused there
    # (another run holds it) has not created the journal yet. Closed before the journal.
    stores = ExitStack()
    store = stores.enter_context(
        store_for(settings, on_event, upload_processes=upload_processes_for(settings)))
    try:
        writer = JournalWriter.open(journal, fsync=settings.fsync, filters=settings.filters)
    except BaseException:
        stores.close()
        raise
    state_dir = default_state_dir()
    # A million-line journal is millions of long-lived objects; without this, every full
    # collection triggered by the walk's short-lived allocations scans them all again
    # (measured: 24 s -> 11 s for walk and plan over 1M files). Undone when the sync ends;
    # skipped when the embedding process froze or disabled the collector itself.
    thaw = freeze_long_lived()
    try:
        for warning in writer.warnings:
            on_event(Notice(warning, "warning"))
        # Before planning: archives an earlier run stored but could not journal are not
        # uploaded again.
        for path in recover_unrecorded(writer, state_dir):
            on_event(Notice(f"recorded the archives an earlier run could not journal ({path})"))
        with stores:
            if settings.local_dir is not None:
                store.create_vault(vault)
            stop_counting = threading.Event()
            counter = threading.Thread(
                target=_count_ahead, name="glacierlib-count", daemon=True,
                args=(settings, writer.state),
                kwargs={"on_event": on_event, "stop": stop_counting, "journal_names":
                        len(writer.state.names_sorted())
                        if count_first and settings.delete_removed else 0})

            def stop_count() -> None:
                stop_counting.set()
                if counter.is_alive():
                    counter.join()

            entries = _walk(settings, root, journal)
            actions = _final_totals(plan_sync(entries, writer.state, sync_options(settings),
                                              not_absent=not_absent(root)),
                                    on_event, before=stop_count)
            if count_first:
                JournalSnapshot(writer.state)  # builds the name index here, not in two threads
                counter.start()
            resume = ResumeState.open(resume_path(journal), fsync=settings.fsync)
            try:
                with Executor(store, vault, writer, concurrency=settings.concurrency,
                              part_size=settings.part_size, on_event=on_event,
                              resume=resume, unrecorded_log=UnrecordedLog(journal, state_dir),
                              single_request_uploads=not settings.multipart_only) as executor:
                    executor.abort_streams()
                    try:
                        result = executor.run(actions)
                    except KeyboardInterrupt:  # Ctrl-C, or the CLI's SIGTERM/SIGHUP
                        executor.close()  # the requests in flight finish and are journaled
                        executor.abort_strays(after_stop=True)
                        raise
                    strays = executor.abort_strays()
                    if strays:
                        on_event(Notice(f"aborted {strays} stray upload(s) left by lost "
                                        "replies of the service"))
                    if settings.max_number_of_files is None:
                        stale = executor.abort_leftovers()
                        if stale:
                            on_event(Notice(f"aborted {stale} interrupted upload(s) of files "
                                            "that no longer need them"))
            finally:
                stop_count()
                resume.close()
        warnings = tuple(writer.warnings)
    finally:
        thaw()
        stores.close()
        writer.close()
    logger.info("sync of %s: %d uploaded, %d deleted, %d failed", root, result.uploaded,
                result.deleted, len(result.failed))
    report = SyncReport(result, journal_warnings=warnings)
    _log_held_back(report)
    return report
