"""The simulated clock: wall time plus an offset that only the control plane moves.

Job readiness, job-output and upload expiry and inventory snapshots all read this clock, so a
test can jump a day ahead in one call while signatures keep being checked against real time
(botocore signs with the real clock).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

__all__ = ["SimClock", "format_date", "format_inventory_date", "parse_date"]


class SimClock:
    """Thread-safe ``now()`` = ``wall() + offset``; ``advance`` never goes backwards."""

    def __init__(self, offset: float = 0.0, wall: Callable[[], float] = time.time) -> None:
        self._offset = offset
        self._wall = wall
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        return self._offset

    def now(self) -> float:
        return self._wall() + self._offset

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
            return self.now()


def format_date(epoch: float) -> str:
    """``2012-05-15T17:21:39.339Z``: the API's date form (milliseconds, UTC)."""
    dt = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def format_inventory_date(epoch: float) -> str:
    """``2011-12-12T14:19:01Z``: the inventory body's date form (no milliseconds)."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(text: str) -> float:
    """Parse an ISO 8601 UTC date as clients send it (InventoryRetrievalParameters)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()
