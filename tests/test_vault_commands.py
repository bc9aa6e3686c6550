"""``create-vault``, ``list-vaults`` (for-humans, mtmsg, json) and ``delete-vault``."""

from __future__ import annotations

import json

import pytest

from glacierlib.localserver import LocalServer
from glacierlib_cli.main import main


def connection(server: LocalServer) -> list[str]:
    return ["--endpoint-url", server.endpoint_url, "--key", server.access_key,
            "--secret", server.secret_key, "--region", server.region, "--protocol", "http"]


def test_vault_lifecycle(local_server: LocalServer, capsys: pytest.CaptureFixture[str]) -> None:
    conn = connection(local_server)
    assert main(["create-vault", "alpha", *conn]) == 0
    assert capsys.readouterr().out.splitlines() == ["Created vault alpha", "OK DONE"]
    assert main(["create-vault", "beta.2", *conn]) == 0
    capsys.readouterr()
    assert set(local_server.control.state()["vaults"]) == {"alpha", "beta.2"}

    assert main(["list-vaults", *conn]) == 0
    human = capsys.readouterr().out.splitlines()
    assert any(line.startswith("Vault alpha (arn:aws:glacier:") for line in human)
    assert "Archives: 0, Size: 0" in human
    assert "Never had inventory generation" in human
    assert human[-1] == "OK DONE"

    assert main(["list-vaults", "--format", "mtmsg", *conn]) == 0
    lines = capsys.readouterr().out.splitlines()
    alpha = [line.split("\t") for line in lines if "vaults/alpha\t" in line]
    assert [row[3] for row in alpha] == ["SizeInBytes", "CreationDate", "VaultName",
                                         "NumberOfArchives", "LastInventoryDate"]
    assert all(row[:2] == ["MTMSG", "VAULT_LIST"] and len(row) == 5 for row in alpha)
    assert alpha[2][4] == "alpha" and alpha[4][4] == ""
    assert lines[-3:] == ["MTMSG\tVAULTS_SUMMARY\ttotal_number_of_archives\t0",
                          "MTMSG\tVAULTS_SUMMARY\ttotal_size_of_archives\t0", "OK DONE"]

    assert main(["list-vaults", "--format", "json", *conn]) == 0
    text = capsys.readouterr().out
    doc = json.loads(text)  # pure JSON: no OK DONE after it
    assert sorted(v["VaultName"] for v in doc["VaultList"]) == ["alpha", "beta.2"]

    assert main(["delete-vault", "alpha", *conn]) == 0
    assert capsys.readouterr().out.splitlines() == ["Deleted vault alpha", "OK DONE"]
    assert set(local_server.control.state()["vaults"]) == {"beta.2"}


def test_bad_vault_name_is_a_usage_error(local_server: LocalServer,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["create-vault", "no/slash", *connection(local_server)]) == 2
    assert "invalid vault name" in capsys.readouterr().err
    assert local_server.control.state()["vaults"] == {}
