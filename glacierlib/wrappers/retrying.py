"""Retries that botocore cannot do itself, and the one retry policy value both layers share.

The policy is a *time budget*: a request that fails with a transient error (5xx, 408,
throttling, a reset connection, a reply cut off mid-body) is tried again, with capped and
jittered exponential backoff, until it has been failing for ``timeout`` seconds (15 minutes by
default). A count of attempts cannot promise that: at one request in five failing, five
attempts lose one request in 3,125, which a 200-file sync meets in about one run in twelve,
while the chance that a request meets 40 failures in a row within its budget is nil. An
optional ``max_attempts`` caps the attempts as well, for users who set botocore's
``max_attempts`` and mean it.

:mod:`glacierlib.client` applies the policy to whole requests inside botocore's own retry
loop (which rewinds the upload body and signs each attempt again). What botocore cannot do
is resume a *response body* that breaks halfway: by then ``GetJobOutput`` has returned and the
caller is reading the stream. This wrapper hands out a body that, when the stream breaks,
asks for the rest of the same range and goes on reading from where it stopped, so a 4 GiB
download does not restart from zero (and the consumer, which writes at offsets, never
notices).

Nothing else is retried here: stacking a second retry loop on top of the client's would
multiply the attempts.
"""

from __future__ import annotations

import io
import logging
import random
import time
from collections.abc import Callable
from typing import BinaryIO, cast

import attrs

from glacierlib.exceptions import GlacierlibError, ServiceUnavailable, VerificationError
from glacierlib.progress import ProgressCallback, Retrying, ignore_progress
from glacierlib.storage import JobOutput, VaultStore
from glacierlib.treehash import ByteRange
from glacierlib.wrappers.forwarding import ForwardingStore

__all__ = ["DEFAULT_RETRY_TIMEOUT", "RetryPolicy", "RetryingStore"]

#: ``glacierlib.config.DEFAULT_RETRY_TIMEOUT``, written again because upload helper processes
#: import this module and must not import the settings layer (a test keeps the two equal).
DEFAULT_RETRY_TIMEOUT = 900

logger = logging.getLogger(__name__)


#: Default backoff: the first wait is about ``DEFAULT_BASE_DELAY`` seconds, each next one
#: doubles, none exceeds ``DEFAULT_MAX_DELAY``.
DEFAULT_BASE_DELAY = 0.1
DEFAULT_MAX_DELAY = 30.0


def _optional_attempts(_i: object, _a: object, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"max_attempts must be at least 1, got {value}")


@attrs.frozen
class RetryPolicy:
    """How hard to try one request: a time budget, an optional attempt cap, the backoff.

    ``timeout`` is measured from the request's first failure: a request is retried until it
    has been failing that many seconds (0: never retried). ``max_attempts`` counts the first
    try too (5 means one request and up to four retries). When it is None,
    :class:`~glacierlib.client.GlacierStore` takes botocore's ``max_attempts``
    (``AWS_MAX_ATTEMPTS``, the profile's ``max_attempts``) if one is set and
    ``inherit_max_attempts`` is true; otherwise only the time budget limits the attempts.
    The wait before retry ``n`` is drawn from ``[c/2, c]`` with ``c = min(max_delay,
    base_delay * 2**(n-1))`` ("equal jitter": workers that failed together do not retry
    together, and each wait is at least half its ceiling, so a long outage is met with
    long waits rather than a burst of attempts).
    """

    max_attempts: int | None = attrs.field(default=None, validator=_optional_attempts)
    base_delay: float = attrs.field(default=DEFAULT_BASE_DELAY, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=DEFAULT_MAX_DELAY, validator=attrs.validators.ge(0))
    timeout: float = attrs.field(default=float(DEFAULT_RETRY_TIMEOUT),
                                 validator=attrs.validators.ge(0))
    inherit_max_attempts: bool = True

    @classmethod
    def for_budget(cls, timeout: float, max_attempts: int | None = None, *,
                   inherit_max_attempts: bool = True) -> RetryPolicy:
        """The policy for a budget of ``timeout`` seconds: the default backoff, its ceiling cut
        to an eighth of a short budget so that a budget of seconds still gets several tries."""
        ceiling = min(DEFAULT_MAX_DELAY, timeout / 8)
        return cls(max_attempts=max_attempts, base_delay=min(DEFAULT_BASE_DELAY, ceiling),
                   max_delay=ceiling, timeout=timeout,
                   inherit_max_attempts=inherit_max_attempts)

    def delay(self, retry: int) -> float:
        """Jittered backoff before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** min(max(retry - 1, 0), 62)))
        return random.uniform(ceiling / 2, ceiling)

    def next_delay(self, attempts: int, failing_since: float,
                   now: float | None = None) -> float | None:
        """The wait before trying again after ``attempts`` failed attempts, or None when the
        budget is spent (``failing_since``: ``time.monotonic()`` of the first failure).

        The wait is cut to what is left of the budget, so the last attempt starts at the
        deadline at the latest.
        """
        if self.max_attempts is not None and attempts >= self.max_attempts:
            return None
        now = time.monotonic() if now is None else now
        remaining = self.timeout - (now - failing_since)
        if remaining <= 0:
            return None
        return min(self.delay(attempts), remaining)

    def describe(self) -> str:
        """The budget in words, for error messages (``for 15 min``, ``5 attempts``)."""
        minutes, seconds = divmod(round(self.timeout), 60)
        span = (f"{minutes} min" + (f" {seconds} s" if seconds else "")) if minutes else \
            f"{seconds} s"
        if self.max_attempts is not None:
            return f"at most {self.max_attempts} attempts within {span}"
        return f"retried for {span}"


class _ResumingBody(io.RawIOBase):
    """A job-output stream that re-requests the rest of its range when the stream breaks."""

    def __init__(
        self, store: VaultStore, vault: str, job_id: str, first: JobOutput, *, start: int,
        end: int, policy: RetryPolicy, on_event: ProgressCallback,
        sleep: Callable[[float], None],
    ) -> None:
        super().__init__()
        self._store = store
        self._vault = vault
        self._job_id = job_id
        self._current = first
        self._pos = start
        self._end = end
        self._policy = policy
        self._on_event = on_event
        self._sleep = sleep
        self._failures = 0
        self._failing_since = 0.0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._end - self._pos)
        if want <= 0:
            return 0
        while True:
            try:
                chunk = self._current.body.read(want)
            except GlacierlibError as exc:
                if not exc.retryable:
                    raise
                self._resume(type(exc).__name__)
                continue
            if not chunk:
                # The server closed the stream early; StreamingBody may not notice when the
                # connection ended cleanly, so a short body is treated as a break too.
                self._resume("stream ended early")
                continue
            size = len(chunk)
            view[:size] = chunk
            self._pos += size
            self._failures = 0
            return size

    def _resume(self, reason: str) -> None:
        self._failures += 1
        if self._failures == 1:
            self._failing_since = time.monotonic()
        delay = self._policy.next_delay(self._failures, self._failing_since)
        if delay is None:
            raise ServiceUnavailable(
                f"job output {self._job_id} of vault {self._vault!r} broke off at byte "
                f"{self._pos} of {self._end} and could not be resumed after "
                f"{self._failures} attempts ({reason}; {self._policy.describe()})",
                operation="GetJobOutput",
                hint="run the download again later; finished ranges are kept",
            )
        logger.info(
            "job output %s broke at byte %d (%s); requesting the rest after %.2fs",
            self._job_id, self._pos, reason, delay,
        )
        self._on_event(Retrying("GetJobOutput", self._failures + 1, reason, delay))
        self._sleep(delay)
        try:
            self._current.close()
        except Exception:  # closing a broken stream may fail again; the data is gone anyway
            logger.debug("closing the broken job output stream failed", exc_info=True)
        rest = ByteRange(self._pos, self._end)
        try:
            nxt = self._store.get_job_output(self._vault, self._job_id, rest)
        except GlacierlibError as exc:
            if exc.retryable:
                # Leave the broken stream in place: the next read fails and retries again.
                self._current = _failed_output(self._current, exc)
                return
            raise
        if nxt.content_range is not None and nxt.content_range.start != self._pos:
            nxt.close()
            raise VerificationError(
                f"job output {self._job_id}: asked for bytes from {self._pos}, the server "
                f"answered from {nxt.content_range.start}"
            )
        self._current = nxt

    def close(self) -> None:
        if not self.closed:
            try:
                self._current.close()
            finally:
                super().close()


class _RaisingStream(io.RawIOBase):
    """Stands in for a stream that could not be reopened: every read raises the error."""

    def __init__(self, error: GlacierlibError) -> None:
        super().__init__()
        self._error = error

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise self._error


def _failed_output(previous: JobOutput, error: GlacierlibError) -> JobOutput:
    return attrs.evolve(previous, body=cast(BinaryIO, _RaisingStream(error)))


class RetryingStore(ForwardingStore):
    """Adds stream resumption to ``get_job_output``; every other call is botocore's business."""

    def __init__(
        self, inner: VaultStore, policy: RetryPolicy | None = None, *,
        on_event: ProgressCallback = ignore_progress,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(inner)
        self._policy = policy or RetryPolicy()
        self._on_event = on_event
        self._sleep = sleep

    @property
    def policy(self) -> RetryPolicy:
        return self._policy

    def get_job_output(
        self, vault: str, job_id: str, byte_range: ByteRange | None = None
    ) -> JobOutput:
        first = self._inner.get_job_output(vault, job_id, byte_range)
        if first.content_length <= 0:
            return first
        if first.content_range is not None:
            start = first.content_range.start
        elif byte_range is not None:
            start = byte_range.start
        else:
            start = 0
        body = _ResumingBody(
            self._inner, vault, job_id, first, start=start, end=start + first.content_length,
            policy=self._policy, on_event=self._on_event, sleep=self._sleep,
        )
        return attrs.evolve(first, body=io.BufferedReader(body, buffer_size=1 << 16))
