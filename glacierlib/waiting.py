"""Waiting for jobs that take hours: a capped, cost-aware polling loop, target-neutral.

Glacier retrieval and inventory jobs finish after minutes (Expedited) to many hours
(Standard, Bulk, inventories); an S3 restore is the same kind of wait. This module knows
nothing about either: :func:`wait_for` calls a *step* that checks the status of the things
being waited for (and downloads what is ready, initiates what pacing now allows) and returns
a :class:`WaitStatus`; between steps it sleeps on an injectable :class:`Clock`, first for
:attr:`WaitPolicy.first_check`, then doubling up to :attr:`WaitPolicy.max_interval`.

Why these choices:

* status checks are cheap but not free and the jobs are slow, so the first check comes late
  (a quarter of the shortest plausible job time) and the interval backs off to an hour;
* the sleep is :func:`time.sleep` in the caller's thread: the CLI turns Ctrl-C, SIGTERM and
  SIGHUP into ``KeyboardInterrupt`` subclasses in the main thread, which end the sleep at once;
  nothing is lost because every job was recorded before the wait started, and a rerun reuses
  it;
* ``timeout`` ends the wait with :class:`WaitTimedOut` (a :class:`NothingReadyYet`, exit 75),
  naming what remains, so a cron job retries later exactly as without ``--wait``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Protocol

import attrs

from glacierlib.exceptions import NothingReadyYet
from glacierlib.progress import ProgressCallback, Waiting, ignore_progress

__all__ = [
    "DEFAULT_FIRST_CHECK",
    "MAX_INTERVAL",
    "SYSTEM_CLOCK",
    "Clock",
    "SystemClock",
    "WaitPolicy",
    "WaitStatus",
    "WaitTimedOut",
    "parse_duration",
    "positive_duration",
    "wait_for",
]

MINUTE = 60.0
HOUR = 3600.0
#: Seconds before the first status check, by retrieval tier ("Inventory" for inventory jobs):
#: about a quarter of the service's fastest typical completion time.
DEFAULT_FIRST_CHECK = {
    "Expedited": 1 * MINUTE,
    "Standard": 15 * MINUTE,
    "Bulk": 30 * MINUTE,
    "Inventory": 30 * MINUTE,
}
#: The backoff stops doubling here: a finished job's output waits at most this long.
MAX_INTERVAL = HOUR
#: With the defaults, never check more often than this.
MIN_INTERVAL = MINUTE

_DURATION_RE = re.compile(r"([0-9]{1,9}(?:\.[0-9]{1,6})?)[ \t]*(s|sec|m|min|h|d)?", re.IGNORECASE)
_DURATION_UNITS = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> float:
    """Seconds from ``900``, ``90s``, ``15m``, ``12h``, ``2d`` or ``0.5``: a bare number is
    seconds, as ``--timeout`` counts them. Zero is allowed (``--retry-timeout 0``: no retries);
    callers that need a positive duration check it (:func:`positive_duration`)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
        if not 0 <= seconds < float("inf"):
            raise ValueError(f"expected a duration of 0 or more seconds, got {value!r}")
        return seconds
    match = _DURATION_RE.fullmatch(str(value).strip())
    if match is None:
        raise ValueError(f"expected a duration such as 900, 90s, 15m, 12h or 2d, got {value!r}")
    return float(match.group(1)) * _DURATION_UNITS[(match.group(2) or "").lower()]


def positive_duration(value: object) -> float:
    """:func:`parse_duration`, refusing zero (a wait of no time is a typo, not a setting)."""
    seconds = parse_duration(value)
    if not seconds > 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return seconds


class Clock(Protocol):
    """Where the wait reads the time and sleeps; tests pass one driving a simulated clock."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock seconds since the epoch, and :func:`time.sleep` (signal-interruptible)."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


SYSTEM_CLOCK: Clock = SystemClock()


def _positive(_i: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen
class WaitPolicy:
    """How often to check: ``first_check`` seconds, then doubling up to ``max_interval``."""

    first_check: float = attrs.field(validator=_positive)
    max_interval: float = attrs.field(validator=_positive)
    factor: float = attrs.field(default=2.0, validator=_positive)
    #: Seconds the whole wait may take; None waits until everything is done.
    timeout: float | None = None

    @classmethod
    def for_tier(cls, tier: str, *, poll_interval: float | None = None,
                 timeout: float | None = None) -> WaitPolicy:
        """The defaults for a tier; ``poll_interval`` (tests, impatient users) replaces them.

        With ``poll_interval`` the first check comes after it and the backoff stops at 16
        times it (at most an hour): a local server finishing jobs in seconds is then watched
        in seconds.
        """
        if poll_interval is not None:
            return cls(poll_interval, max(poll_interval, min(MAX_INTERVAL, 16 * poll_interval)),
                       timeout=timeout)
        first = max(MIN_INTERVAL, DEFAULT_FIRST_CHECK.get(tier, DEFAULT_FIRST_CHECK["Standard"]))
        return cls(first, MAX_INTERVAL, timeout=timeout)


@attrs.frozen
class WaitStatus:
    """What one step found: items still pending, ready (being fetched), done, failed.

    ``wake_in``: the step wants to run again sooner than the backoff says (pacing allows the
    next initiation then); None when it has no such wish.
    """

    pending: int
    ready: int = 0
    done: int = 0
    failed: int = 0
    wake_in: float | None = None

    @property
    def finished(self) -> bool:
        return self.pending == 0 and self.ready == 0


class WaitTimedOut(NothingReadyYet):
    """``--wait-timeout`` passed with jobs still pending (exit 75: run again to continue)."""


def wait_for(
    step: Callable[[], WaitStatus], policy: WaitPolicy, *, clock: Clock = SYSTEM_CLOCK,
    on_event: ProgressCallback = ignore_progress, what: str = "job(s)",
) -> WaitStatus:
    """Run ``step`` until it reports nothing pending; sleep between runs per ``policy``.

    Raises :class:`WaitTimedOut` once ``policy.timeout`` has passed (after a last step at the
    deadline). Exceptions of ``step`` and of ``clock.sleep`` (an interrupt) propagate.
    """
    deadline = None if policy.timeout is None else clock.now() + policy.timeout
    interval = policy.first_check
    while True:
        status = step()
        if status.finished:
            return status
        now = clock.now()
        if deadline is not None and now >= deadline:
            raise WaitTimedOut(
                f"--wait-timeout passed with {status.pending} {what} still pending "
                f"({status.done} done)",
                hint="run the same command again to continue; the jobs already started "
                     "are reused",
            )
        delay = interval
        if status.wake_in is not None:
            delay = min(delay, max(0.0, status.wake_in))
        if deadline is not None:
            delay = min(delay, deadline - now)
        on_event(Waiting(status.pending, status.ready, status.done, delay, failed=status.failed))
        clock.sleep(delay)
        interval = min(policy.max_interval, interval * policy.factor)
