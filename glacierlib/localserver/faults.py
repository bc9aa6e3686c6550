"""Fault injection: the next N calls of an operation misbehave in a chosen way.

Faults are keyed by botocore operation names and consumed in order, so a test can script
"the second part upload gets a 500, then a reset" and check that the client recovers.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections import Counter, defaultdict, deque
from typing import Any, Literal

import attrs

from glacierlib.localserver.routes import Reply

__all__ = ["FAULT_KINDS", "REPLY_FAULT_KINDS", "Fault", "FaultTable", "RequestStats"]

FaultKind = Literal[
    "error", "reset", "truncate", "delay", "body", "corrupt", "header", "drop_header"
]
#: Kinds that let the operation run, then change its (successful) reply before it is sent.
REPLY_FAULT_KINDS: tuple[str, ...] = ("body", "corrupt", "header", "drop_header")
FAULT_KINDS: tuple[str, ...] = ("error", "reset", "truncate", "delay", *REPLY_FAULT_KINDS)


def _kind(_instance: object, _attribute: object, value: str) -> None:
    if value not in FAULT_KINDS:
        raise ValueError(f"fault kind must be one of {FAULT_KINDS}, got {value!r}")


@attrs.frozen
class Fault:
    """``error``: answer ``status``/``code`` without running the operation. ``reset``: drop
    the connection with a TCP reset before answering. ``truncate``: run the operation, then
    send only part of the response and close. ``delay``: wait ``delay`` seconds, then run it.

    Reply faults run the operation, then change its successful reply (an error reply is sent
    as it is): ``body`` replaces the body with ``payload`` (Content-Length follows it, so a
    shorter payload is a body of the wrong length for what the other headers promise);
    ``corrupt`` flips the bits of the body's middle byte; ``header`` sets header ``header``
    to ``value`` (e.g. a wrong ``x-amz-sha256-tree-hash``); ``drop_header`` removes it (e.g.
    no ``x-amz-archive-id`` after a completed upload).
    """

    operation: str
    kind: str = attrs.field(validator=_kind)
    status: int = 500
    code: str = "InternalFailure"
    message: str = "Injected fault"
    delay: float = 0.0
    payload: bytes = b""
    header: str = ""
    value: str = ""

    def __attrs_post_init__(self) -> None:
        if self.kind in ("header", "drop_header") and not self.header:
            raise ValueError(f"fault kind {self.kind!r} needs 'header'")
        if any(c in self.header + self.value for c in "\r\n\x00"):
            raise ValueError("header names and values cannot hold CR, LF or NUL")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> tuple[Fault, int]:
        try:
            payload = base64.b64decode(str(data.get("payload", "")), validate=True)
        except binascii.Error:
            raise ValueError("payload must be base64") from None
        fault = cls(
            operation=str(data["operation"]),
            kind=str(data["kind"]),
            status=int(data.get("status", 500)),
            code=str(data.get("code", "InternalFailure")),
            message=str(data.get("message", "Injected fault")),
            delay=float(data.get("delay", 0.0)),
            payload=payload,
            header=str(data.get("header", "")),
            value=str(data.get("value", "")),
        )
        count = int(data.get("count", 1))
        if count < 1:
            raise ValueError("count must be >= 1")
        return fault, count

    def rewrite(self, reply: Reply) -> Reply:
        """The reply a reply fault sends instead of ``reply`` (others leave it alone)."""
        if self.kind not in REPLY_FAULT_KINDS or reply.status >= 400:
            return reply
        if self.kind == "header":
            kept = tuple(h for h in reply.headers if h[0].lower() != self.header.lower())
            return attrs.evolve(reply, headers=(*kept, (self.header, self.value)))
        if self.kind == "drop_header":
            kept = tuple(h for h in reply.headers if h[0].lower() != self.header.lower())
            return attrs.evolve(reply, headers=kept)
        if self.kind == "body":
            return attrs.evolve(reply, body=self.payload, stream=None)
        body = bytearray(
            b"".join(bytes(c) for c in reply.stream.chunks())
            if reply.stream is not None else reply.body
        )
        if body:
            body[len(body) // 2] ^= 0xFF
        return attrs.evolve(reply, body=bytes(body), stream=None)


class FaultTable:
    """Pending faults per operation; thread-safe."""

    def __init__(self) -> None:
        self._pending: dict[str, deque[Fault]] = defaultdict(deque)
        self._lock = threading.Lock()
        # The reply fault taken by this thread's current request: the server handles a
        # request on one thread, from ``take`` to sending the reply.
        self._local = threading.local()

    def add(self, fault: Fault, count: int = 1) -> None:
        with self._lock:
            self._pending[fault.operation].extend([fault] * count)

    def take(self, operation: str) -> Fault | None:
        with self._lock:
            queue = self._pending.get(operation)
            fault = queue.popleft() if queue else None
        self._local.reply_fault = (
            fault if fault is not None and fault.kind in REPLY_FAULT_KINDS else None
        )
        return fault

    def rewrite(self, reply: Reply) -> Reply:
        """Apply (once) the reply fault taken by this thread's current request, if any."""
        fault: Fault | None = getattr(self._local, "reply_fault", None)
        self._local.reply_fault = None
        return reply if fault is None else fault.rewrite(reply)

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
