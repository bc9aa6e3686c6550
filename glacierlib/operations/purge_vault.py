"""``purge-vault``: delete every archive the journal knows (after filters), journaled.

Each deletion is one request on the executor's bounded pool followed by one DELETED line, so
an interrupted purge leaves a journal that still matches the vault and a rerun finishes it.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from glacierlib.config import Settings
from glacierlib.exceptions import ConfigError
from glacierlib.executor import ExecutionReport, Executor
from glacierlib.journal import JournalWriter, read_journal
from glacierlib.operations._store import store_for
from glacierlib.plan import Delete, plan_purge
from glacierlib.progress import PlanReady, ProgressCallback, ignore_progress

__all__ = ["PurgeReport", "purge_vault"]


@attrs.frozen
class PurgeReport:
    """``planned`` archives were selected; ``result`` says what happened (empty on dry-run)."""

    planned: int
    result: ExecutionReport = attrs.field(factory=ExecutionReport)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.result.ok


def purge_vault(
    settings: Settings, on_event: ProgressCallback = ignore_progress, *,
    on_plan: Callable[[Delete], None] | None = None,
) -> PurgeReport:
    """Delete every live archive of the journal; with ``dry_run`` only hand them to ``on_plan``."""
    if settings.vault is None or settings.journal is None:
        raise ConfigError("purge-vault needs --vault and --journal")
    if not settings.journal.exists():
        raise ConfigError(f"{settings.journal}: journal not found", hint="check --journal")
    if settings.dry_run:
        state = read_journal(settings.journal, filters=settings.filters)
        planned = 0
        for action in plan_purge(state):
            planned += 1
            if on_plan is not None:
                on_plan(action)
        return PurgeReport(planned, dry_run=True)
    with JournalWriter.open(settings.journal, fsync=settings.fsync,
                            filters=settings.filters) as journal:
        actions = list(plan_purge(journal.state))
        if not actions:
            return PurgeReport(0)
        on_event(PlanReady(len(actions), 0, complete=True))  # the list is the whole plan
        with store_for(settings, on_event) as store, Executor(
            store, settings.vault, journal, concurrency=settings.concurrency,
            part_size=settings.part_size, on_event=on_event,
        ) as executor:
            result = executor.run(actions)
    return PurgeReport(len(actions), result)
