"""``restore``: initiate archive-retrieval jobs for journal files missing locally.

Retrieval costs money and hours, so this operation is careful about what it asks for:

* the latest archive of each missing file, in journal path order (mt-aws-glacier's order was
  random, so a capped run picked a random subset);
* at most ``--max-number-of-files`` files and ``--max-size`` bytes (one of them is required:
  an unbounded restore of a whole vault should be a decision, not an accident);
* never twice: an archive with a RETRIEVE_JOB record under 24 h old, or with an in-progress or
  succeeded retrieval job still in the vault's job list, is skipped;
* every initiated job is appended to the journal (RETRIEVE_JOB) at once, so a crash mid-run
  cannot lead to paying again for the jobs already started.

``--dry-run`` builds the same plan from the journal alone and touches neither the network nor
the journal.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from glacierlib.config import Settings
from glacierlib.exceptions import (
    AuthFailed,
    ConfigError,
    GlacierlibError,
    NoLongerSupported,
    PolicyEnforced,
    UnsafeNameError,
)
from glacierlib.journal import ArchiveEntry, JournalState, JournalWriter, read_journal
from glacierlib.metadata import parse_iso8601_or_none
from glacierlib.names import safe_join
from glacierlib.operations._store import store_for
from glacierlib.pacing import Pacer, RetrievalRate, schedule
from glacierlib.progress import (
    FileDone,
    FileSkipped,
    Notice,
    PlanReady,
    ProgressCallback,
    ignore_progress,
)
from glacierlib.restore_plan import (
    RestoreCandidate,
    RestorePlan,
    Retrieval,
    SkippedRestore,
    plan_restore,
)
from glacierlib.storage import JobDescription, RetrievalPolicy, VaultStore
from glacierlib.waiting import SYSTEM_CLOCK, Clock

if TYPE_CHECKING:
    from glacierlib.operations.restore_completed import RestoreCompletedReport

__all__ = [
    "FailedRetrieval",
    "InitiatedRetrieval",
    "RestoreReport",
    "missing_files",
    "restore",
    "retrieval_jobs_by_archive",
]


@attrs.frozen
class InitiatedRetrieval:
    """A retrieval job started (and recorded in the journal) for one file."""

    name: str
    archive_id: str
    size: int
    job_id: str
    #: When it was initiated (seconds since the epoch, on the run's clock).
    initiated_at: float = 0.0


@attrs.frozen
class FailedRetrieval:
    name: str
    archive_id: str
    error: str


@attrs.frozen
class RestoreReport:
    """The plan, and what was actually initiated (nothing with ``dry_run``)."""

    plan: RestorePlan
    initiated: tuple[InitiatedRetrieval, ...] = ()
    failed: tuple[FailedRetrieval, ...] = ()
    unsafe: tuple[SkippedRestore, ...] = ()
    dry_run: bool = False
    #: Left for later by ``--max-retrieval-rate`` (without ``--wait``: exit 75).
    paced: tuple[Retrieval, ...] = ()
    #: With ``--wait``: the downloads made as the jobs finished.
    downloads: RestoreCompletedReport | None = None
    #: Dry run with ``--max-retrieval-rate``: seconds until the last job would be initiated.
    pace_seconds: float | None = None

    @property
    def ok(self) -> bool:
        return not self.failed and (self.downloads is None or self.downloads.ok)


def require(settings: Settings, *fields: str) -> None:
    """Raise one ConfigError naming every missing mandatory option of this command."""
    missing = [f"--{f.replace('_', '-')}" for f in fields if getattr(settings, f) is None]
    if missing:
        raise ConfigError(f"missing mandatory option(s): {', '.join(missing)}")


def _name_max(root: Path) -> int:
    """The longest file name (in bytes) the filesystem of ``root`` takes; 255 if unknown."""
    probe = root
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        return os.pathconf(probe, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def _unwritable(name: str, target: Path, name_max: int) -> str | None:
    """Why ``target`` cannot be restored here, or ``None`` (free, or a file to replace).

    Raises ``FileExistsError`` when a regular file is there already (nothing to restore).
    Checked before anything is paid for or downloaded: a component longer than the
    filesystem takes (legal elsewhere, reachable through an inventory), a directory or other
    non-file in the file's place, a parent that is a file.
    """
    for part in name.split("/"):
        if len(os.fsencode(part)) > name_max:
            return (f"file name too long for this filesystem (a component of "
                    f"{len(os.fsencode(part))} bytes; the limit is {name_max})")
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be restored here: {exc.strerror}"
    if stat.S_ISREG(st.st_mode):
        raise FileExistsError(target)
    what = "a directory" if stat.S_ISDIR(st.st_mode) else "something that is not a file"
    return f"cannot be restored: {what} is in its place"


def missing_files(
    state: JournalState, root: Path,
) -> tuple[list[tuple[RestoreCandidate, ArchiveEntry]], list[SkippedRestore]]:
    """Latest archive of each journal file with no local regular file, in path order.

    Names that would resolve outside ``root`` (``..``, absolute, a symlinked directory
    leading out), and names the local filesystem cannot hold (``unwritable``), are returned
    separately, never as candidates: each is one line for the user, the others go on.
    """
    candidates: list[tuple[RestoreCandidate, ArchiveEntry]] = []
    unsafe: list[SkippedRestore] = []
    latest = state.latest_by_name()
    name_max = _name_max(root)
    for name in sorted(latest):
        entry = latest[name]
        try:
            target = safe_join(root, name)
            problem = _unwritable(name, target, name_max)
        except UnsafeNameError as exc:
            unsafe.append(SkippedRestore(name, entry.archive_id, exc.message))
            continue
        except FileExistsError:
            continue
        if problem is not None:
            unsafe.append(SkippedRestore(name, entry.archive_id, problem, unwritable=True))
            continue
        candidates.append((
            RestoreCandidate(name, entry.archive_id, entry.size, entry.tree_hash, entry.mtime),
            entry,
        ))
    return candidates, unsafe


def _is_whole_archive(job: JobDescription) -> bool:
    rng = job.retrieval_byte_range
    if rng is None or job.archive_size is None:
        return True
    return rng.start == 0 and rng.end == job.archive_size


def _job_time(job: JobDescription) -> tuple[int, int, str]:
    done = parse_iso8601_or_none(job.completion_date or "") or 0
    created = parse_iso8601_or_none(job.creation_date) or 0
    return (done, created, job.job_id)


def retrieval_jobs_by_archive(
    jobs: Iterable[JobDescription],
) -> tuple[dict[str, JobDescription], dict[str, JobDescription]]:
    """Whole-archive retrieval jobs, split into (succeeded, in progress) by archive id.

    When an archive has several, the newest completion wins (its output expires last); ties
    go to the greatest job id so the choice never depends on listing order.
    """
    succeeded: dict[str, JobDescription] = {}
    running: dict[str, JobDescription] = {}
    for job in jobs:
        if job.action != "ArchiveRetrieval" or not job.archive_id or not _is_whole_archive(job):
            continue
        if job.succeeded:
            best = succeeded.get(job.archive_id)
            if best is None or _job_time(job) > _job_time(best):
                succeeded[job.archive_id] = job
        elif not job.completed and job.status_code == "InProgress":
            best = running.get(job.archive_id)
            if best is None or _job_time(job) > _job_time(best):
                running[job.archive_id] = job
    return succeeded, running


def _budget_text(pacer: Pacer | None) -> str:
    return " and ".join(str(r) for r in pacer.rates) if pacer is not None else "none"


def _pacer(settings: Settings, store: VaultStore, state: JournalState,
           on_event: ProgressCallback, now: float) -> Pacer | None:
    """The retrieval budget: ``--max-retrieval-rate`` and the vault's policy, if any.

    The policy (BytesPerHour) limits Standard retrievals only, as on AWS; FreeTier cannot be
    computed here (it depends on the month's usage), so it is named and the service decides.
    Jobs recorded in the journal within the last day count against the budget, so a rerun
    does not start a fresh hour.
    """
    rates: list[RetrievalRate] = []
    if settings.max_retrieval_rate is not None:
        rates.append(settings.max_retrieval_rate)
    if settings.tier == "Standard":
        try:
            policy = store.get_data_retrieval_policy()
        except NoLongerSupported:
            raise
        except GlacierlibError as exc:  # e.g. an IAM policy without GetDataRetrievalPolicy
            on_event(Notice(f"could not read the data retrieval policy ({exc}); the service "
                            "still enforces it", level="warning"))
            policy = RetrievalPolicy("None")
        if policy.strategy == "BytesPerHour" and policy.bytes_per_hour:
            rates.append(RetrievalRate(policy.bytes_per_hour, 3600))
            on_event(Notice(f"the data retrieval policy allows {policy.bytes_per_hour} bytes "
                            "per hour: jobs are paced to stay under it"))
        elif policy.strategy == "FreeTier":
            on_event(Notice("the data retrieval policy is FreeTier: the service refuses "
                            "retrievals beyond the free allowance"))
    if not rates:
        return None
    sizes = {a.archive_id: a.size for a in state.latest_by_name().values()}
    history = [(float(t), sizes[aid]) for aid, t in state.retrieve_jobs.items()
               if aid in sizes and now - t < 86400]
    return Pacer(rates, history)


def _vault_jobs(store: VaultStore, vault: str) -> Mapping[str, str]:
    succeeded, running = retrieval_jobs_by_archive(store.list_jobs(vault))
    live = {aid: f"succeeded (job {job.job_id})" for aid, job in succeeded.items()}
    live.update({aid: f"in progress (job {job.job_id})" for aid, job in running.items()})
    return live


def restore(settings: Settings, on_event: ProgressCallback = ignore_progress, *,
            clock: Clock = SYSTEM_CLOCK) -> RestoreReport:
    """Initiate retrieval jobs for missing files, within the caps; see the module docstring."""
    require(settings, "dir", "vault", "journal")
    if settings.max_number_of_files is None and settings.max_size is None:
        raise ConfigError(
            "restore needs a limit: --max-number-of-files and/or --max-size",
            hint="retrieval is billed per byte; say how much to retrieve in this run",
        )
    assert settings.dir is not None and settings.vault is not None
    assert settings.journal is not None
    root, vault = settings.dir, settings.vault
    now = int(clock.now())

    def make_plan(state: JournalState, vault_jobs: Mapping[str, str]) -> tuple[
        RestorePlan, list[SkippedRestore], dict[str, RestoreCandidate]
    ]:
        found, unsafe = missing_files(state, root)
        plan = plan_restore(
            (c for c, _e in found), now=now, tier=settings.tier,
            journal_jobs=state.retrieve_jobs, vault_jobs=vault_jobs,
            max_number_of_files=settings.max_number_of_files, max_size=settings.max_size,
        )
        return plan, unsafe, {c.archive_id: c for c, _e in found}

    def report(plan: RestorePlan, unsafe: list[SkippedRestore], *,
               initiated: tuple[InitiatedRetrieval, ...] = (),
               failed: tuple[FailedRetrieval, ...] = (), dry_run: bool = False,
               ) -> RestoreReport:
        # Names the filesystem cannot hold are failures of this run (exit 1); each was
        # reported once, as a FileSkipped error, when it was found.
        unwritable = tuple(FailedRetrieval(u.name, u.archive_id, u.reason)
                           for u in unsafe if u.unwritable)
        return RestoreReport(plan, initiated, unwritable + failed,
                             tuple(u for u in unsafe if not u.unwritable), dry_run)

    if settings.dry_run:
        state = read_journal(settings.journal, filters=settings.filters)
        plan, unsafe, _ = make_plan(state, {})
        for skipped in unsafe:
            on_event(FileSkipped(skipped.name, skipped.reason, error=True))
        pace: float | None = None
        if settings.max_retrieval_rate is not None:
            times = schedule([settings.max_retrieval_rate], [r.size for r in plan.retrievals])
            known = [t for t in times if t is not None]
            pace = max(known) if known else 0.0
        return attrs.evolve(report(plan, unsafe, dry_run=True), pace_seconds=pace)

    initiated: list[InitiatedRetrieval] = []
    failed: list[FailedRetrieval] = []
    paced: tuple[Retrieval, ...] = ()
    fetched: RestoreCompletedReport | None = None
    with JournalWriter.open(settings.journal, fsync=settings.fsync,
                            filters=settings.filters) as writer:
        found, _unsafe = missing_files(writer.state, root)
        if not found:
            plan, unsafe, _ = make_plan(writer.state, {})
            for skipped in unsafe:
                on_event(FileSkipped(skipped.name, skipped.reason, error=True))
            return report(plan, unsafe)
        with store_for(settings, on_event) as store:
            from glacierlib.operations.restore_completed import download_as_ready

            plan, unsafe, _ = make_plan(writer.state, _vault_jobs(store, vault))
            for skipped in unsafe:
                on_event(FileSkipped(skipped.name, skipped.reason, error=True))
            for skipped in plan.skipped:
                on_event(FileSkipped(skipped.name, skipped.reason))
            on_event(PlanReady(plan.count, plan.total_bytes, complete=True))
            if plan.deferred:
                on_event(Notice(
                    f"{plan.deferred} more file(s), {plan.deferred_bytes} bytes, left for a "
                    "later run by --max-number-of-files/--max-size"
                ))
            pacer = (_pacer(settings, store, writer.state, on_event, now)
                     if plan.retrievals else None)
            queue = list(plan.retrievals)
            refused: list[FailedRetrieval] = []

            def initiate_due() -> tuple[frozenset[str], float | None]:
                """Initiate the queued jobs the budget allows now; (ids left, wake in)."""
                while queue:
                    item = queue[0]
                    at = clock.now()
                    delay = pacer.delay_for(item.size, at) if pacer is not None else 0.0
                    if delay is None:
                        queue.pop(0)
                        why = (f"{item.size} bytes is more than the retrieval budget allows "
                               f"({_budget_text(pacer)}); it can never be requested under it")
                        refused.append(FailedRetrieval(item.name, item.archive_id, why))
                        on_event(FileSkipped(item.name, why, error=True))
                        continue
                    if delay > 0:
                        return frozenset(q.archive_id for q in queue), delay
                    try:
                        job_id = store.initiate_archive_retrieval(
                            vault, item.archive_id, tier=settings.tier,
                            sns_topic=settings.sns_topic,
                        )
                    except PolicyEnforced as exc:
                        raise PolicyEnforced(
                            f"the vault's data retrieval policy refused archive "
                            f"{item.archive_id} ({item.name}, {item.size} bytes): {exc.message}",
                            hint="lower --max-retrieval-rate, use another --tier, or change "
                                 "the policy (GetDataRetrievalPolicy)",
                        ) from exc
                    except (AuthFailed, NoLongerSupported):
                        raise
                    except GlacierlibError as exc:
                        queue.pop(0)
                        failed.append(FailedRetrieval(item.name, item.archive_id, str(exc)))
                        on_event(FileSkipped(item.name, str(exc), error=True))
                        continue
                    queue.pop(0)
                    writer.retrieve_job(item.archive_id, job_id)
                    if pacer is not None:
                        pacer.record(item.size, at)
                    initiated.append(InitiatedRetrieval(item.name, item.archive_id, item.size,
                                                        job_id, at))
                    on_event(FileDone(item.name, item.size, "retrieve", detail=job_id))
                return frozenset(), None

            later, _wake = initiate_due()
            if settings.wait:
                wanted = {r.archive_id for r in plan.retrievals} | {
                    s.archive_id for s in plan.skipped}
                fetched = download_as_ready(
                    settings, store, [(c, e) for c, e in found if c.archive_id in wanted], (),
                    on_event, clock=clock, before_check=initiate_due, tier=settings.tier)
            elif later:
                on_event(Notice(
                    f"{len(queue)} retrieval(s), {sum(q.size for q in queue)} bytes, deferred "
                    f"by the retrieval budget ({_budget_text(pacer)}); run again later or use "
                    "--wait"))
            failed.extend(refused)
            paced = tuple(Retrieval(q.name, q.archive_id, q.size) for q in queue)
    return attrs.evolve(report(plan, unsafe, initiated=tuple(initiated), failed=tuple(failed)),
                        paced=paced, downloads=fetched)
