"""The kept videos' HTTP surface (issue 26): the signed link served without a key (200, a
Range's 206, HEAD, 403 tampered, 410 deleted), ``DELETE /v1/jobs/{id}/video``, the admin's
``PATCH /v1/admin/clients/{id}`` with ``output_retention_s``; and the start-up rules: several
replicas on PostgreSQL with a local directory nobody said is shared refuse to start, and the
link-signing key the gateway generates is one for every replica."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from gateway.service.kept_outputs import open_kept_outputs
from gateway.service.runtime import Runtime
from gateway.settings import Settings, SettingsError
from gateway.store import Store
from gateway.store.schema import jobs
from mock_upstream.files import SAMPLE_MP4
from tests.backends import open_empty_store
from tests.http.conftest import ADMIN_KEY, BOOTSTRAP_KEY, api_settings, gateway_app

AUTH = {"Authorization": f"Bearer {BOOTSTRAP_KEY}"}
SAMPLE = SAMPLE_MP4.read_bytes()


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[AsyncTestClient]:
    settings = api_settings(tmp_path, outputs="keep", output_store=str(tmp_path / "outputs"))
    async with AsyncTestClient(app=gateway_app(settings)) as http:
        yield http


def _runtime(client: AsyncTestClient) -> Runtime:
    runtime: Runtime = client.app.state.gateway.runtime
    return runtime


async def _kept_job(client: AsyncTestClient) -> tuple[str, str]:
    """A job completed with the sample kept, written as the copy writes it; its id and link."""
    created = await client.post("/v1/jobs", json={"prompt": "a horse"}, headers=AUTH)
    assert 202 == created.status_code, created.text
    job_id: str = created.json()["id"]
    runtime = _runtime(client)
    outputs = runtime.outputs
    assert outputs is not None
    key = f"videos/{job_id}/video.mp4"
    await outputs.store.publish_bytes(SAMPLE, key, content_type="video/mp4")
    expires = float(int(runtime.clock() + 3600))
    link = outputs.link(job_id, "video.mp4", expires)
    async with runtime.store.db.write() as conn:
        await conn.execute(
            jobs.update()
            .where(jobs.c.id == job_id)
            .values(
                status="completed",
                video_url="https://cdn.test/v.mp4",
                output_kept=True,
                output_key=key,
                output_url=link,
                output_sha256=hashlib.sha256(SAMPLE).hexdigest(),
                output_bytes=len(SAMPLE),
                output_content_type="video/mp4",
                output_expires_at=expires,
            )
        )
    return job_id, link.removeprefix(runtime.settings.public_origin)


async def test_the_signed_link_serves_without_a_key(client: AsyncTestClient) -> None:
    job_id, path = await _kept_job(client)
    whole = await client.get(path)
    assert (200, SAMPLE) == (whole.status_code, whole.content)
    assert f'"{hashlib.sha256(SAMPLE).hexdigest()}"' == whole.headers["etag"]
    part = await client.get(path, headers={"Range": "bytes=0-9"})
    assert (206, SAMPLE[:10]) == (part.status_code, part.content)
    assert f"bytes 0-9/{len(SAMPLE)}" == part.headers["content-range"]
    head = await client.head(path)
    assert (200, str(len(SAMPLE)), b"") == (
        head.status_code,
        head.headers["content-length"],
        head.content,
    )
    tampered = await client.get(path.replace("sig=", "sig=A"))
    assert (403, "output_link_invalid") == (tampered.status_code, tampered.json()["error"]["code"])

    view = (await client.get(f"/v1/jobs/{job_id}", headers=AUTH)).json()
    assert ("kept", view["video"]["url"]) == (view["video"]["state"], view["video_url"])


async def test_delete_removes_the_video_and_its_link_answers_410(client: AsyncTestClient) -> None:
    job_id, path = await _kept_job(client)
    deleted = await client.delete(f"/v1/jobs/{job_id}/video", headers=AUTH)
    assert 200 == deleted.status_code, deleted.text
    assert ("deleted", None) == (deleted.json()["video"]["state"], deleted.json()["video"]["url"])
    gone = await client.get(path)
    assert (410, "output_gone") == (gone.status_code, gone.json()["error"]["code"])
    unkept = await client.post("/v1/jobs", json={"prompt": "x"}, headers=AUTH)
    nothing = await client.delete(f"/v1/jobs/{unkept.json()['id']}/video", headers=AUTH)
    assert 404 == nothing.status_code


async def test_the_admin_sets_a_clients_retention(client: AsyncTestClient) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    changed = await client.patch(
        "/v1/admin/clients/cl_bootstrap", json={"output_retention_s": 600}, headers=admin
    )
    assert (200, 600) == (changed.status_code, changed.json()["output_retention_s"])
    reset = await client.patch(
        "/v1/admin/clients/cl_bootstrap", json={"output_retention_s": 0}, headers=admin
    )
    assert reset.json()["output_retention_s"] is None
    bad = await client.patch(
        "/v1/admin/clients/cl_bootstrap", json={"output_retention_s": -1}, headers=admin
    )
    assert 400 == bad.status_code
    missing = await client.patch(
        "/v1/admin/clients/cl_nobody", json={"output_retention_s": 60}, headers=admin
    )
    assert 404 == missing.status_code


async def test_replicas_on_postgres_with_an_unshared_local_store_refuse_to_start(
    tmp_path: Path,
) -> None:
    settings = Settings(
        database_url="postgresql://postgres@127.0.0.1:5432/test",
        output_store=str(tmp_path / "outputs"),
    )
    with pytest.raises(SettingsError, match="GATEWAY_OUTPUT_STORE_SHARED"):
        await open_kept_outputs(settings, store=None, now=0.0)  # type: ignore[arg-type]


async def test_the_generated_signing_key_is_one_for_every_replica(
    database_url: str, tmp_path: Path
) -> None:
    """Two replicas opening the kept outputs without a configured key sign alike."""
    first = await open_empty_store(database_url)
    second = await Store.open(database_url)
    settings = Settings(
        database_url=database_url,
        output_store=str(tmp_path / "outputs"),
        output_store_shared=True,
    )
    try:
        one = await open_kept_outputs(settings, first, now=1.0)
        two = await open_kept_outputs(settings, second, now=2.0)
        assert one is not None
        assert two is not None
        assert one.signing_keys == two.signing_keys
        assert 32 <= len(one.signing_keys[0])
        await one.aclose()
        await two.aclose()
    finally:
        await first.close()
        await second.close()
