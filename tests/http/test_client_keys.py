"""Client keys from memory: a key is read from the database once a TTL, and a revocation is
refused at once on the replica that made it and, on PostgreSQL, promptly on the others."""

from __future__ import annotations

from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import Gateway
from gateway.testing.waiting import wait_for_async
from tests.http.conftest import ADMIN_KEY, Api, api_settings, gateway_app
from tests.pg import fresh_database, require_pg


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_key_is_read_once_then_served_from_memory(api: Api) -> None:
    """Five requests with one key: one database read."""
    keys = api.gateway.runtime.client_keys
    other = await api.new_client()
    before = keys.reads
    for _ in range(5):
        response = await api.http.get("/v1/jobs", headers=bearer(other["api_key"]))
        assert 200 == response.status_code
    assert 1 == keys.reads - before
    assert keys.holds(other["id"])


async def test_a_revocation_is_refused_at_once_by_the_replica_that_made_it(api: Api) -> None:
    """The key is cached (its TTL has not run out): the revocation drops it, and the very next
    request is refused."""
    keys = api.gateway.runtime.client_keys
    other = await api.new_client()
    assert 200 == (await api.http.get("/v1/jobs", headers=bearer(other["api_key"]))).status_code
    assert keys.holds(other["id"])
    revoked = await api.http.post(
        f"/v1/admin/clients/{other['id']}/revoke", headers=bearer(ADMIN_KEY)
    )
    assert 200 == revoked.status_code
    assert not keys.holds(other["id"])
    assert 401 == (await api.http.get("/v1/jobs", headers=bearer(other["api_key"]))).status_code


async def test_a_rotated_secret_drops_the_cached_client(api: Api) -> None:
    """The cached record carries the webhook secret: a rotation drops it here too."""
    keys = api.gateway.runtime.client_keys
    other = await api.new_client()
    await api.http.get("/v1/jobs", headers=bearer(other["api_key"]))
    rotated = await api.http.post(
        f"/v1/admin/clients/{other['id']}/rotate-secret", headers=bearer(ADMIN_KEY)
    )
    assert 200 == rotated.status_code
    assert not keys.holds(other["id"])


@pytest.mark.postgres
async def test_a_revocation_on_one_replica_reaches_the_other(tmp_path: Path) -> None:
    """Two gateways on one PostgreSQL database. B has the key cached; A revokes it; B drops it
    when A's notification arrives — nothing else touches B's cache meanwhile — and refuses the
    key's next request."""
    require_pg()
    async with fresh_database() as url:
        app_a = gateway_app(api_settings(tmp_path, database_url=url, replica_id="a"))
        app_b = gateway_app(api_settings(tmp_path, database_url=url, replica_id="b"))
        async with AsyncTestClient(app=app_a) as a, AsyncTestClient(app=app_b) as b:
            gateway_b: Gateway = app_b.state.gateway
            listener = gateway_b.client_listener
            assert listener is not None
            created = await a.post(
                "/v1/admin/clients", json={"name": "other"}, headers=bearer(ADMIN_KEY)
            )
            client_id, key = created.json()["id"], created.json()["api_key"]
            assert 200 == (await b.get("/v1/jobs", headers=bearer(key))).status_code
            keys_b = gateway_b.runtime.client_keys
            assert keys_b.holds(client_id)
            await wait_for_async(listener.listening.is_set, timeout_s=10, what="B listening")

            revoked = await a.post(
                f"/v1/admin/clients/{client_id}/revoke", headers=bearer(ADMIN_KEY)
            )
            assert 200 == revoked.status_code
            await wait_for_async(
                lambda: not keys_b.holds(client_id), timeout_s=5, what="B to drop the key"
            )
            assert 401 == (await b.get("/v1/jobs", headers=bearer(key))).status_code
