"""Retrieval pacing: initiate retrieval jobs so the bytes requested stay under a budget.

Glacier bills (and a vault's data retrieval policy limits) retrieval by the bytes requested
over time, so ``--max-retrieval-rate 1G/h`` or ``20G/d`` spreads the initiations: a job of
``s`` bytes may start when

* the bytes requested in the last window (an hour for ``/h``, a day for ``/d``), this one
  included, stay within the budget, and
* at least ``s_prev * window / budget`` seconds have passed since the previous job of size
  ``s_prev`` (the even spread: ``20G/d`` is not 20 GiB at midnight and nothing after).

A job larger than the budget can never start; :meth:`Pacer.delay_for` says so with None.
Pure arithmetic on times passed in, so a dry run and the tests plan a whole day offline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import attrs

__all__ = ["Pacer", "RetrievalRate", "parse_rate", "schedule"]

_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_RATE_RE = re.compile(r"(\d+)\s*([KMGT]?)(?:i?B)?\s*(?:/\s*([hd]))?", re.IGNORECASE)
_WINDOWS = {"h": 3600, "d": 86400}


def _positive(_i: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen
class RetrievalRate:
    """``budget`` bytes per ``window`` seconds (3600 or 86400)."""

    budget: int = attrs.field(validator=_positive)
    window: int = attrs.field(default=3600, validator=_positive)

    @property
    def bytes_per_second(self) -> float:
        return self.budget / self.window

    def __str__(self) -> str:
        return f"{self.budget} bytes per {'hour' if self.window == 3600 else 'day'}"


def parse_rate(value: object) -> RetrievalRate:
    """``500M`` (per hour), ``1G/h``, ``20G/d``; binary units like every size here."""
    if isinstance(value, RetrievalRate):
        return value
    match = _RATE_RE.fullmatch(str(value).strip())
    if match is None:
        raise ValueError(f"expected a rate such as 500M, 1G/h or 20G/d, got {value!r}")
    budget = int(match.group(1)) * _UNITS[match.group(2).upper()]
    return RetrievalRate(budget, _WINDOWS[(match.group(3) or "h").lower()])


class Pacer:
    """The budget's memory: when each recent job started and how many bytes it asked for."""

    def __init__(self, rates: Sequence[RetrievalRate],
                 history: Iterable[tuple[float, int]] = ()) -> None:
        self.rates = tuple(rates)
        self._history = sorted(history)

    def can_ever(self, size: int) -> bool:
        return all(size <= r.budget for r in self.rates)

    def delay_for(self, size: int, now: float) -> float | None:
        """Seconds from ``now`` until a job of ``size`` bytes fits; None if it never does."""
        if not self.can_ever(size):
            return None
        earliest = now
        for rate in self.rates:
            if self._history:
                last_time, last_size = self._history[-1]
                earliest = max(earliest, last_time + last_size / rate.bytes_per_second)
            # Drop the oldest jobs of the window until this one fits beside the rest.
            recent = [(t, s) for t, s in self._history if t > earliest - rate.window]
            used = sum(s for _t, s in recent)
            for t, s in recent:
                if used + size <= rate.budget:
                    break
                used -= s
                earliest = max(earliest, t + rate.window)
        return earliest - now

    def record(self, size: int, when: float) -> None:
        self._history.append((when, size))
        self._history.sort()


def schedule(rates: Sequence[RetrievalRate], sizes: Iterable[int], *, start: float = 0.0,
             history: Iterable[tuple[float, int]] = ()) -> list[float | None]:
    """When each job (in order) would start, as seconds after ``start``; None: never."""
    pacer = Pacer(rates, history)
    now = start
    times: list[float | None] = []
    for size in sizes:
        delay = pacer.delay_for(size, now)
        if delay is None:
            times.append(None)
            continue
        now += delay
        pacer.record(size, now)
        times.append(now - start)
    return times
