"""The HTTP/1.1 front end: threads, keep-alive, SigV4, faults, streaming bodies.

``http.server.ThreadingHTTPServer`` gives one thread per connection, which matches botocore's
connection pool. Upload bodies are never read whole: the signature covers
``x-amz-content-sha256`` so it is checked first, then the body is streamed with ``readinto``
into the storage's buffers and hashed chunk by chunk. Job output is written from storage in
chunks (``sendfile`` for disk blobs).
"""

from __future__ import annotations

import contextlib
import hmac
import ipaddress
import json
import logging
import os
import secrets
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import attrs

from glacierlib.localserver.blobs import ServerStorage
from glacierlib.localserver.clock import SimClock
from glacierlib.localserver.config import ServerConfig
from glacierlib.localserver.control import (
    CONTROL_PREFIX,
    CONTROL_TOKEN_HEADER,
    ControlClient,
    error_body,
    handle_control,
)
from glacierlib.localserver.errors import GlacierError, missing
from glacierlib.localserver.faults import Fault, FaultTable, RequestStats
from glacierlib.localserver.model import new_request_id
from glacierlib.localserver.routes import UPLOAD_OPERATIONS, Call, Reply, match_route
from glacierlib.localserver.s3 import S3Api, is_s3_request, open_s3, serve_s3
from glacierlib.localserver.service import GlacierService
from glacierlib.localserver.sigv4 import verify_request
from glacierlib.localserver.storage_disk import DiskStorage
from glacierlib.localserver.storage_memory import MemoryStorage

__all__ = ["LocalServer", "running_server", "serve"]

logger = logging.getLogger(__name__)

#: Largest non-upload body read into memory (JSON parameters are tiny).
_MAX_SMALL_BODY = 1 << 20
#: Largest unread upload body drained to keep a connection after an early error.
_MAX_DRAIN = 64 << 20
_IDLE_TIMEOUT = 120.0
#: Bodies up to this size go out in the same write as the headers.
_COALESCE = 64 << 10


class _CountingReader:
    """Reads at most ``remaining`` bytes of the request body; remembers what is left."""

    def __init__(self, rfile: Any, length: int) -> None:
        self._rfile = rfile
        self.remaining = length

    def readinto(self, buffer: memoryview) -> int:
        if self.remaining <= 0:
            return 0
        view = buffer[: self.remaining] if len(buffer) > self.remaining else buffer
        n = self._rfile.readinto(view) or 0
        self.remaining -= n
        return int(n)

    def read(self, size: int) -> bytes:
        data = self._rfile.read(min(size, self.remaining)) if self.remaining > 0 else b""
        self.remaining -= len(data)
        return bytes(data)

    def drain(self) -> bool:
        """Discard the rest of the body; False when it is too big to bother (close instead)."""
        if self.remaining > _MAX_DRAIN:
            return False
        scratch = memoryview(bytearray(min(self.remaining, 1 << 20) or 1))
        while self.remaining > 0:
            if not self.readinto(scratch):
                return False
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    #: The S3 face (set by ``_start``).
    s3: S3Api | None = None

    def __init__(self, address: tuple[str, int], service: GlacierService,
                 config: ServerConfig, control_token: str | None,
                 listening: socket.socket | None = None) -> None:
        self.service = service
        self.config = config
        #: None: the control plane is off; otherwise every control call must carry it.
        self.control_token = control_token
        self.faults = FaultTable()
        self.stats = RequestStats()
        self.secrets = dict(config.key_pairs)
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler, bind_and_activate=listening is None)
        if listening is not None:
            # Bound and listening already (by the parent of a child server): connections
            # made before this process was ready wait in its backlog.
            self.socket.close()
            self.socket = listening
            self.server_address = listening.getsockname()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client vanishing mid-request is routine; log it instead of printing to stderr."""
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._conn_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake every keep-alive thread so shutdown does not wait for idle clients."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "glacierlib-localserver"

    def version_string(self) -> str:
        return self.server_version
    timeout = _IDLE_TIMEOUT
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Without TCP_NODELAY a reply written as headers then body waits for the client's
        # delayed ACK (about 40 ms) before its second segment leaves: Nagle's algorithm.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.client_address[0], *args)

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    # ------------------------------------------------------------------ plumbing

    def _content_length(self) -> int | None:
        raw = self.headers.get("Content-Length")
        if raw is None:
            return None
        if not raw.strip().isdigit():
            self.close_connection = True
            raise GlacierError(400, "BadRequest", f"Invalid Content-Length: {raw[:40]}")
        return int(raw)

    def _reset(self) -> None:
        """Abortive close: the client sees ECONNRESET."""
        with contextlib.suppress(OSError):
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            self.connection.close()
        self.close_connection = True

    def _handle(self) -> None:
        request_id = new_request_id()
        url = urlsplit(self.path)
        if url.path.startswith(CONTROL_PREFIX):
            self._control(url.path, request_id)
            return
        if is_s3_request(self.command, self.headers):
            serve_s3(self, url, request_id, _CountingReader)
            return
        reader: _CountingReader | None = None
        fault: Fault | None = None
        try:
            length = self._content_length()
            reader = _CountingReader(self.rfile, length or 0)
            query = dict(parse_qsl(url.query, keep_blank_values=True))
            route = match_route(self.command, url.path, query)
            operation = route.operation
            self.server.stats.record(operation, length or 0)
            fault = self.server.faults.take(operation)
            if fault is not None:
                fault = self._apply_fault(fault, reader)
                if fault is None and self.close_connection:
                    return
            # Reply faults (body, corrupt, header, drop_header) act on the finished reply.
            reply = self.server.faults.rewrite(self._dispatch(
                route.operation, route, url, query, length=length, reader=reader
            ))
        except GlacierError as exc:
            reply = self._error_reply(exc)
        except OSError:
            logger.debug("connection error while handling %s", self.path, exc_info=True)
            self.close_connection = True
            return
        except Exception:
            logger.exception("internal error handling %s %s", self.command, url.path)
            reply = self._error_reply(
                GlacierError(500, "ServiceUnavailableException", "Internal server error")
            )
        if reader is not None and reader.remaining and not reader.drain():
            self.close_connection = True
        self._send(reply, request_id, truncate=fault is not None and fault.kind == "truncate")

    def _apply_fault(self, fault: Fault, reader: _CountingReader) -> Fault | None:
        """Act on a fault before the operation; returns the fault if it still applies after."""
        if fault.kind == "delay":
            time.sleep(fault.delay)
            return None
        if fault.kind == "reset":
            self._reset()
            return None
        if fault.kind == "error":
            reader.drain()
            raise GlacierError(fault.status, fault.code, fault.message)
        return fault

    def _dispatch(self, operation: str, route: Any, url: Any, query: dict[str, str], *,
                  length: int | None, reader: _CountingReader) -> Reply:
        config = self.server.config
        upload = operation in UPLOAD_OPERATIONS
        body = b""
        if not upload and length:
            if length > _MAX_SMALL_BODY:
                self.close_connection = True
                raise GlacierError(400, "BadRequest", f"Request body too large: {length}")
            buf = memoryview(bytearray(length))
            got = 0
            while got < length:
                n = reader.readinto(buf[got:])
                if not n:
                    raise GlacierError(408, "RequestTimeoutException", "Body ended too early")
                got += n
            body = bytes(buf)
        if upload and length is None:
            raise missing("Required parameter missing: Content-Length")
        raw_path = url.path + (f"?{url.query}" if url.query else "")
        identity = verify_request(
            method=self.command,
            raw_path=raw_path,
            headers=self.headers,  # type: ignore[arg-type]
            body=body,
            secrets=self.server.secrets,
            check=config.check_signatures,
            max_skew=config.max_clock_skew,
            payload_hash=self.headers.get("x-amz-content-sha256", "") if upload else None,
        )
        if route.account not in ("-", config.account_id):
            raise GlacierError(
                403, "AccessDeniedException",
                f"Access denied for account {route.account[:20]}",
            )
        if config.no_longer_supported:
            raise GlacierError(
                400,
                "NoLongerSupportedException",
                "This API is no longer supported for new accounts. Please use Amazon S3 "
                "Glacier storage classes instead.",
            )
        call = Call(
            route=route,
            region=identity.region,
            query=query,
            headers=self.headers,  # type: ignore[arg-type]
            body=body,
            reader=reader if upload else None,
            content_length=length,
        )
        return self.server.service.handler(operation)(call)

    @staticmethod
    def _error_reply(exc: GlacierError) -> Reply:
        data = json.dumps(error_body(exc), separators=(",", ":")).encode()
        return Reply(exc.status, (("Content-Type", "application/json"),), data)

    def _send(self, reply: Reply, request_id: str, *, truncate: bool = False) -> None:
        length = reply.stream.length if reply.stream is not None else len(reply.body)
        self.send_response(reply.status)
        self.send_header("x-amzn-RequestId", request_id)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        if self.close_connection:
            self.send_header("Connection", "close")
        if truncate:
            self._send_truncated(reply, length)
            return
        buffered: list[bytes] | None = getattr(self, "_headers_buffer", None)
        if buffered is not None and reply.stream is None and len(reply.body) <= _COALESCE:
            # Headers and a small body in one segment: one send, one ACK.
            buffered.append(b"\r\n" + reply.body)
            self.flush_headers()
            return
        self.end_headers()
        if reply.stream is not None:
            self._send_stream(reply)
        elif reply.body:
            self.wfile.write(reply.body)

    def _send_truncated(self, reply: Reply, length: int) -> None:
        """Send half of the body, then close. Without a body, cut the status line itself:
        a header block cut short at a line end would parse as a complete (empty) reply."""
        self.close_connection = True
        if length == 0:
            buffered: list[bytes] = getattr(self, "_headers_buffer", [])
            headers = b"".join(buffered)
            buffered.clear()
            self.wfile.write(headers[:10])
            return
        self.end_headers()
        budget = length // 2
        chunks: Iterator[memoryview] | list[bytes] = (
            reply.stream.chunks() if reply.stream is not None else [reply.body]
        )
        for chunk in chunks:
            if budget <= 0:
                break
            piece = chunk[:budget]
            self.wfile.write(piece)
            budget -= len(piece)
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _send_stream(self, reply: Reply) -> None:
        assert reply.stream is not None
        spans = reply.stream.file_spans()
        if spans is not None:
            for path, offset, count in spans:
                with open(path, "rb") as f:
                    sent = 0
                    while sent < count:
                        n = self.connection.sendfile(f, offset + sent, count - sent)
                        if not n:
                            raise OSError("sendfile sent nothing")
                        sent += n
            return
        for chunk in reply.stream.chunks():
            self.wfile.write(chunk)

    def _control(self, path: str, request_id: str) -> None:
        try:
            token = self.server.control_token
            if token is None:
                raise GlacierError(404, "ResourceNotFoundException",
                                   "the control plane is off on this server")
            if not ipaddress.ip_address(self.client_address[0]).is_loopback:
                raise GlacierError(403, "AccessDeniedException", "control plane is loopback only")
            given = self.headers.get(CONTROL_TOKEN_HEADER, "")
            if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode()):
                self.close_connection = True
                raise GlacierError(403, "AccessDeniedException",
                                   "control calls need this run's control token")
            length = self._content_length() or 0
            if length > _MAX_SMALL_BODY:
                self.close_connection = True
                raise GlacierError(400, "BadRequest", "control body too large")
            body = self.rfile.read(length) if length else b""
            status, result = handle_control(
                self.server.service, faults=self.server.faults, stats=self.server.stats,
                method=self.command, path=path, body=body, s3=self.server.s3,
            )
            reply = Reply(
                status,
                (("Content-Type", "application/json"),),
                json.dumps(result, separators=(",", ":")).encode(),
            )
        except GlacierError as exc:
            reply = self._error_reply(exc)
        except Exception:
            logger.exception("internal error in control call %s", path)
            reply = self._error_reply(GlacierError(500, "InternalFailure", "control call failed"))
        self._send(reply, request_id)


def _make_storage(data_dir: Path | None, config: ServerConfig, lock_fd: int | None = None
                  ) -> ServerStorage:
    if data_dir is None:
        return MemoryStorage()
    return DiskStorage(Path(data_dir), fsync=config.fsync, lock_fd=lock_fd)


@attrs.define
class LocalServer:
    """A running server: where to connect, with which credentials, and its control client."""

    endpoint_url: str
    region: str
    access_key: str
    secret_key: str = attrs.field(repr=False)
    control: ControlClient
    service: GlacierService = attrs.field(repr=False)
    _httpd: _Server = attrs.field(repr=False, alias="httpd")
    _thread: threading.Thread | None = attrs.field(repr=False, default=None, alias="thread")

    @property
    def config(self) -> ServerConfig:
        return self._httpd.config

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``session.create_client("glacier", **kwargs)``."""
        return {
            "region_name": self.region,
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
        }

    def stop(self) -> None:
        self._httpd.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.close()

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`request_stop` (from another thread)."""
        self._httpd.serve_forever(poll_interval=0.05)

    def request_stop(self) -> None:
        """Make :meth:`serve_forever` return; waits until it has."""
        self._httpd.shutdown()

    def close(self) -> None:
        """Close the connections and the socket, then the storage (releases the lock)."""
        self._httpd.close_connections()
        self._httpd.server_close()
        with self.service.lock:
            self.service.storage.close()
        s3 = self._httpd.s3
        if s3 is not None:
            with s3.lock:
                s3.storage.close()


def _start(data_dir: Path | None, config: ServerConfig, host: str, port: int,
           *, thread: bool, listening: socket.socket | None = None,
           lock_fd: int | None = None) -> LocalServer:
    storage = _make_storage(data_dir, config, lock_fd)
    try:
        service = GlacierService(storage, config, SimClock())
        s3 = open_s3(data_dir, service.clock, fsync=config.fsync)
        # A fresh random token per run: other local users cannot read or script this run.
        token = secrets.token_urlsafe(24) if config.control_plane else None
        try:
            httpd = _Server((host, port), service, config, token, listening)
        except BaseException:
            s3.storage.close()
            raise
        httpd.s3 = s3
    except BaseException:
        storage.close()
        raise
    bound_host, bound_port = httpd.server_address[:2]
    shown = bound_host if isinstance(bound_host, str) else bound_host.decode()
    if shown in ("0.0.0.0", ""):
        shown = "127.0.0.1"
    endpoint = f"http://{shown}:{bound_port}"
    worker = None
    if thread:
        worker = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"glacier-localserver-{bound_port}",
            daemon=True,
        )
        worker.start()
    access_key, secret_key = config.key_pairs[0]
    return LocalServer(
        endpoint_url=endpoint,
        region=config.region,
        access_key=access_key,
        secret_key=secret_key,
        control=ControlClient(endpoint, token=token or ""),
        service=service,
        httpd=httpd,
        thread=worker,
    )


@contextlib.contextmanager
def running_server(
    data_dir: Path | None = None,
    *,
    config: ServerConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
) -> Iterator[LocalServer]:
    """Start a server in a background thread (a free port by default); stop it on exit.

    ``data_dir=None`` keeps everything in memory; otherwise state and bodies live under
    ``data_dir`` and survive a restart on the same directory.
    """
    server = _start(data_dir, config or ServerConfig(), host, port, thread=True)
    try:
        yield server
    finally:
        server.stop()


def serve(
    data_dir: Path | None,
    host: str = "127.0.0.1",
    port: int = 0,
    config: ServerConfig | None = None,
    *,
    on_ready: Callable[[LocalServer], None] | None = None,
) -> None:
    """Run in the foreground until KeyboardInterrupt (the CLI's ``local-server``).

    ``on_ready`` receives the started server (endpoint, credentials) so the caller can show
    them; this module never prints.
    """
    server = _start(data_dir, config or ServerConfig(), host, port, thread=False)
    logger.info("local Glacier server listening on %s (pid %d)", server.endpoint_url,
                os.getpid())
    if on_ready is not None:
        on_ready(server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("local Glacier server stopping")
    finally:
        server.close()
