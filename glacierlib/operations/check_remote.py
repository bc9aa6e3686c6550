"""``check-remote``: compare the journal with the newest finished inventory of the vault.

The journal says what should be in the vault; the inventory says what Glacier holds (as of its
last daily snapshot). Matching on archive id, this reports

* archives the journal knows but the inventory lacks (**missing**),
* archives the inventory lists but the journal does not know (**orphans**: paid for, but no
  tool will ever restore them by name),
* archives whose size or tree hash differ (**mismatches**).

The inventory lags by up to a day: journal archives created after the inventory date are
"not yet in inventory", not missing, and archives the journal deleted after that date are
"deleted since the inventory", not orphans. The inventory is streamed; only the journal's
archives (and the ids it deleted) are held in memory.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from glacierlib.config import Settings
from glacierlib.exceptions import JournalError
from glacierlib.journal import DELETED, JournalRecord, read_journal
from glacierlib.metadata import decode_description, parse_iso8601_or_none
from glacierlib.operations._store import store_for
from glacierlib.operations.inventory import newest_inventory_job, open_inventory_output
from glacierlib.operations.restore import require
from glacierlib.progress import ProgressCallback, ignore_progress

__all__ = ["CheckRemoteReport", "RemoteIssue", "check_remote"]


@attrs.frozen
class RemoteIssue:
    """One difference; ``name`` is the journal's name (or the decoded description's)."""

    kind: str  # "missing", "orphan", "size", "treehash", "not-yet", "deleted-since"
    archive_id: str
    name: str
    detail: str = ""


@attrs.frozen
class CheckRemoteReport:
    job_id: str
    inventory_date: str | None
    checked: int
    matched: int
    issues: tuple[RemoteIssue, ...]

    def of_kind(self, kind: str) -> tuple[RemoteIssue, ...]:
        return tuple(i for i in self.issues if i.kind == kind)

    @property
    def ok(self) -> bool:
        """True unless something is really wrong; the inventory's lag is not."""
        return all(i.kind in _LAG_KINDS for i in self.issues)


_LAG_KINDS = frozenset({"not-yet", "deleted-since"})


def _deletions(path: Path) -> dict[str, int]:
    """Archive id -> time of its DELETED record (JournalState keeps live archives only)."""
    deleted: dict[str, int] = {}
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below; missing file = no deletions
    except FileNotFoundError:
        return deleted
    with handle:
        for lineno, line in enumerate(handle, 1):
            if b"DELETED" not in line or not line.endswith(b"\n"):
                continue
            try:
                record = JournalRecord.parse_untrusted(line, path, lineno)
            except JournalError:
                continue  # read_journal already judged the file; only deletions matter here
            if record.kind == DELETED:
                deleted[record.archive_id] = max(record.time, deleted.get(record.archive_id, 0))
    return deleted


def check_remote(
    settings: Settings, on_event: ProgressCallback = ignore_progress,
) -> CheckRemoteReport:
    """Compare the journal with the newest finished full inventory (NothingReadyYet if none)."""
    require(settings, "vault", "journal")
    assert settings.vault is not None and settings.journal is not None
    state = read_journal(settings.journal, filters=settings.filters)
    remaining = dict(state.archives)
    deleted = _deletions(settings.journal)
    issues: list[RemoteIssue] = []
    orphans: list[RemoteIssue] = []
    matched = 0
    with store_for(settings, on_event) as store:
        job = newest_inventory_job(store, settings.vault)
        with open_inventory_output(store, settings.vault, job) as reader:
            for item in reader:
                entry = remaining.pop(item.archive_id, None)
                if entry is None:
                    decoded = decode_description(item.description)
                    detail = f"{item.size} bytes, created {item.creation_date}"
                    when = deleted.get(item.archive_id)
                    if when is not None:
                        detail += f", deleted in the journal at {when}"
                    twin = state.latest(decoded.name) if decoded.name else None
                    if (twin is not None and twin.size == item.size
                            and twin.tree_hash == item.tree_hash):
                        # What a lost UploadArchive reply leaves behind (sync lists such
                        # files under POSSIBLE EXTRA COPIES): safe to delete, say so.
                        detail += (f", an extra copy of journaled archive {twin.archive_id} "
                                   "(same size and tree hash): deleting it loses nothing")
                    orphans.append(RemoteIssue("orphan", item.archive_id, decoded.name or "",
                                               detail))
                    continue
                if entry.size != item.size:
                    issues.append(RemoteIssue(
                        "size", item.archive_id, entry.name,
                        f"journal {entry.size} bytes, vault {item.size} bytes",
                    ))
                elif entry.tree_hash != item.tree_hash:
                    issues.append(RemoteIssue(
                        "treehash", item.archive_id, entry.name,
                        f"journal {entry.tree_hash.hex}, vault {item.tree_hash.hex}",
                    ))
                else:
                    matched += 1
            inventory_date = reader.inventory_date
            checked = reader.count
    # A CSV inventory has no date of its own; the job cannot see anything created after it.
    cutoff = parse_iso8601_or_none(inventory_date or "") or parse_iso8601_or_none(
        job.creation_date)
    for orphan in orphans:
        when = deleted.get(orphan.archive_id)
        if when is not None and cutoff is not None and when >= cutoff:
            orphan = attrs.evolve(orphan, kind="deleted-since",
                                  detail="deleted after the inventory was taken")
        issues.append(orphan)
    for archive_id, entry in sorted(remaining.items(), key=lambda kv: kv[1].name):
        if cutoff is not None and entry.time >= cutoff:
            issues.append(RemoteIssue("not-yet", archive_id, entry.name,
                                      "uploaded after the inventory was taken"))
        else:
            issues.append(RemoteIssue("missing", archive_id, entry.name,
                                      f"{entry.size} bytes in the journal"))
    _ = on_event
    return CheckRemoteReport(job.job_id, inventory_date or job.creation_date, checked, matched,
                             tuple(issues))
