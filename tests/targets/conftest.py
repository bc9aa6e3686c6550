"""The ``target`` fixture: one behavioural suite, run against every kind of target.

As restic runs one backend test suite against every backend, each test here takes ``target``
(a :class:`TargetUnderTest`) and runs once per parametrisation:

* ``glacier-local``: :class:`glacierlib.targets.glacier.GlacierTarget` over ``GlacierStore``
  against the project's local server (in memory, jobs finish at once);
* ``s3-moto``: :class:`glacierlib.targets.s3.S3Store` against moto's S3 in server mode, a fresh
  bucket per test. moto is unfaithful where it matters for cold storage: it validates no
  checksum, finishes a restore at once, never answers 409 RestoreAlreadyInProgress. The flags
  on ``TargetUnderTest`` say so, and the tests for those behaviours skip on it by ability;
* ``s3-local``: :class:`glacierlib.targets.s3.S3Store` against the project's own S3 face
  (in memory), which validates checksums, takes time to restore and answers 409.

Always real botocore over real HTTP on loopback; nothing is mocked.
"""

from __future__ import annotations

import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import botocore.session
import pytest
from botocore.config import Config

from glacierlib.client import Connection, GlacierStore, make_session
from glacierlib.localserver import LocalServer
from glacierlib.metadata import encode_mt2
from glacierlib.storage import PartBody
from glacierlib.targets.base import Target
from glacierlib.targets.glacier import vault_target
from glacierlib.targets.s3 import S3Store
from glacierlib.wrappers.retrying import RetryPolicy

VAULT = "suite"
MOTO_REGION = "us-east-1"
MOTO_KEYS = {"aws_access_key_id": "AKIDMOTO", "aws_secret_access_key": "moto"}


@attrs.define
class TargetUnderTest:
    """A target plus what the test needs to know about the service behind it."""

    name: str
    target: Target
    validates_checksums: bool
    faithful_restores: bool  # restores take time, 409 while one runs
    settle_listing: Callable[[], None] = lambda: None
    #: let a restore that takes time on the service's clock finish
    settle_restore: Callable[[], None] = lambda: None
    #: store an object under a raw name, bypassing our checks (a hostile or foreign writer)
    plant: Callable[[str, bytes], None] = lambda name, data: None
    raw: Any = None  # a plain botocore client for setup and inspection (S3 only)
    bucket: str | None = None


def s3_connection(endpoint: str, **overrides: Any) -> Connection:
    values: dict[str, Any] = {
        "region": MOTO_REGION, "endpoint_url": endpoint, "protocol": "http", "timeout": 20,
        "access_key": MOTO_KEYS["aws_access_key_id"],
        "secret_key": MOTO_KEYS["aws_secret_access_key"], "concurrency": 4,
    }
    values.update(overrides)
    return Connection(**values)


def s3_store(endpoint: str, bucket: str, **kwargs: Any) -> S3Store:
    conn = s3_connection(endpoint)
    return S3Store(make_session(conn), conn, bucket=bucket,
                   retry=RetryPolicy(max_attempts=2, base_delay=0.01), **kwargs)


def raw_s3(endpoint: str) -> Any:
    return botocore.session.get_session().create_client(
        "s3", region_name=MOTO_REGION, endpoint_url=endpoint, **MOTO_KEYS)


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[str]:
    """moto in server mode on a free loopback port; its endpoint URL."""
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        urllib.request.urlopen(urllib.request.Request(
            f"http://{host}:{port}/moto-api/reset", method="POST"), timeout=10).close()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def fresh_bucket(endpoint: str) -> tuple[str, Any]:
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    raw = raw_s3(endpoint)
    raw.create_bucket(Bucket=bucket)
    return bucket, raw


def _glacier(request: pytest.FixtureRequest) -> Iterator[TargetUnderTest]:
    server: LocalServer = request.getfixturevalue("local_server")
    conn = Connection(region=server.region, endpoint_url=server.endpoint_url, protocol="http",
                      timeout=20, access_key=server.access_key, secret_key=server.secret_key)
    with GlacierStore(make_session(conn), conn, retry=RetryPolicy(max_attempts=2)) as store:
        store.create_vault(VAULT)
        def plant(name: str, data: bytes) -> None:
            store.upload_archive(VAULT, PartBody.from_bytes(data), encode_mt2(name, 1))

        def settle() -> None:
            server.control.take_inventory(VAULT)

        yield TargetUnderTest("glacier-local", vault_target(store, VAULT),
                              validates_checksums=True, faithful_restores=True,
                              settle_listing=settle, plant=plant)


def _s3_moto(request: pytest.FixtureRequest) -> Iterator[TargetUnderTest]:
    endpoint: str = request.getfixturevalue("moto_s3")
    bucket, raw = fresh_bucket(endpoint)
    with s3_store(endpoint, bucket, prefix="backup/") as store:
        def plant(name: str, data: bytes) -> None:
            raw.put_object(Bucket=bucket, Key=store.prefix + name, Body=data)

        yield TargetUnderTest("s3-moto", store, validates_checksums=False,
                              faithful_restores=False, raw=raw, bucket=bucket, plant=plant)
    raw.close()


def _s3_local(request: pytest.FixtureRequest) -> Iterator[TargetUnderTest]:
    server: LocalServer = request.getfixturevalue("local_server")
    conn = Connection(region=server.region, endpoint_url=server.endpoint_url, protocol="http",
                      timeout=20, access_key=server.access_key, secret_key=server.secret_key,
                      concurrency=4)
    raw = botocore.session.get_session().create_client(
        "s3", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 0}),
        **server.client_kwargs())
    bucket = f"t-{uuid.uuid4().hex[:16]}"
    raw.create_bucket(Bucket=bucket)
    with S3Store(make_session(conn), conn, bucket=bucket, prefix="backup/",
                 retry=RetryPolicy(max_attempts=2, base_delay=0.01)) as store:
        def plant(name: str, data: bytes) -> None:
            raw.put_object(Bucket=bucket, Key=store.prefix + name, Body=data)

        def settle() -> None:
            server.control.advance_clock(6 * 3600)  # past any GLACIER tier's restore time

        yield TargetUnderTest("s3-local", store, validates_checksums=True,
                              faithful_restores=True, raw=raw, bucket=bucket, plant=plant,
                              settle_restore=settle)
    raw.close()


TARGETS: dict[str, Callable[[pytest.FixtureRequest], Iterator[TargetUnderTest]]] = {
    "glacier-local": _glacier,
    "s3-moto": _s3_moto,
    "s3-local": _s3_local,
}


@pytest.fixture(params=sorted(TARGETS))
def target(request: pytest.FixtureRequest) -> Iterator[TargetUnderTest]:
    yield from TARGETS[request.param](request)
