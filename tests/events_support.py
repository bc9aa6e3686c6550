"""A progress callback that records what it is told, safely from worker threads (tests)."""

from __future__ import annotations

import threading

from glacierlib.progress import ProgressEvent, Retrying


class Events:
    def __init__(self) -> None:
        self.items: list[ProgressEvent] = []
        self._lock = threading.Lock()

    def __call__(self, event: ProgressEvent) -> None:
        with self._lock:
            self.items.append(event)

    def retries(self) -> list[Retrying]:
        return [e for e in self.items if isinstance(e, Retrying)]
