"""Retries that botocore cannot do itself, and the one retry policy value both layers share.

botocore (standard mode, configured in :mod:`glacierlib.client`) already retries whole
requests: 5xx, throttling, ``RequestTimeoutException`` and broken connections, rewinding the
upload body each time. What it cannot do is resume a *response body* that breaks halfway: by
then ``GetJobOutput`` has returned and the caller is reading the stream. This wrapper hands out
a body that, when the stream breaks, asks for the rest of the same range and goes on reading
from where it stopped, so a 4 GiB download does not restart from zero (and the consumer, which
writes at offsets, never notices).

Nothing else is retried here: stacking a second retry loop on top of botocore's would multiply
the attempts.
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

__all__ = ["RetryPolicy", "RetryingStore"]

logger = logging.getLogger(__name__)


@attrs.frozen
class RetryPolicy:
    """How hard to try: total attempts per request and the jittered exponential backoff.

    ``max_attempts`` counts the first try (botocore's ``total_max_attempts``), so 5 means one
    request and up to four retries.
    """

    max_attempts: int = attrs.field(default=5, validator=attrs.validators.ge(1))
    base_delay: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    max_delay: float = attrs.field(default=20.0, validator=attrs.validators.ge(0))

    def delay(self, retry: int) -> float:
        """Full-jitter backoff before retry number ``retry`` (1 for the first retry)."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(retry - 1, 0)))
        return random.uniform(0, ceiling)


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
        if self._failures >= self._policy.max_attempts:
            raise ServiceUnavailable(
                f"job output {self._job_id} of vault {self._vault!r} broke off at byte "
                f"{self._pos} of {self._end} and could not be resumed after "
                f"{self._failures} attempts ({reason})",
                operation="GetJobOutput",
                hint="run the download again later; finished ranges are kept",
            )
        delay = self._policy.delay(self._failures)
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
