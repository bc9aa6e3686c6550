"""Vaults, single-request archives, deletion rules, notifications, policies and tags."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from glacierlib.localserver import LocalServer, ServerConfig
from glacierlib.treehash import tree_hash_bytes

from .support import error_code, error_message, pattern


def test_create_is_idempotent_and_located(server: LocalServer, client: Any) -> None:
    first = client.create_vault(vaultName="photos")
    second = client.create_vault(vaultName="photos")
    assert first["location"] == second["location"] == (
        f"/{server.config.account_id}/vaults/photos"
    )
    assert first["ResponseMetadata"]["HTTPStatusCode"] == 201


@pytest.mark.parametrize("name", ["bad name", "a/b", "x" * 256, "é"])
def test_invalid_vault_names(client: Any, name: str) -> None:
    with pytest.raises(client.exceptions.ClientError) as err:
        client.create_vault(vaultName=name)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 404)


def test_describe_new_and_missing_vault(server: LocalServer, client: Any) -> None:
    client.create_vault(vaultName="v")
    desc = client.describe_vault(vaultName="v")
    assert desc["VaultARN"] == f"arn:aws:glacier:us-east-1:{server.config.account_id}:vaults/v"
    assert (desc["NumberOfArchives"], desc["SizeInBytes"]) == (0, 0)
    assert "LastInventoryDate" not in desc
    with pytest.raises(client.exceptions.ResourceNotFoundException) as err:
        client.describe_vault(vaultName="missing")
    assert error_message(err) == (
        f"Vault not found for ARN: arn:aws:glacier:us-east-1:{server.config.account_id}"
        ":vaults/missing"
    )
    assert err.value.response["ResponseMetadata"]["RequestId"]


def test_list_vaults_paginates_sorted_without_repeating_markers(client: Any) -> None:
    names = [f"vault-{i:02d}" for i in range(23)]
    for name in reversed(names):
        client.create_vault(vaultName=name)
    seen: list[str] = []
    markers: list[str] = []
    kwargs: dict[str, Any] = {}
    while True:
        page = client.list_vaults(**kwargs)
        assert len(page["VaultList"]) <= 10
        seen += [v["VaultName"] for v in page["VaultList"]]
        marker = page.get("Marker")
        if not marker:
            break
        assert marker.startswith("arn:aws:glacier:") and marker not in markers
        markers.append(marker)
        kwargs = {"marker": marker}
    assert seen == names
    paged = [v["VaultName"] for p in client.get_paginator("list_vaults").paginate(limit="4")
             for v in p["VaultList"]]
    assert paged == names


def test_upload_archive_checks_both_hashes(server: LocalServer, client: Any) -> None:
    client.create_vault(vaultName="v")
    data = pattern(3 * 1048576 + 5)
    reply = client.upload_archive(vaultName="v", body=data, archiveDescription="  e")
    assert reply["checksum"] == tree_hash_bytes(data).hex == (
        "c9e0c11a00161b193e0a1b3692ec553d4033a887f2086a7cadd4cd722d87f09f"
    )
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.upload_archive(vaultName="v", body=data, checksum="ab" * 32)
    assert error_message(err) == (
        f"Checksum mismatch: expected {'ab' * 32}, computed {tree_hash_bytes(data).hex}"
    )
    archives = server.control.state()["vaults"]["v"]["archives"]
    assert len(archives) == 1 and archives[0]["description"] == "e"


def test_content_sha256_is_checked(client: Any) -> None:
    client.create_vault(vaultName="v")
    wrong = hashlib.sha256(b"something else").hexdigest()

    def swap(request: Any, **_: Any) -> None:
        del request.headers["x-amz-content-sha256"]
        request.headers["x-amz-content-sha256"] = wrong

    client.meta.events.register_first("before-sign.glacier.UploadArchive", swap)
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.upload_archive(vaultName="v", body=b"payload")
    assert "linear hash" in error_message(err)


def test_empty_archive_and_bad_description(client: Any) -> None:
    client.create_vault(vaultName="v")
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.upload_archive(vaultName="v", body=b"")
    assert error_message(err) == "Invalid Content-Length: 0"
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.upload_archive(vaultName="v", body=b"x", archiveDescription="tab\there")


def test_upload_to_missing_vault_keeps_connection_usable(client: Any) -> None:
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.upload_archive(vaultName="missing", body=pattern(2 * 1048576))
    client.create_vault(vaultName="v")
    assert client.upload_archive(vaultName="v", body=b"ok")["archiveId"]


def test_delete_vault_follows_inventory(server: LocalServer, client: Any) -> None:
    client.create_vault(vaultName="fresh")
    client.delete_vault(vaultName="fresh")  # never written: deletable at once
    client.create_vault(vaultName="v")
    archive = client.upload_archive(vaultName="v", body=b"data")["archiveId"]

    def refused() -> None:
        with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
            client.delete_vault(vaultName="v")
        assert error_message(err).startswith("Vault not empty or recently written to: arn:")

    refused()
    server.control.take_inventory("v")
    assert client.describe_vault(vaultName="v")["NumberOfArchives"] == 1
    refused()
    client.delete_archive(vaultName="v", archiveId=archive)
    refused()  # the last inventory still lists the archive, and it was written since
    assert client.describe_vault(vaultName="v")["NumberOfArchives"] == 1
    server.control.take_inventory("v")
    assert client.describe_vault(vaultName="v")["NumberOfArchives"] == 0
    client.delete_vault(vaultName="v")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_vault(vaultName="v")


def test_daily_inventory_on_the_simulated_clock(server: LocalServer, client: Any) -> None:
    client.create_vault(vaultName="v")
    client.upload_archive(vaultName="v", body=b"a")
    server.control.advance_clock(3600)
    assert "LastInventoryDate" not in client.describe_vault(vaultName="v")
    server.control.advance_clock(86400)
    first = client.describe_vault(vaultName="v")
    assert first["NumberOfArchives"] == 1 and first["SizeInBytes"] == 1
    server.control.advance_clock(3 * 86400)  # nothing changed: the date stays
    assert client.describe_vault(vaultName="v")["LastInventoryDate"] == (
        first["LastInventoryDate"]
    )


class TestLiveInventory:
    """``inventory_interval=0``: the snapshot follows every write (handy for ``--local``)."""

    @pytest.fixture
    def server_config(self) -> ServerConfig:
        return ServerConfig(inventory_interval=0)

    def test_counts_and_delete_follow_writes(self, client: Any) -> None:
        client.create_vault(vaultName="v")
        archive = client.upload_archive(vaultName="v", body=b"abc")["archiveId"]
        assert client.describe_vault(vaultName="v")["NumberOfArchives"] == 1
        client.delete_archive(vaultName="v", archiveId=archive)
        assert client.describe_vault(vaultName="v")["NumberOfArchives"] == 0
        client.delete_vault(vaultName="v")


def test_notifications(client: Any) -> None:
    client.create_vault(vaultName="v")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_vault_notifications(vaultName="v")
    config = {"SNSTopic": "arn:aws:sns:us-east-1:123456789012:topic",
              "Events": ["ArchiveRetrievalCompleted", "InventoryRetrievalCompleted"]}
    client.set_vault_notifications(vaultName="v", vaultNotificationConfig=config)
    got = client.get_vault_notifications(vaultName="v")["vaultNotificationConfig"]
    assert got == config
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.set_vault_notifications(
            vaultName="v", vaultNotificationConfig={**config, "Events": ["Nope"]})
    client.delete_vault_notifications(vaultName="v")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_vault_notifications(vaultName="v")


def test_data_retrieval_policy(client: Any) -> None:
    assert client.get_data_retrieval_policy()["Policy"] == {"Rules": [{"Strategy": "None"}]}
    policy = {"Rules": [{"Strategy": "BytesPerHour", "BytesPerHour": 10**9}]}
    client.set_data_retrieval_policy(Policy=policy)
    assert client.get_data_retrieval_policy()["Policy"] == policy
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.set_data_retrieval_policy(
            Policy={"Rules": [{"Strategy": "FreeTier", "BytesPerHour": 5}]})


def test_tags(client: Any) -> None:
    client.create_vault(vaultName="v")
    assert client.list_tags_for_vault(vaultName="v")["Tags"] == {}
    client.add_tags_to_vault(vaultName="v", Tags={"a": "1", "b": ""})
    client.add_tags_to_vault(vaultName="v", Tags={"a": "2"})
    assert client.list_tags_for_vault(vaultName="v")["Tags"] == {"a": "2", "b": ""}
    client.remove_tags_from_vault(vaultName="v", TagKeys=["a", "zzz"])
    assert client.list_tags_for_vault(vaultName="v")["Tags"] == {"b": ""}
    with pytest.raises(client.exceptions.LimitExceededException):
        client.add_tags_to_vault(vaultName="v", Tags={f"k{i}": "v" for i in range(50)})
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.add_tags_to_vault(vaultName="v", Tags={"aws:x": "1"})


def test_access_policy_and_lock(client: Any) -> None:
    client.create_vault(vaultName="v")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_vault_access_policy(vaultName="v")
    client.set_vault_access_policy(vaultName="v", policy={"Policy": '{"Version":"2012-10-17"}'})
    assert client.get_vault_access_policy(vaultName="v")["policy"]["Policy"] == (
        '{"Version":"2012-10-17"}'
    )
    client.delete_vault_access_policy(vaultName="v")
    client.delete_vault_access_policy(vaultName="v")
    lock_id = client.initiate_vault_lock(vaultName="v", policy={"Policy": "{}"})["lockId"]
    assert len(lock_id) == 24
    assert client.get_vault_lock(vaultName="v")["State"] == "InProgress"
    with pytest.raises(client.exceptions.ClientError) as err:
        client.initiate_vault_lock(vaultName="v", policy={"Policy": "{}"})
    assert error_code(err) == "AccessDeniedException"
    client.complete_vault_lock(vaultName="v", lockId=lock_id)
    assert client.get_vault_lock(vaultName="v")["State"] == "Locked"
    with pytest.raises(client.exceptions.ClientError) as err:
        client.abort_vault_lock(vaultName="v")
    assert error_code(err) == "AccessDeniedException"


def test_provisioned_capacity(client: Any) -> None:
    capacity_id = client.purchase_provisioned_capacity()["capacityId"]
    listed = client.list_provisioned_capacity()["ProvisionedCapacityList"]
    assert [c["CapacityId"] for c in listed] == [capacity_id]
