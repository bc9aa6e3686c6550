"""The server as users start it: fixtures, the control plane, ``serve`` in the foreground."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from glacierlib.exceptions import NotFound
from glacierlib.localserver import LocalServer


def test_fixtures_give_a_working_client(local_server: LocalServer, glacier_client: Any) -> None:
    glacier_client.create_vault(vaultName="v")
    assert local_server.control.state()["vaults"].keys() == {"v"}
    assert local_server.endpoint_url.startswith("http://127.0.0.1:")
    assert "secret" not in repr(local_server).lower()


def test_disk_fixture(disk_server: LocalServer, tmp_path: Path) -> None:
    assert (tmp_path / "glacier-data" / "meta").is_dir()


def test_job_delay_config() -> None:
    from glacierlib.localserver import ServerConfig, running_server

    with running_server(config=ServerConfig().with_job_delay(600)) as server:
        client = server_client(server)
        client.create_vault(vaultName="v")
        server.control.take_inventory("v")
        job_id = client.initiate_job(vaultName="v",
                                     jobParameters={"Type": "inventory-retrieval"})["jobId"]
        assert client.describe_job(vaultName="v", jobId=job_id)["StatusCode"] == "InProgress"
        server.control.advance_clock(600)
        assert client.describe_job(vaultName="v", jobId=job_id)["StatusCode"] == "Succeeded"


def server_client(server: LocalServer) -> Any:
    import botocore.session

    return botocore.session.get_session().create_client("glacier", **server.client_kwargs())


def test_control_errors_are_typed(local_server: LocalServer) -> None:
    with pytest.raises(NotFound):
        local_server.control.take_inventory("missing")
    with pytest.raises(NotFound):
        local_server.control.complete_job("missing", "job")


def test_control_plane_is_plain_json(local_server: LocalServer) -> None:
    url = urlsplit(local_server.endpoint_url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    token = {"X-Local-Control-Token": local_server.control.token}
    conn.request("POST", "/_local/clock/advance", body=b'{"seconds": 60}', headers=token)
    response = conn.getresponse()
    assert response.status == 200
    assert json.loads(response.read())["now"] > time.time() + 59
    conn.request("GET", "/_local/nothing-here", headers=token)
    response = conn.getresponse()
    assert response.status == 404
    assert json.loads(response.read())["code"] == "ResourceNotFoundException"
    conn.close()


@pytest.mark.parametrize("token", [None, "", "guess", "x" * 32])
def test_control_plane_refuses_a_caller_without_the_runs_token(
    local_server: LocalServer, token: str | None
) -> None:
    """Another local user can reach the port, but not read the state or script faults."""
    assert len(local_server.control.token) >= 32
    url = urlsplit(local_server.endpoint_url)
    headers = {} if token is None else {"X-Local-Control-Token": token}
    for method, path, body in (("GET", "/_local/state", None),
                               ("POST", "/_local/faults",
                                b'{"operation": "UploadArchive", "kind": "reset"}')):
        conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        assert response.status == 403
        assert b"vaults" not in response.read()
        conn.close()
    assert not local_server.control.state()["faults"]


def test_control_plane_off_answers_nothing() -> None:
    from glacierlib.localserver import ServerConfig, running_server

    with running_server(config=ServerConfig(control_plane=False)) as server, \
            pytest.raises(NotFound, match="control plane is off"):
        server.control.state()


def test_unknown_route(local_server: LocalServer) -> None:
    url = urlsplit(local_server.endpoint_url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=5)
    conn.request("PATCH", "/-/vaults/v")
    response = conn.getresponse()
    assert response.status in (400, 501)
    conn.close()


def test_serve_in_the_foreground_until_interrupted(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from glacierlib.localserver import serve\n"
        "serve(Path(sys.argv[1]),\n"
        "      on_ready=lambda s: print(s.endpoint_url, s.control.token, flush=True))\n"
        "print('stopped', flush=True)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        endpoint, token = proc.stdout.readline().split()
        assert endpoint.startswith("http://127.0.0.1:")
        from glacierlib.localserver import ControlClient

        assert ControlClient(endpoint, token=token).state()["vaults"] == {}
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert proc.stdout.readline().strip() == "stopped"
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", ""])
def test_local_server_refuses_a_reachable_host_without_confirmation(
    host: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its key pair is public: listening beyond loopback needs --allow-remote."""
    from glacierlib_cli.main import main

    code = main(["local-server", "--data-dir", str(tmp_path / "d"), "--host", host])
    err = capsys.readouterr().err
    assert code == 2
    assert "--allow-remote" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "d").exists()
