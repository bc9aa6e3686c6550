"""The unsigned control plane (``/_local/...``) and ``ControlClient``, its Python face.

Real Glacier has no such API: it is how tests move the simulated clock, finish jobs, take an
inventory now, inspect state and script faults. It answers only clients on loopback that send
the run's random token (header ``X-Local-Control-Token``; other local users on a shared host
must not read a run's state or script its failures), and ``--local`` runs turn it off. It is
plain HTTP+JSON so that tools in other languages (and ``curl``) can drive it too.
"""

from __future__ import annotations

import base64
import http.client
import json
from typing import Any
from urllib.parse import urlsplit

from glacierlib.exceptions import InvalidRequest, NotFound, ServiceError
from glacierlib.localserver.errors import GlacierError, invalid, not_found
from glacierlib.localserver.faults import Fault, FaultTable, RequestStats
from glacierlib.localserver.service import GlacierService

__all__ = ["CONTROL_PREFIX", "ControlClient", "handle_control"]

CONTROL_PREFIX = "/_local/"
#: The header a control call carries its run's token in (``LocalServer.control`` knows it).
CONTROL_TOKEN_HEADER = "X-Local-Control-Token"  # noqa: S105 - a header name


def _field(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise invalid(f"control call needs '{name}'")
    return value


def handle_control(
    service: GlacierService,
    *,
    faults: FaultTable,
    stats: RequestStats,
    method: str,
    path: str,
    body: bytes,
    s3: Any = None,
) -> tuple[int, Any]:
    """Run one control call; returns (status, JSON-able result). Raises GlacierError.
    ``s3``: the S3 face (``S3Api``), for ``s3/restore/complete`` and the state's buckets."""
    try:
        data = json.loads(body) if body else {}
    except ValueError:
        raise invalid("control body must be JSON") from None
    if not isinstance(data, dict):
        raise invalid("control body must be a JSON object")
    action = path[len(CONTROL_PREFIX) :].strip("/")
    if (method, action) == ("POST", "clock/advance"):
        seconds = float(data.get("seconds", 0))
        if seconds < 0:
            raise invalid("the clock only moves forward")
        now = service.clock.advance(seconds)
        service.tick_all()
        with service.lock:
            service.save_account()
        return 200, {"now": now}
    if (method, action) == ("POST", "jobs/complete"):
        service.complete_job(_field(data, "vault"), _field(data, "job_id"))
        return 200, {}
    if (method, action) == ("POST", "jobs/fail"):
        message = str(data.get("message") or "Failed by the control plane.")
        service.fail_job(_field(data, "vault"), _field(data, "job_id"), message)
        return 200, {}
    if (method, action) == ("POST", "jobs/expire"):
        service.expire_job(_field(data, "vault"), _field(data, "job_id"))
        return 200, {}
    if (method, action) == ("POST", "inventory"):
        return 200, service.take_inventory(_field(data, "vault"))
    if (method, action) == ("GET", "state"):
        state = service.state()
        state["faults"] = faults.pending()
        if s3 is not None:
            state["buckets"] = s3.state()
        return 200, state
    if (method, action) == ("POST", "s3/restore/complete") and s3 is not None:
        s3.complete_restore(_field(data, "bucket"), _field(data, "key"))
        return 200, {}
    if (method, action) == ("POST", "faults"):
        try:
            fault, count = Fault.from_json(data)
        except (KeyError, ValueError, TypeError) as exc:
            raise invalid(f"bad fault: {exc}") from None
        faults.add(fault, count)
        return 200, {"pending": faults.pending()}
    if (method, action) == ("DELETE", "faults"):
        faults.clear()
        return 200, {}
    if (method, action) == ("GET", "stats"):
        return 200, stats.snapshot()
    if (method, action) == ("DELETE", "stats"):
        stats.reset()
        return 200, {}
    if (method, action) == ("GET", "publications"):
        with service.lock:
            return 200, {"publications": list(service.publications)}
    raise not_found(f"no control call {method} {path[:100]}")


class ControlClient:
    """Drives a running local server's control plane over HTTP with the run's token
    (``LocalServer.control``; ``mtglacier local-server`` prints it as ``control-token``)."""

    def __init__(self, endpoint_url: str, *, token: str = "", timeout: float = 30.0) -> None:
        parts = urlsplit(endpoint_url)
        self.token = token
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"endpoint URL needs a host and port: {endpoint_url}")
        self._host = parts.hostname
        self._port = parts.port
        self._timeout = timeout

    def _call(self, method: str, action: str, body: dict[str, Any] | None = None) -> Any:
        conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if payload is not None else {}
            headers[CONTROL_TOKEN_HEADER] = self.token
            conn.request(method, CONTROL_PREFIX + action, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        data = json.loads(raw) if raw else {}
        if response.status >= 400:
            message = str(data.get("message", raw[:200]))
            code = str(data.get("code", ""))
            cls: type[ServiceError] = NotFound if response.status == 404 else InvalidRequest
            raise cls(message, code=code, operation=f"control {action}", status=response.status)
        return data

    def advance_clock(self, seconds: float) -> float:
        """Move the simulated clock forward; due jobs finish and due inventories are taken."""
        return float(self._call("POST", "clock/advance", {"seconds": seconds})["now"])

    def complete_job(self, vault: str, job_id: str) -> None:
        self._call("POST", "jobs/complete", {"vault": vault, "job_id": job_id})

    def fail_job(self, vault: str, job_id: str, message: str = "Failed by the test.") -> None:
        self._call("POST", "jobs/fail", {"vault": vault, "job_id": job_id, "message": message})

    def expire_job(self, vault: str, job_id: str) -> None:
        """Forget a job now, as if its 24 h output window had passed."""
        self._call("POST", "jobs/expire", {"vault": vault, "job_id": job_id})

    def take_inventory(self, vault: str) -> dict[str, Any]:
        """Snapshot the vault's inventory now (LastInventoryDate moves only on change)."""
        return dict(self._call("POST", "inventory", {"vault": vault}))

    def complete_restore(self, bucket: str, key: str) -> None:
        """Finish the S3 restore running on ``bucket``/``key`` now."""
        self._call("POST", "s3/restore/complete", {"bucket": bucket, "key": key})

    def state(self) -> dict[str, Any]:
        """Clock, vaults, faults and (``"buckets"``) the S3 face's buckets."""
        return dict(self._call("GET", "state"))

    def inject_fault(
        self,
        operation: str,
        kind: str,
        count: int = 1,
        *,
        status: int = 500,
        code: str = "InternalFailure",
        delay: float = 0.0,
        message: str = "Injected fault",
        payload: bytes = b"",
        header: str = "",
        value: str = "",
    ) -> None:
        """The next ``count`` calls of ``operation`` (botocore name) get fault ``kind``:
        ``error`` (status/code), ``reset`` (TCP reset), ``truncate`` (response cut short),
        ``delay`` (sleep ``delay`` seconds, then answer normally), or a reply fault on a
        successful answer: ``body`` (body replaced by ``payload``), ``corrupt`` (middle byte
        flipped), ``header`` (header ``header`` set to ``value``), ``drop_header`` (header
        ``header`` removed)."""
        self._call(
            "POST",
            "faults",
            {"operation": operation, "kind": kind, "count": count, "status": status,
             "code": code, "delay": delay, "message": message,
             "payload": base64.b64encode(payload).decode("ascii"), "header": header,
             "value": value},
        )

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def stats(self) -> dict[str, Any]:
        """``{"requests": {op: n}, "bytes_received": {op: n}}``."""
        return dict(self._call("GET", "stats"))

    def reset_stats(self) -> None:
        self._call("DELETE", "stats")

    def publications(self) -> list[dict[str, Any]]:
        """SNS messages the real service would have published (topic, event, message)."""
        return list(self._call("GET", "publications")["publications"])


def error_body(exc: GlacierError) -> dict[str, str]:
    return {"code": exc.code, "message": exc.message, "type": exc.kind}
