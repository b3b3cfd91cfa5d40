"""Fixtures for kept outputs: the mock upstream on a real socket (its video links and
scenarios), the output store on both backends — a local directory, and a real S3 protocol
server (moto's server mode on a free loopback port) — and a copier built from settings.

Without moto's server the S3 tests are skipped with the reason, except under ``CI=true``,
where they fail (a CI run that silently skipped them would prove nothing).
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.outputs import Copier, OutputStore, open_output_store
from gateway.settings import Settings
from mock_upstream.app import create_app
from mock_upstream.config import MockConfig
from mock_upstream.testing import FakeClock, MockServer

PATH = "/v2/video/generations"
AUTH = {"Authorization": "Bearer test-key"}
BODY = {"model": "alibaba/happyhorse-1-0", "prompt": "A horse.", "duration": 5}
LOOPBACK = ("127.0.0.1/32",)
VIDEO_TTL_S = 60.0


@dataclass
class Mock:
    server: MockServer
    clock: FakeClock

    async def video_url(self, scenario: str | None = None) -> str:
        """A completed job's signed video link (the mock's clock moved past completion)."""
        headers = {**AUTH, **({"X-Mock-Scenario": scenario} if scenario else {})}
        async with httpx.AsyncClient(base_url=self.server.url, timeout=10) as http:
            created = await http.post(PATH, json=BODY, headers=headers)
            assert 200 == created.status_code, created.text
            self.clock.advance(10)
            done = await http.get(
                PATH, params={"generation_id": created.json()["id"]}, headers=AUTH
            )
        assert "completed" == done.json()["status"], done.text
        url: str = done.json()["video"]["url"]
        return url


@pytest.fixture(scope="module")
def mock() -> Iterator[Mock]:
    clock = FakeClock(1_000_000.0)
    config = MockConfig.fast(clock=clock, video_ttl_s=VIDEO_TTL_S)
    with MockServer(create_app(config)) as server:
        yield Mock(server, clock)


@dataclass
class S3Server:
    endpoint: str
    client: Any  # boto3's S3 client (to create buckets and see what obstore cannot)

    def new_bucket(self) -> str:
        name = f"kept-{secrets.token_hex(4)}"
        self.client.create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    try:
        import boto3
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
    except Exception as exc:  # moto missing or unable to listen
        reason = f"moto's S3 server could not start: {type(exc).__name__}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    try:
        yield S3Server(endpoint, client)
    finally:
        client.close()
        server.stop()


def s3_settings(s3: S3Server, bucket: str, staging: Path, **changes: Any) -> Settings:
    return Settings(
        output_store=f"s3://{bucket}/kept",
        output_s3_endpoint=s3.endpoint,
        output_s3_region="us-east-1",
        output_s3_access_key_id="test",
        output_s3_secret_access_key="test",
        output_store_allow_http=True,
        output_staging_dir=str(staging),
        output_source_allowlist=LOOPBACK,
        **changes,
    )


def local_settings(root: Path, **changes: Any) -> Settings:
    return Settings(output_store=str(root), output_source_allowlist=LOOPBACK, **changes)


@dataclass
class Backend:
    name: str
    settings: Settings
    store: OutputStore
    s3: S3Server | None = None
    bucket: str | None = None


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        settings = local_settings(tmp_path / "outputs")
        return Backend("local", settings, open_output_store(settings))
    s3: S3Server = request.getfixturevalue("s3_server")
    bucket = s3.new_bucket()
    settings = s3_settings(s3, bucket, tmp_path / "staging")
    return Backend("s3", settings, open_output_store(settings), s3, bucket)


@pytest.fixture
async def copier(backend: Backend) -> AsyncIterator[Copier]:
    copier = Copier.from_settings(backend.settings, backend.store)
    yield copier
    await copier.aclose()


async def stored_keys(store: OutputStore, prefix: str = "videos/") -> list[str]:
    return sorted([found.key async for found in store.list_objects(prefix)])


async def read_all(store: OutputStore, key: str) -> bytes:
    found = await store.head(key)
    assert found is not None, key
    return b"".join([chunk async for chunk in store.open_range(key, 0, found.size)])
