"""A progress callback that records what it is told, safely from worker threads (tests)."""

from __future__ import annotations

import threading
from typing import TypeVar

from glacierlib.progress import PlanReady, ProgressEvent, Retrying

E = TypeVar("E")


class Events:
    def __init__(self) -> None:
        self.items: list[ProgressEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            self.items.append(event)

    def of_type(self, kind: type[E]) -> list[E]:
        with self._lock:
            return [e for e in self.items if isinstance(e, kind)]

    def retries(self) -> list[Retrying]:
        return self.of_type(Retrying)

    def final_totals(self) -> list[PlanReady]:
        """The ``PlanReady`` events that said the totals were final, in order."""
        return [e for e in self.of_type(PlanReady) if e.complete]
