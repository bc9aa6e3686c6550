"""SigV4: the two official AWS vectors verify, anything tampered with is refused."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest

from glacierlib.localserver import LocalServer, ServerConfig

from .support import error_code, make_client

AKID = "AKIAIOSFODNN7EXAMPLE"
AWS_HOST = "glacier.us-east-1.amazonaws.com"
VECTOR1_SIG = "3ce5b2f2fffac9262b4da9256f8d086b4aaf42eba5f111c21681a65a127b7c2a"
VECTOR2_SIG = "b092397439375d59119072764a1e9a144677c43d9906fd98a5742c57a2855de6"
WELCOME_HASH = "726e392cb4d09924dbad1cc0ba3b00c3643d03d14cb4b823e2f041cff612a628"


@pytest.fixture
def server_config() -> ServerConfig:
    # The vectors are signed in 2012: turn the skew check off, keep signatures on.
    return ServerConfig(max_clock_skew=None)


def raw_request(server: LocalServer, method: str, path: str, headers: dict[str, str],
                body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    url = urlsplit(server.endpoint_url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def vector1(signature: str = VECTOR1_SIG) -> dict[str, str]:
    return {
        "Host": AWS_HOST,
        "x-amz-date": "20120525T002453Z",
        "x-amz-glacier-version": "2012-06-01",
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={AKID}/20120525/us-east-1/glacier/aws4_request,"
            f"SignedHeaders=host;x-amz-date;x-amz-glacier-version,Signature={signature}"
        ),
    }


def vector2(signature: str = VECTOR2_SIG) -> dict[str, str]:
    return {
        "Host": AWS_HOST,
        "x-amz-date": "20120507T000000Z",
        "x-amz-glacier-version": "2012-06-01",
        "x-amz-content-sha256": WELCOME_HASH,
        "x-amz-sha256-tree-hash": WELCOME_HASH,  # required by the API, not signed here
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={AKID}/20120507/us-east-1/glacier/aws4_request,"
            "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-glacier-version,"
            f"Signature={signature}"
        ),
    }


def test_official_vector_create_vault(server: LocalServer) -> None:
    status, headers, _ = raw_request(server, "PUT", "/-/vaults/examplevault", vector1())
    assert status == 201
    assert headers["location"] == f"/{server.config.account_id}/vaults/examplevault"
    assert "examplevault" in server.control.state()["vaults"]


def test_official_vector_upload_archive(server: LocalServer, client: Any) -> None:
    client.create_vault(vaultName="examplevault")
    status, headers, _ = raw_request(
        server, "POST", "/-/vaults/examplevault/archives", vector2(),
        b"Welcome to Amazon Glacier.",
    )
    assert status == 201
    assert headers["x-amz-sha256-tree-hash"] == WELCOME_HASH
    assert len(headers["x-amz-archive-id"]) == 138


@pytest.mark.parametrize("which", ["vector1", "vector2"])
def test_tampered_signature_is_refused(server: LocalServer, client: Any, which: str) -> None:
    client.create_vault(vaultName="examplevault")
    if which == "vector1":
        bad = VECTOR1_SIG[:-1] + ("b" if VECTOR1_SIG[-1] != "b" else "c")
        status, headers, body = raw_request(server, "PUT", "/-/vaults/other", vector1(bad))
    else:
        status, headers, body = raw_request(
            server, "POST", "/-/vaults/examplevault/archives", vector2(),
            b"Welcome to Amazon Glacier!",  # body changed: content hash no longer matches
        )
        # The signature is fine (it covers the header); the body check must catch it.
        assert status == 400
        assert json.loads(body)["code"] == "InvalidParameterValueException"
        return
    assert status == 403
    assert json.loads(body) == {
        "code": "InvalidSignatureException",
        "message": "The request signature we calculated does not match the signature you "
        "provided.",
        "type": "Client",
    }
    assert len(headers["x-amzn-requestid"]) == 47
    assert "other" not in server.control.state()["vaults"]


def test_signed_path_must_match(server: LocalServer) -> None:
    # Vector 1's signature is for /-/vaults/examplevault only.
    status, _, body = raw_request(server, "PUT", "/-/vaults/examplevault2", vector1())
    assert status == 403
    assert json.loads(body)["code"] == "InvalidSignatureException"


def test_missing_authorization(server: LocalServer) -> None:
    headers = vector1()
    del headers["Authorization"]
    status, _, body = raw_request(server, "PUT", "/-/vaults/examplevault", headers)
    assert status == 400
    assert json.loads(body)["code"] == "MissingAuthenticationTokenException"


def test_wrong_secret_through_botocore(server: LocalServer) -> None:
    client = make_client(attrs.evolve(server, secret_key="not-the-secret"))
    with pytest.raises(client.exceptions.ClientError) as err:
        client.list_vaults()
    assert error_code(err) == "InvalidSignatureException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_access_key(server: LocalServer) -> None:
    client = make_client(attrs.evolve(server, access_key="AKIDUNKNOWN"))
    with pytest.raises(client.exceptions.ClientError) as err:
        client.list_vaults()
    assert error_code(err) == "UnrecognizedClientException"


def test_expired_signature_with_default_skew(tmp_path: Any) -> None:
    from glacierlib.localserver import running_server

    with running_server() as strict:
        status, _, body = raw_request(strict, "PUT", "/-/vaults/examplevault", vector1())
    assert status == 403
    assert json.loads(body)["code"] == "InvalidSignatureException"
    assert "expired" in json.loads(body)["message"]


def test_configured_key_pairs(tmp_path: Any) -> None:
    from glacierlib.localserver import running_server

    config = ServerConfig(key_pairs={"AKIDONE": "secret-one", "AKIDTWO": "secret-two"})
    with running_server(config=config) as srv:
        second = make_client(attrs.evolve(srv, access_key="AKIDTWO", secret_key="secret-two"))
        second.create_vault(vaultName="v")
        assert srv.access_key == "AKIDONE"
        assert [v["VaultName"] for v in make_client(srv).list_vaults()["VaultList"]] == ["v"]


def test_explicit_account_id(server: LocalServer, client: Any) -> None:
    client.create_vault(accountId=server.config.account_id, vaultName="mine")
    with pytest.raises(client.exceptions.ClientError) as err:
        client.create_vault(accountId="999999999999", vaultName="theirs")
    assert error_code(err) == "AccessDeniedException"
