"""Fault injection: the next N calls of an operation misbehave in a chosen way.

Faults are keyed by botocore operation names and consumed in order, so a test can script
"the second part upload gets a 500, then a reset" and check that the client recovers.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque
from typing import Any, Literal

import attrs

__all__ = ["FAULT_KINDS", "Fault", "FaultTable", "RequestStats"]

FaultKind = Literal["error", "reset", "truncate", "delay"]
FAULT_KINDS: tuple[str, ...] = ("error", "reset", "truncate", "delay")


def _kind(_instance: object, _attribute: object, value: str) -> None:
    if value not in FAULT_KINDS:
        raise ValueError(f"fault kind must be one of {FAULT_KINDS}, got {value!r}")


@attrs.frozen
class Fault:
    """``error``: answer ``status``/``code`` without running the operation. ``reset``: drop
    the connection with a TCP reset before answering. ``truncate``: run the operation, then
    send only part of the response and close. ``delay``: wait ``delay`` seconds, then run it.
    """

    operation: str
    kind: str = attrs.field(validator=_kind)
    status: int = 500
    code: str = "InternalFailure"
    message: str = "Injected fault"
    delay: float = 0.0

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> tuple[Fault, int]:
        fault = cls(
            operation=str(data["operation"]),
            kind=str(data["kind"]),
            status=int(data.get("status", 500)),
            code=str(data.get("code", "InternalFailure")),
            message=str(data.get("message", "Injected fault")),
            delay=float(data.get("delay", 0.0)),
        )
        count = int(data.get("count", 1))
        if count < 1:
            raise ValueError("count must be >= 1")
        return fault, count


class FaultTable:
    """Pending faults per operation; thread-safe."""

    def __init__(self) -> None:
        self._pending: dict[str, deque[Fault]] = defaultdict(deque)
        self._lock = threading.Lock()

    def add(self, fault: Fault, count: int = 1) -> None:
        with self._lock:
            self._pending[fault.operation].extend([fault] * count)

    def take(self, operation: str) -> Fault | None:
        with self._lock:
            queue = self._pending.get(operation)
            if not queue:
                return None
            return queue.popleft()

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()

    def pending(self) -> dict[str, int]:
        with self._lock:
            return {op: len(q) for op, q in self._pending.items() if q}


class RequestStats:
    """Per-operation request counts and request body bytes announced."""

    def __init__(self) -> None:
        self._requests: Counter[str] = Counter()
        self._bytes: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, operation: str, body_bytes: int) -> None:
        with self._lock:
            self._requests[operation] += 1
            self._bytes[operation] += body_bytes

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"requests": dict(self._requests), "bytes_received": dict(self._bytes)}

    def reset(self) -> None:
        with self._lock:
            self._requests.clear()
            self._bytes.clear()
