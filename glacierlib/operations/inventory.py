"""``retrieve-inventory`` and ``download-inventory``: rebuild a journal from the vault itself.

When the journal is lost, the vault's inventory is the only list of what is stored. Fixes over
mt-aws-glacier:

* The newest finished full inventory is chosen by parsed dates with a deterministic
  tie-break (mt-aws-glacier compared date strings and took the first listed on a tie).
* The body is parsed as a stream (:mod:`glacierlib.inventory`) and journal lines are written
  as they come: a million archives fit in bounded memory (its issue #135).
* Names are decoded with :mod:`glacierlib.metadata` (mt2, mt1 and other tools' formats). A name
  that is unsafe (``../x``, ``/abs``, control characters) or not recognised falls back to the
  archive id with a report line, instead of a crash mid-file.
* The new journal is written to a temporary file next to it, fsynced and renamed: never a
  half-written journal, and an existing non-empty ``--new-journal`` is refused up front.
* No finished inventory raises :class:`~glacierlib.exceptions.NothingReadyYet` (exit 75), not
  ``OK DONE`` (its issue #136); when every finished one failed and none is running,
  :class:`~glacierlib.exceptions.InventoryJobFailed` (exit 1) says so instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import attrs

from glacierlib.config import Settings
from glacierlib.exceptions import (
    ConfigError,
    InventoryError,
    InventoryJobFailed,
    NothingReadyYet,
    UnsafeNameError,
)
from glacierlib.inventory import InventoryArchive, InventoryReader, open_inventory
from glacierlib.journal import JournalRecord
from glacierlib.metadata import (
    INVENTORY_JOB_DESCRIPTION,
    days_from_civil,
    decode_description,
    parse_iso8601_or_none,
)
from glacierlib.names import is_safe_relative_name, storable_name
from glacierlib.operations._store import store_for
from glacierlib.operations.restore import require
from glacierlib.progress import FileSkipped, Notice, ProgressCallback, ignore_progress
from glacierlib.storage import JobDescription, VaultStore
from glacierlib.waiting import SYSTEM_CLOCK, Clock, WaitPolicy, WaitStatus, wait_for

__all__ = [
    "DownloadInventoryReport",
    "InventoryJobStarted",
    "NameFallback",
    "await_inventory_job",
    "download_inventory",
    "inventory_to_journal",
    "newest_inventory_job",
    "open_inventory_output",
    "retrieve_inventory",
]

MAX_REPORTED_FALLBACKS = 1000
#: A finished inventory job's output stays downloadable about this long.
DAY = 86400.0


@attrs.frozen
class InventoryJobStarted:
    """The job; with ``--wait``: ``ready``, and what was written to ``--new-journal``."""

    job_id: str
    format: str
    ready: bool = False
    journal: DownloadInventoryReport | None = None


@attrs.frozen
class NameFallback:
    """An archive written under its archive id, and why its description gave no usable name."""

    archive_id: str
    reason: str


@attrs.frozen
class DownloadInventoryReport:
    """The job used, how many archives became journal lines, and the name fallbacks.

    ``fallbacks`` keeps the first :data:`MAX_REPORTED_FALLBACKS` cases;
    ``fallback_count`` counts them all.
    """

    job_id: str
    format: str
    inventory_date: str | None
    archives: int
    new_journal: Path
    fallbacks: tuple[NameFallback, ...] = ()
    fallback_count: int = 0
    unsafe_count: int = 0


def retrieve_inventory(
    settings: Settings, on_event: ProgressCallback = ignore_progress, *,
    clock: Clock = SYSTEM_CLOCK,
) -> InventoryJobStarted:
    """Initiate a full inventory-retrieval job (JSON or CSV) with mt-aws-glacier's marker.

    With ``settings.wait`` a full inventory job of the same format already in progress is
    reused (a rerun after ``--wait-timeout`` or Ctrl-C starts nothing new), the job is watched
    until it finishes, and with ``settings.new_journal`` its output is written there.
    """
    require(settings, "vault")
    assert settings.vault is not None
    fmt = settings.request_inventory_format.upper()
    with store_for(settings, on_event) as store:
        running = (_running_inventory(store, settings.vault, fmt, fresh_since=clock.now() - DAY)
                   if settings.wait else None)
        if running is not None:
            job_id = running.job_id
            on_event(Notice(f"Reusing the inventory job started at {running.creation_date}, "
                            f"job id {job_id}"))
        else:
            job_id = store.initiate_inventory_retrieval(
                settings.vault, format=fmt, description=INVENTORY_JOB_DESCRIPTION,
                sns_topic=settings.sns_topic,
            )
            on_event(Notice(f"Retrieved Inventory, job id {job_id}"))
        if not settings.wait:
            return InventoryJobStarted(job_id, fmt)
        job = await_inventory_job(settings, store, job_id, on_event, clock=clock)
        written = None
        if settings.new_journal is not None:
            written = _write_journal(settings, store, job, on_event)
    return InventoryJobStarted(job_id, fmt, ready=True, journal=written)


def _running_inventory(store: VaultStore, vault: str, fmt: str | None = None, *,
                       fresh_since: float | None = None) -> JobDescription | None:
    """The newest full inventory job still in progress (of ``fmt`` if given), if any.

    With ``fresh_since`` (epoch seconds), a succeeded one created since then counts too: a
    rerun after a timeout or an interrupt must not pay for a second inventory.
    """
    best: JobDescription | None = None
    for job in store.list_jobs(vault):
        if job.action != "InventoryRetrieval" or not _is_full_inventory(job):
            continue
        if job.completed and not (
                fresh_since is not None and job.succeeded
                and (parse_iso8601_or_none(job.creation_date) or 0) >= fresh_since):
            continue
        if fmt is not None and (job.inventory_format or "JSON").upper() != fmt:
            continue
        if best is None or _inventory_key(job) > _inventory_key(best):
            best = job
    return best


def await_inventory_job(
    settings: Settings, store: VaultStore, job_id: str, on_event: ProgressCallback, *,
    clock: Clock = SYSTEM_CLOCK,
) -> JobDescription:
    """Watch one inventory job with DescribeJob until it finishes (``--wait``).

    One job: DescribeJob is the precise question. A failed job raises InventoryJobFailed;
    ``--wait-timeout`` raises WaitTimedOut (exit 75).
    """
    assert settings.vault is not None
    vault = settings.vault
    seen: list[JobDescription] = []

    def step() -> WaitStatus:
        job = store.describe_job(vault, job_id)
        seen.append(job)
        return WaitStatus(0 if job.completed else 1, done=1 if job.succeeded else 0,
                          failed=1 if job.completed and not job.succeeded else 0)

    policy = WaitPolicy.for_tier("Inventory", poll_interval=settings.poll_interval,
                                 timeout=settings.wait_timeout)
    wait_for(step, policy, clock=clock, on_event=on_event, what="inventory job(s)")
    job = seen[-1]
    if not job.succeeded:
        raise InventoryJobFailed(
            f"the inventory job failed: {job.status_message or job.status_code} "
            f"(job id {job.job_id})",
            hint="start a new one with retrieve-inventory",
        )
    return job


def _is_full_inventory(job: JobDescription) -> bool:
    params = job.inventory_parameters
    return params is None or params.is_full


def _inventory_key(job: JobDescription) -> tuple[int, int, int, str]:
    created = parse_iso8601_or_none(job.creation_date) or 0
    done = parse_iso8601_or_none(job.completion_date or "") or 0
    # Same creation second: the later completion wins, then JSON over CSV (cheaper and exact
    # to parse), then the greatest job id, so listing order never decides.
    json_first = 1 if (job.inventory_format or "JSON").upper() == "JSON" else 0
    return (created, done, json_first, job.job_id)


def newest_inventory_job(
    store: VaultStore, vault: str,
) -> JobDescription:
    """The newest succeeded full inventory job, or NothingReadyYet saying what is running."""
    best: JobDescription | None = None
    failed: JobDescription | None = None
    running = 0
    for job in store.list_jobs(vault):
        if job.action != "InventoryRetrieval":
            continue
        if not job.completed:
            running += 1
            continue
        if not _is_full_inventory(job):
            continue
        if not job.succeeded:
            if failed is None or _inventory_key(job) > _inventory_key(failed):
                failed = job
            continue
        if best is None or _inventory_key(job) > _inventory_key(best):
            best = job
    if best is None:
        if running:
            raise NothingReadyYet(
                f"no inventory job has finished yet: {running} still in progress",
                hint="inventory jobs take hours; run this command again later",
            )
        if failed is not None:
            # Waiting cannot help: the job is over. Say so (exit 1), not "try later" (75).
            raise InventoryJobFailed(
                f"the inventory job failed: {failed.status_message or failed.status_code} "
                f"(job id {failed.job_id})",
                hint="start a new one with retrieve-inventory",
            )
        raise NothingReadyYet(
            "no finished inventory job in this vault",
            hint="start one with retrieve-inventory, then run this command again later",
        )
    return best


@contextlib.contextmanager
def open_inventory_output(
    store: VaultStore, vault: str, job: JobDescription,
) -> Iterator[InventoryReader]:
    """Stream one inventory job's output through the parser; closes the body afterwards."""
    out = store.get_job_output(vault, job.job_id)
    try:
        fmt = (job.inventory_format or "").upper()
        reader = open_inventory(
            out.body, content_type=out.content_type or None,
            format="CSV" if fmt == "CSV" and not out.content_type else None,
        )
        yield reader
    except (InventoryError, UnsafeNameError) as exc:
        # The parser knows the line or offset; the user also needs to know which inventory.
        raise InventoryError(f"inventory of vault {vault!r} (job {job.job_id}): {exc.message}",
                             hint=exc.hint) from None
    finally:
        out.close()


def _name_for(item: InventoryArchive) -> tuple[str, int | None, str | None]:
    """(journal name, mtime, fallback reason or None) for one inventory archive."""
    decoded = decode_description(item.description)
    if decoded.name is None:
        reason = ("no description" if not item.description
                  else "description not recognised as file metadata")
        return item.archive_id, None, reason
    name = decoded.name
    if decoded.source == "grsync":
        # glacier-rsync stores absolute paths; as a restore name they are relative to --dir.
        with contextlib.suppress(UnsafeNameError):
            name = storable_name(name)
    if not is_safe_relative_name(name):
        return item.archive_id, decoded.mtime, f"unsafe file name {decoded.name!r}"
    return name, decoded.mtime, None


def creation_epoch(text: str) -> int | None:
    """Epoch seconds of an inventory CreationDate.

    AWS always writes ``YYYY-MM-DDTHH:MM:SS[.fff]Z``; that exact shape is computed with integer
    arithmetic (a million archives make the general parser a visible cost), anything else goes
    through the lenient mt parser of :mod:`glacierlib.metadata`.
    """
    if (len(text) >= 20 and text[4] == "-" and text[7] == "-" and text[10] == "T"
            and text[13] == ":" and text[16] == ":" and text[-1] == "Z"
            and (len(text) == 20 or (text[19] == "." and text[20:-1].isdigit()))):
        digits = text[0:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]
        if digits.isdigit() and digits.isascii():
            year, month, day = int(text[0:4]), int(text[5:7]), int(text[8:10])
            hour, minute, second = int(text[11:13]), int(text[14:16]), int(text[17:19])
            if (year >= 1000 and 1 <= month <= 12 and 1 <= day <= 28 and hour < 24
                    and minute < 60 and second < 60):
                days = days_from_civil(year, month, day)
                return days * 86400 + hour * 3600 + minute * 60 + second
    return parse_iso8601_or_none(text)


def inventory_to_journal(
    items: Iterable[InventoryArchive], out: BinaryIO, *,
    on_event: ProgressCallback = ignore_progress,
) -> tuple[int, list[NameFallback], int, int]:
    """Write one version-B CREATED line per archive, in inventory order (no de-duplication).

    Returns (archives written, first fallbacks, fallback count, unsafe-name count). Kept
    separate from the network so the benchmark and tests can feed it a file.
    """
    count = 0
    fallbacks: list[NameFallback] = []
    fallback_count = 0
    unsafe_count = 0
    write = out.write
    for item in items:
        name, mtime, reason = _name_for(item)
        if reason is not None:
            fallback_count += 1
            unsafe = reason.startswith("unsafe")
            unsafe_count += unsafe
            if len(fallbacks) < MAX_REPORTED_FALLBACKS:
                fallbacks.append(NameFallback(item.archive_id, reason))
                if unsafe:
                    on_event(FileSkipped(
                        item.archive_id, f"{reason}: written under the archive id", error=True,
                    ))
        created = creation_epoch(item.creation_date)
        if created is None:
            raise InventoryError(
                f"archive {item.archive_id}: CreationDate {item.creation_date!r} is not a date"
            )
        write(JournalRecord.created(created, item.archive_id, item.size, mtime,
                                    item.tree_hash, name).to_line())
        count += 1
    return count, fallbacks, fallback_count, unsafe_count


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:  # some filesystems refuse fsync on a directory; the rename still holds
        pass
    finally:
        os.close(fd)


def _refuse_existing(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size:
        raise ConfigError(
            f"--new-journal {path} exists and is not empty",
            hint="choose a new file name; download-inventory never overwrites a journal",
        )


def download_inventory(
    settings: Settings, on_event: ProgressCallback = ignore_progress, *,
    clock: Clock = SYSTEM_CLOCK,
) -> DownloadInventoryReport:
    """Write ``--new-journal`` from the newest finished full inventory; see the docstring.

    With ``settings.wait`` and no finished inventory, the job in progress is awaited, or one
    is started first when none is running.
    """
    require(settings, "vault", "new_journal")
    assert settings.vault is not None and settings.new_journal is not None
    _refuse_existing(settings.new_journal)
    with store_for(settings, on_event) as store:
        try:
            job = newest_inventory_job(store, settings.vault)
        except NothingReadyYet:
            if not settings.wait:
                raise
            running = _running_inventory(store, settings.vault)
            if running is not None:
                job_id = running.job_id
            else:
                job_id = store.initiate_inventory_retrieval(
                    settings.vault, format=settings.request_inventory_format.upper(),
                    description=INVENTORY_JOB_DESCRIPTION, sns_topic=settings.sns_topic,
                )
                on_event(Notice(f"Retrieved Inventory, job id {job_id}"))
            job = await_inventory_job(settings, store, job_id, on_event, clock=clock)
        return _write_journal(settings, store, job, on_event)


def _write_journal(
    settings: Settings, store: VaultStore, job: JobDescription, on_event: ProgressCallback,
) -> DownloadInventoryReport:
    """Write the output of inventory ``job`` to ``--new-journal`` (temporary file, rename)."""
    assert settings.vault is not None and settings.new_journal is not None
    target = settings.new_journal
    _refuse_existing(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle, open_inventory_output(
            store, settings.vault, job,
        ) as reader:
            written, fallbacks, fallback_count, unsafe_count = inventory_to_journal(
                reader, handle, on_event=on_event,
            )
            handle.flush()
            if settings.fsync:
                os.fsync(handle.fileno())
        _refuse_existing(target)  # appeared while we were downloading?
        os.replace(tmp, target)
        if settings.fsync:
            _fsync_dir(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    if fallback_count > len(fallbacks):
        on_event(Notice(
            f"{fallback_count - len(fallbacks)} more archive(s) named by archive id"
        ))
    return DownloadInventoryReport(
        job.job_id, reader.format, reader.inventory_date, written, target,
        tuple(fallbacks), fallback_count, unsafe_count,
    )
