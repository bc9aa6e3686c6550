"""``mtglacier local-server``: the built-in Glacier-compatible server, in the foreground.

For trying mtglacier (or any Glacier client) without an AWS account, and for tests of other
tools: vaults live under ``--data-dir`` and survive restarts. Jobs complete after
``--job-delay`` seconds (default: at once). Stops on Ctrl-C.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from glacierlib.config import Settings
    from glacierlib.localserver import LocalServer
    from glacierlib_cli.output import Ui

NAME = "local-server"
SUMMARY = "run the built-in Glacier-compatible server in the foreground"
OPTIONS: tuple[str, ...] = ("data-dir", "port", "host", "allow-remote", "job-delay")
REQUIRED: tuple[str, ...] = ("data-dir",)
NETWORK = False
OK_DONE = False


def _port(text: str) -> int:
    from glacierlib_cli.errors import UsageError

    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise UsageError(f"--port must be 0..65535, got {text!r}")
    return int(text)


def _delay(text: str) -> float:
    from glacierlib_cli.errors import UsageError

    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"--job-delay must be a number of seconds >= 0, got {text!r}")
    return value


def _is_loopback(host: str) -> bool:
    import ipaddress
    import socket

    if not host:
        return False  # every interface
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None)
        except OSError:
            return False
        return bool(infos) and all(
            ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos
        )


def run(settings: Settings, args: argparse.Namespace, ui: Ui) -> int:
    from glacierlib.localserver import ServerConfig, serve
    from glacierlib_cli.errors import UsageError

    data_dir = Path(args.data_dir)
    if data_dir.exists() and not data_dir.is_dir():
        raise UsageError(f"{data_dir}: not a directory (check --data-dir)")
    port = _port(getattr(args, "port", "0"))
    host = getattr(args, "host", None)
    host = "127.0.0.1" if host is None else host
    delay = _delay(getattr(args, "job_delay", "0"))
    config = ServerConfig().with_job_delay(delay)
    if not _is_loopback(host):
        if not getattr(args, "allow_remote", False):
            raise UsageError(
                f"--host {host} is reachable from other machines, and this server's keys are "
                "public; add --allow-remote to confirm"
            )
        ui.warn(f"listening on {host}: anyone who can reach it can read, write and delete "
                "its vaults")

    def ready(server: LocalServer) -> None:
        # The key pair is the fixed, public example pair of the AWS documentation: it protects
        # nothing, and a client needs it to sign requests to this server. The control token
        # is this run's own secret: tools that drive the control plane need it.
        ui.out(f"endpoint-url {server.endpoint_url}")
        ui.out(f"region {server.region}")
        ui.out(f"key {server.access_key}")
        ui.out(f"secret {server.secret_key}")
        ui.out(f"control-token {server.control.token}")
        ui.info(f"serving vaults under {data_dir}; press Ctrl-C to stop")

    serve(data_dir, host=host, port=port, config=config, on_ready=ready)
    ui.info("stopped")
    return 0
