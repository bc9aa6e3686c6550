"""Inventory jobs (snapshot semantics, JSON and CSV, parameters) and ListJobs."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from glacierlib.localserver import LocalServer, ServerConfig
from glacierlib.treehash import tree_hash_bytes

from .support import error_message

TRICKY = ["plain", "comma, inside", 'quote " inside', "back\\slash", "\\", 'both \\" mixed', ""]


def _inventory(client: Any, vault: str, **params: Any) -> str:
    body = {"Type": "inventory-retrieval", **params}
    return str(client.initiate_job(vaultName=vault, jobParameters=body)["jobId"])


def _output(client: Any, vault: str, job_id: str) -> tuple[str, bytes]:
    out = client.get_job_output(vaultName=vault, jobId=job_id)
    return str(out["contentType"]), bytes(out["body"].read())


def _upload_tricky(client: Any, vault: str) -> list[str]:
    return [
        client.upload_archive(vaultName=vault, body=f"body {i}".encode(),
                              archiveDescription=desc)["archiveId"]
        for i, desc in enumerate(TRICKY)
    ]


def parse_glacier_csv(text: str) -> list[dict[str, str]]:
    """The reference's parsing rule for Glacier's CSV dialect (independent of the server)."""
    lines = text.splitlines()
    assert lines[0] == "ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash"
    rows = []
    for line in lines[1:]:
        archive_id, rest = line.split(",", 1)
        description, created, size, tree = rest.rsplit(",", 3)
        if len(description) >= 2 and description[0] == description[-1] == '"':
            description = description[1:-1]
        rows.append({"ArchiveId": archive_id, "ArchiveDescription":
                     description.replace('\\"', '"'), "CreationDate": created,
                     "Size": size, "SHA256TreeHash": tree})
    return rows


def test_inventory_is_the_last_snapshot(server: LocalServer, client: Any, vault: str) -> None:
    ids = _upload_tricky(client, vault)
    job_id = _inventory(client, vault)
    failed = client.describe_job(vaultName=vault, jobId=job_id)
    assert failed["StatusCode"] == "Failed"  # no inventory has ever been taken
    server.control.take_inventory(vault)
    late = client.upload_archive(vaultName=vault, body=b"late")["archiveId"]
    job_id = _inventory(client, vault)
    desc = client.describe_job(vaultName=vault, jobId=job_id)
    assert desc["Action"] == "InventoryRetrieval" and desc["StatusCode"] == "Succeeded"
    assert desc["InventoryRetrievalParameters"]["Format"] == "JSON"
    content_type, body = _output(client, vault, job_id)
    assert content_type == "application/json"
    assert desc["InventorySizeInBytes"] == len(body)
    inventory = json.loads(body)
    assert inventory["VaultARN"].endswith(f":vaults/{vault}")
    assert inventory["InventoryDate"].endswith("Z") and "." not in inventory["InventoryDate"]
    listed = [a["ArchiveId"] for a in inventory["ArchiveList"]]
    assert listed == ids and late not in listed
    first = inventory["ArchiveList"][0]
    assert first["Size"] == len(b"body 0")
    assert first["SHA256TreeHash"] == tree_hash_bytes(b"body 0").hex
    assert [a["ArchiveDescription"] for a in inventory["ArchiveList"]] == TRICKY


def test_csv_inventory_dialect(server: LocalServer, client: Any, vault: str) -> None:
    ids = _upload_tricky(client, vault)
    server.control.take_inventory(vault)
    content_type, body = _output(client, vault, _inventory(client, vault, Format="CSV"))
    assert content_type == "text/csv"
    text = body.decode("ascii")
    lines = text.split("\n")
    assert lines[-1] == "" and lines[0].startswith("ArchiveId,")
    # The dialect itself: description always quoted, " as \", backslashes raw.
    assert f'{ids[1]},"comma, inside",' in text
    assert f'{ids[2]},"quote \\" inside",' in text
    assert f'{ids[4]},"\\",' in text
    assert f'{ids[6]},"",' in text
    rows = parse_glacier_csv(text)
    assert [r["ArchiveId"] for r in rows] == ids
    assert [r["ArchiveDescription"] for r in rows] == TRICKY


class TestCrlf:
    @pytest.fixture
    def server_config(self) -> ServerConfig:
        return ServerConfig(csv_line_end="\r\n", no_inventory="empty")

    def test_crlf_and_empty_inventory(self, client: Any, vault: str) -> None:
        _, body = _output(client, vault, _inventory(client, vault, Format="CSV"))
        assert body == b"ArchiveId,ArchiveDescription,CreationDate,Size,SHA256TreeHash\r\n"


def test_inventory_parameters(server: LocalServer, client: Any, vault: str) -> None:
    ids = []
    for i in range(5):
        ids.append(client.upload_archive(vaultName=vault, body=b"x%d" % i)["archiveId"])
        server.control.advance_clock(3600)
    server.control.take_inventory(vault)
    state = server.control.state()["vaults"][vault]["archives"]
    created = {a["archive_id"]: a["created"] for a in state}
    from glacierlib.localserver.clock import format_inventory_date

    start = format_inventory_date(created[ids[1]] - 1)
    end = format_inventory_date(created[ids[4]] - 1)
    got: list[str] = []
    marker = None
    while True:
        params: dict[str, Any] = {"StartDate": start, "EndDate": end, "Limit": "2"}
        if marker:
            params["Marker"] = marker
        job_id = _inventory(client, vault, InventoryRetrievalParameters=params)
        got += [a["ArchiveId"] for a in json.loads(_output(client, vault, job_id)[1])[
            "ArchiveList"]]
        irp = client.describe_job(vaultName=vault, jobId=job_id)["InventoryRetrievalParameters"]
        assert irp["Limit"] == "2"
        marker = irp.get("Marker")
        if not marker:
            break
    assert got == ids[1:4]


def test_inventory_rejects_archive_fields(client: Any, vault: str) -> None:
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        _inventory(client, vault, RetrievalByteRange="0-1048575")
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        _inventory(client, vault, Format="XML")


def test_list_jobs_filters_and_pagination(server: LocalServer, client: Any,
                                          vault: str) -> None:
    archive = client.upload_archive(vaultName=vault, body=b"abc")["archiveId"]
    server.control.take_inventory(vault)
    done = [_inventory(client, vault) for _ in range(3)]
    server.service.config = attrs.evolve(server.service.config, standard_delay=3600)
    pending = [
        str(client.initiate_job(vaultName=vault, jobParameters={
            "Type": "archive-retrieval", "ArchiveId": archive})["jobId"])
        for _ in range(4)
    ]
    server.control.fail_job(vault, pending[0], "nope")

    def listed(**kwargs: Any) -> list[str]:
        pages = client.get_paginator("list_jobs").paginate(vaultName=vault, **kwargs)
        return [j["JobId"] for p in pages for j in p["JobList"]]

    assert listed() == done + pending
    assert listed(limit="2") == done + pending
    assert listed(statuscode="Succeeded") == done
    assert listed(statuscode="Failed") == pending[:1]
    assert listed(statuscode="InProgress", limit="1") == pending[1:]
    assert listed(completed="true") == [*done, pending[0]]
    assert listed(completed="false", statuscode="InProgress") == pending[1:]
    assert listed(completed="false", statuscode="Succeeded") == []
    with pytest.raises(client.exceptions.InvalidParameterValueException) as err:
        client.list_jobs(vaultName=vault, statuscode="finished")
    assert error_message(err) == "The job status code is not valid: finished"
    markers: list[str] = []
    page = client.list_jobs(vaultName=vault, limit="3")
    while page.get("Marker"):
        assert page["Marker"] not in markers
        markers.append(page["Marker"])
        nxt = client.list_jobs(vaultName=vault, limit="3", marker=page["Marker"])
        assert nxt.get("Marker") != page["Marker"]
        page = nxt
    assert len(markers) == 2


def test_vault_notifications_publish_on_completion(server: LocalServer, client: Any,
                                                   vault: str) -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:inv"
    client.set_vault_notifications(vaultName=vault, vaultNotificationConfig={
        "SNSTopic": topic, "Events": ["InventoryRetrievalCompleted"]})
    server.control.take_inventory(vault)
    job_id = _inventory(client, vault)
    published = server.control.publications()
    assert [(p["Topic"], p["Event"], p["Message"]["JobId"]) for p in published] == [
        (topic, "InventoryRetrievalCompleted", job_id)
    ]
