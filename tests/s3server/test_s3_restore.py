"""Archived storage classes and RestoreObject on the simulated clock.

moto finishes restores at once, never answers 409 and accepts Expedited for DEEP_ARCHIVE,
so these checks run against our server only (see test_s3_moto_crosscheck.py for the overlap).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from glacierlib.localserver import LocalServer

from .support import error_of, make_s3_client

HOUR = 3600


def _restore(client: Any, key: str, tier: str = "Standard", days: int = 1) -> int:
    reply = client.restore_object(Bucket="test-bucket", Key=key, RestoreRequest={
        "Days": days, "GlacierJobParameters": {"Tier": tier}})
    return int(reply["ResponseMetadata"]["HTTPStatusCode"])


def _restore_header(client: Any, key: str) -> str | None:
    return client.head_object(Bucket="test-bucket", Key=key).get("Restore")


@pytest.mark.parametrize(("storage_class", "tier", "seconds"), [
    ("GLACIER", "Expedited", 5 * 60), ("GLACIER", "Standard", 5 * HOUR),
    ("GLACIER", "Bulk", 12 * HOUR), ("DEEP_ARCHIVE", "Standard", 12 * HOUR),
    ("DEEP_ARCHIVE", "Bulk", 48 * HOUR)])
def test_restore_takes_the_tier_time(memory_s3_server: LocalServer, storage_class: str,
                                     tier: str, seconds: int) -> None:
    client = make_s3_client(memory_s3_server)
    client.create_bucket(Bucket="test-bucket")
    client.put_object(Bucket="test-bucket", Key="k", Body=b"cold", StorageClass=storage_class)
    assert _restore(client, "k", tier) == 202
    memory_s3_server.control.advance_clock(seconds - 30)
    assert _restore_header(client, "k") == 'ongoing-request="true"'
    memory_s3_server.control.advance_clock(60)
    assert _restore_header(client, "k").startswith('ongoing-request="false", expiry-date=')


def test_restore_lifecycle(s3_server: LocalServer) -> None:
    client = make_s3_client(s3_server)
    client.create_bucket(Bucket="test-bucket")
    client.put_object(Bucket="test-bucket", Key="k", Body=b"cold data", StorageClass="GLACIER")
    assert _restore_header(client, "k") is None
    status, code, response = error_of(client.get_object, Bucket="test-bucket", Key="k")
    assert (status, code) == (403, "InvalidObjectState")
    assert response["Error"]["StorageClass"] == "GLACIER"
    assert _restore(client, "k", "Bulk", days=2) == 202
    status, code, _ = error_of(client.get_object, Bucket="test-bucket", Key="k")
    assert (status, code) == (403, "InvalidObjectState")  # still running
    status, code, _ = error_of(client.restore_object, Bucket="test-bucket", Key="k",
                               RestoreRequest={"Days": 1})
    assert (status, code) == (409, "RestoreAlreadyInProgress")
    s3_server.control.advance_clock(12 * HOUR + 1)
    header = _restore_header(client, "k")
    assert header is not None and header.startswith('ongoing-request="false"')
    expiry = header.split('expiry-date="')[1].rstrip('"')
    assert client.get_object(Bucket="test-bucket", Key="k")["Body"].read() == b"cold data"
    # A request on the restored copy extends it: 200, a later expiry.
    assert _restore(client, "k", days=5) == 200
    later = _restore_header(client, "k").split('expiry-date="')[1].rstrip('"')
    fmt = "%a, %d %b %Y %H:%M:%S GMT"
    assert datetime.strptime(later, fmt) > datetime.strptime(expiry, fmt)
    s3_server.control.advance_clock(6 * 24 * HOUR)
    assert _restore_header(client, "k") is None  # expired: archived again
    status, code, _ = error_of(client.get_object, Bucket="test-bucket", Key="k")
    assert (status, code) == (403, "InvalidObjectState")


def test_expedited_refused_for_deep_archive(mem_client: Any) -> None:
    mem_client.put_object(Bucket="test-bucket", Key="k", Body=b"x", StorageClass="DEEP_ARCHIVE")
    status, code, _ = error_of(mem_client.restore_object, Bucket="test-bucket", Key="k",
                               RestoreRequest={"Days": 1,
                                               "GlacierJobParameters": {"Tier": "Expedited"}})
    assert status == 400 and code == "InvalidArgument"
    assert _restore_header(mem_client, "k") is None


@pytest.mark.parametrize("storage_class", ["GLACIER_IR", "STANDARD", "STANDARD_IA"])
def test_warm_classes_read_at_once_and_refuse_restore(mem_client: Any,
                                                     storage_class: str) -> None:
    mem_client.put_object(Bucket="test-bucket", Key="k", Body=b"x", StorageClass=storage_class)
    assert mem_client.get_object(Bucket="test-bucket", Key="k")["Body"].read() == b"x"
    status, code, _ = error_of(mem_client.restore_object, Bucket="test-bucket", Key="k",
                               RestoreRequest={"Days": 1})
    assert (status, code) == (403, "InvalidObjectState")


def test_list_restore_status(memory_s3_server: LocalServer) -> None:
    client = make_s3_client(memory_s3_server)
    client.create_bucket(Bucket="test-bucket")
    for key in ("cold", "running", "warm"):
        client.put_object(Bucket="test-bucket", Key=key, Body=b"x",
                          StorageClass="STANDARD" if key == "warm" else "GLACIER")
    _restore(client, "running", "Expedited")
    listing = client.list_objects_v2(Bucket="test-bucket",
                                     OptionalObjectAttributes=["RestoreStatus"])
    status = {o["Key"]: o.get("RestoreStatus") for o in listing["Contents"]}
    assert status == {"cold": None, "running": {"IsRestoreInProgress": True}, "warm": None}
    memory_s3_server.control.advance_clock(301)
    listing = client.list_objects_v2(Bucket="test-bucket",
                                     OptionalObjectAttributes=["RestoreStatus"])
    done = {o["Key"]: o.get("RestoreStatus") for o in listing["Contents"]}["running"]
    assert done["IsRestoreInProgress"] is False
    assert done["RestoreExpiryDate"].tzinfo is not None
    assert done["RestoreExpiryDate"] > datetime.now(timezone.utc)
    plain = client.list_objects_v2(Bucket="test-bucket")
    assert all("RestoreStatus" not in o for o in plain["Contents"])


def test_control_completes_a_restore(memory_s3_server: LocalServer) -> None:
    client = make_s3_client(memory_s3_server)
    client.create_bucket(Bucket="test-bucket")
    client.put_object(Bucket="test-bucket", Key="k", Body=b"x", StorageClass="DEEP_ARCHIVE")
    _restore(client, "k", "Bulk")
    memory_s3_server.control.complete_restore("test-bucket", "k")
    assert client.get_object(Bucket="test-bucket", Key="k")["Body"].read() == b"x"
