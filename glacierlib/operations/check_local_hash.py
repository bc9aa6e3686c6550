"""``check-local-hash``: verify local files against the journal, offline.

No store, no credentials, no network: the journal says what each file should be (size, tree
hash, mtime), the disk says what it is. Files are hashed in parallel on a bounded pool, and
results come back in journal-name order so the report reads the same on every run.

The statuses are mt-aws-glacier's, spelling included, because scripts grep for them:
``OK``, ``MISSED``, ``ZERO SIZE``, ``SIZE MISSMATCH``, ``TREEHASH MISSMATCH``,
``CANNOT OPEN``; an mtime that differs is reported (``MTIME missmatch``) but does not fail the
check on its own.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import attrs

from glacierlib.config import Settings
from glacierlib.exceptions import ConfigError, UnsafeNameError
from glacierlib.journal import ArchiveEntry, read_journal
from glacierlib.names import safe_join
from glacierlib.progress import (
    BytesMoved,
    FileDone,
    PlanReady,
    ProgressCallback,
    ignore_progress,
)
from glacierlib.treehash import TreeHash, tree_hash_file

__all__ = ["CheckLocalHashReport", "LocalHashResult", "check_local_hash"]

OK = "OK"
MISSED = "MISSED"
ZERO_SIZE = "ZERO SIZE"
SIZE_MISMATCH = "SIZE MISSMATCH"
TREEHASH_MISMATCH = "TREEHASH MISSMATCH"
CANNOT_OPEN = "CANNOT OPEN"


@attrs.frozen
class LocalHashResult:
    """One journal file checked. ``local_mtime`` is set when it differs from the journal's."""

    name: str
    status: str
    size: int
    tree_hash: TreeHash
    journal_mtime: int | None = None
    local_mtime: int | None = None
    error: str = ""

    @property
    def mtime_mismatch(self) -> bool:
        return self.local_mtime is not None

    def lines(self) -> list[str]:
        """The report lines mt-aws-glacier prints for this file, in its order."""
        out = []
        if self.mtime_mismatch:
            out.append(f"MTIME missmatch {self.name} {self.journal_mtime} != {self.local_mtime}")
        if self.status == OK:
            out.append(f"OK {self.name} {self.size} {self.tree_hash.hex}")
        elif self.status == CANNOT_OPEN:
            out.append(f"CANNOT OPEN file {self.name}: {self.error}")
        else:
            out.append(f"{self.status} {self.name}")
        return out


@attrs.frozen
class CheckLocalHashReport:
    results: tuple[LocalHashResult, ...]
    dry_run: bool = False
    journal_warnings: tuple[str, ...] = ()

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def mtime_mismatches(self) -> int:
        return sum(1 for r in self.results if r.mtime_mismatch)

    @property
    def ok(self) -> bool:
        """False on any hash, size, zero-size, missing or unreadable file (not mtime alone)."""
        return self.dry_run or all(r.status == OK for r in self.results)

    def totals(self) -> list[str]:
        """mt-aws-glacier's ``TOTALS:`` block."""
        return [
            "TOTALS:",
            f"{self.count(OK)} OK",
            f"{self.mtime_mismatches} MODIFICATION TIME MISSMATCHES",
            f"{self.count(TREEHASH_MISMATCH)} TREEHASH MISSMATCH",
            f"{self.count(SIZE_MISMATCH)} SIZE MISSMATCH",
            f"{self.count(ZERO_SIZE)} ZERO SIZE",
            f"{self.count(MISSED)} MISSED",
            f"{self.count(CANNOT_OPEN)} ERRORS",
        ]


def _check(root: Path, entry: ArchiveEntry) -> LocalHashResult:
    local_mtime: int | None = None

    def result(status: str, error: str = "") -> LocalHashResult:
        return LocalHashResult(entry.name, status, entry.size, entry.tree_hash,
                               journal_mtime=entry.mtime, local_mtime=local_mtime, error=error)

    try:
        path = safe_join(root, entry.name)
    except UnsafeNameError as exc:  # an unsafe journal name is never opened
        return result(CANNOT_OPEN, exc.message)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return result(MISSED)
    except OSError as exc:
        return result(CANNOT_OPEN, exc.strerror or str(exc))
    if not stat.S_ISREG(st.st_mode):
        return result(MISSED)
    if st.st_size == 0:
        return result(ZERO_SIZE)
    mtime = st.st_mtime_ns // 1_000_000_000
    if entry.mtime is not None and entry.mtime != mtime:
        local_mtime = mtime
    if st.st_size != entry.size:
        return result(SIZE_MISMATCH)
    try:
        digest = tree_hash_file(path)
    except OSError as exc:
        return result(CANNOT_OPEN, exc.strerror or str(exc))
    return result(OK if digest == entry.tree_hash else TREEHASH_MISMATCH)


def _bounded_map(pool: ThreadPoolExecutor, root: Path, entries: Iterator[ArchiveEntry],
                 window: int) -> Iterator[LocalHashResult]:
    """Results in input order, with at most ``window`` checks queued at a time."""
    queue: deque[Future[LocalHashResult]] = deque()
    for entry in entries:
        queue.append(pool.submit(_check, root, entry))
        if len(queue) >= window:
            yield queue.popleft().result()
    while queue:
        yield queue.popleft().result()


def check_local_hash(
    settings: Settings, on_event: ProgressCallback = ignore_progress
) -> CheckLocalHashReport:
    """Check every live journal file (after filters) under ``settings.dir``."""
    if settings.dir is None or settings.journal is None:
        raise ConfigError("check-local-hash needs --dir and --journal")
    if not settings.journal.exists():
        raise ConfigError(f"{settings.journal}: journal not found", hint="check --journal")
    state = read_journal(settings.journal, filters=settings.filters)
    latest = state.latest_by_name()
    names = sorted(latest)
    if settings.dry_run:
        return CheckLocalHashReport(
            tuple(LocalHashResult(n, "WILL CHECK", latest[n].size, latest[n].tree_hash)
                  for n in names), dry_run=True, journal_warnings=tuple(state.warnings))
    root = Path(settings.dir)
    results = []
    on_event(PlanReady(len(names), sum(latest[n].size for n in names), complete=True))
    workers = max(1, settings.concurrency)
    with ThreadPoolExecutor(workers, thread_name_prefix="check-local-hash") as pool:
        for res in _bounded_map(pool, root, (latest[n] for n in names), workers * 4):
            if res.status == OK:
                on_event(BytesMoved(res.size, res.name))
            on_event(FileDone(res.name, res.size, "check", res.status))
            results.append(res)
    return CheckLocalHashReport(tuple(results), journal_warnings=tuple(state.warnings))
