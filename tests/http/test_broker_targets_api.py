"""Broker targets through the API, without a broker (issue 28): the operator's allow-list and
signing mode (``PATCH /v1/admin/clients/{id}``), a subscription's broker target checked against
them (400 naming the field), its credentials stored apart — sealed, shown masked, never in the
subscription's URL, a response or a log — and the published ed25519 keys through a rotation.
Both databases."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from structlog.testing import capture_logs

from gateway.delivery.credential_vault import FernetVault
from gateway.store.schema import broker_credentials, subscriptions
from gateway.testing.fakes import Clock, RecordingSender, ScriptedUpstream
from tests.backends import open_empty_store
from tests.http.conftest import ADMIN_KEY, Api, api_settings, gateway_app, in_this_loop
from tests.http.test_api import assert_error_shape

VAULT_KEY = Fernet.generate_key().decode()
PASSWORD = "s3cret-Broker-pw"  # must never be shown
EXCHANGE_ENTRY = "amqp://10.0.0.5:5672/%2F?exchange=orders-*"
GRACE_S = 86400.0


async def _api(tmp_path: Path, database_url: str, **changes: Any) -> AsyncIterator[Api]:
    await (await open_empty_store(database_url)).close()
    clock = Clock(start=1_800_000_000.0)
    upstream, sender = ScriptedUpstream(), RecordingSender()
    settings = api_settings(tmp_path, database_url=database_url, **changes)
    app = gateway_app(settings, upstream=upstream, sender=sender, clock=clock)
    async with in_this_loop(app) as http:
        yield Api(
            http=http, gateway=app.state.gateway, clock=clock, upstream=upstream, sender=sender
        )


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    async for running in _api(tmp_path, database_url, broker_credentials_key=VAULT_KEY):
        yield running


async def configure(api: Api, client_id: str, **change: Any) -> Any:
    return await api.http.patch(
        f"/v1/admin/clients/{client_id}", json=change, headers=api.auth(ADMIN_KEY)
    )


async def allowed_client(api: Api, allow: list[str]) -> dict[str, Any]:
    made = await api.new_client()
    response = await configure(api, made["id"], broker_allowlist=allow)
    assert 200 == response.status_code, response.text
    return made


async def subscribe(api: Api, key: str, url: str) -> Any:
    return await api.http.post("/v1/subscriptions", json={"target_url": url}, headers=api.auth(key))


def refused_field(response: Any, code: str = "broker_target_rejected") -> tuple[str, str]:
    assert 400 == response.status_code, response.text
    body = response.json()
    assert_error_shape(body, code)
    [detail] = body["error"]["details"]
    return detail["field"], detail["message"]


async def test_the_allowlist_is_checked_stored_canonical_and_shown(api: Api) -> None:
    made = await api.new_client()

    changed = await configure(
        api,
        made["id"],
        broker_allowlist=[EXCHANGE_ENTRY, "nats://10.0.0.6?subject=video.*"],
        signing="both",
    )

    assert 200 == changed.status_code, changed.text
    view = changed.json()
    assert (
        [EXCHANGE_ENTRY, "nats://10.0.0.6:4222?subject=video.*"],
        "both",
    ) == (view["broker_allowlist"], view["signing"])
    listed = (await api.http.get("/v1/admin/clients", headers=api.auth(ADMIN_KEY))).json()
    [mine] = [c for c in listed if c["id"] == made["id"]]
    assert mine == view
    kept = await configure(api, made["id"])  # nothing given: nothing changes
    assert view == kept.json()


@pytest.mark.parametrize(
    ("entries", "field", "part"),
    [
        (["amqp://u:p@10.0.0.5/%2F?exchange=x"], "broker_allowlist[0]", "credentials"),
        ([EXCHANGE_ENTRY, "nats://10.0.0.6?subject=a..b"], "broker_allowlist[1]", "subject"),
        (["ftp://10.0.0.5/x"], "broker_allowlist[0]", "scheme"),
        (["redis://10.0.0.7/0"], "broker_allowlist[0]", "stream"),
    ],
)
async def test_a_malformed_allowlist_entry_is_a_400_naming_it(
    api: Api, entries: list[str], field: str, part: str
) -> None:
    made = await api.new_client()

    response = await configure(api, made["id"], broker_allowlist=entries)

    named, message = refused_field(response)
    assert (field, part) == (named, message.split(":")[0])


async def test_bad_changes_are_400s_and_an_unknown_client_a_404(api: Api) -> None:
    made = await api.new_client()
    bad_mode = await configure(api, made["id"], signing="rsa")
    unknown_field = await configure(api, made["id"], output_colour="blue")
    unknown = await configure(api, "cl_nobody", signing="both")
    no_key = await api.http.patch(f"/v1/admin/clients/{made['id']}", json={"signing": "both"})

    assert [400, 400, 404, 401] == [
        r.status_code for r in (bad_mode, unknown_field, unknown, no_key)
    ]
    assert_error_shape(bad_mode.json(), "invalid_request")


async def test_a_broker_target_outside_the_allowlist_is_refused_naming_target_url(
    api: Api,
) -> None:
    """Another exchange on the allowed broker, another broker, another port: all refused."""
    made = await allowed_client(api, [EXCHANGE_ENTRY])
    urls = [
        "amqp://10.0.0.5:5672/%2F?exchange=invoices",  # another client's exchange
        "amqp://10.0.0.9:5672/%2F?exchange=orders-1",  # another broker
        "amqp://10.0.0.5:5673/%2F?exchange=orders-1",  # another port
        "amqp://10.0.0.5:5672/other?exchange=orders-1",  # another virtual host
        "nats://10.0.0.5:4222?subject=orders",  # another kind
    ]

    for url in urls:
        field, message = refused_field(await subscribe(api, made["api_key"], url))
        assert ("target_url", True) == (field, "allow-list" in message), url
    listed = await api.http.get("/v1/subscriptions", headers=api.auth(made["api_key"]))
    assert [] == listed.json()["data"]


@pytest.mark.parametrize(
    ("url", "part", "code"),
    [
        ("amqp://10.0.0.5:5672/%2F?exchange=or ders", "exchange", "broker_target_rejected"),
        ("amqp://10.0.0.5:5672/%2F", "exchange", "broker_target_rejected"),
        ("nats://10.0.0.6?subject=video.>", "subject", "broker_target_rejected"),
        ("nats://10.0.0.6?subject=$JS.API.x", "subject", "broker_target_rejected"),
        ("redis://10.0.0.7/zero?stream=s", "db", "broker_target_rejected"),
        ("amqp://10.0.0.5:99999/%2F?exchange=x", "port", "broker_target_rejected"),
    ],
)
async def test_a_malformed_broker_target_is_a_400_naming_the_part(
    api: Api, url: str, part: str, code: str
) -> None:
    made = await allowed_client(api, [EXCHANGE_ENTRY])

    field, message = refused_field(await subscribe(api, made["api_key"], url), code)

    assert ("target_url", part) == (field, message.split(":")[0])


@pytest.mark.parametrize(
    "url",
    [
        "ftp://10.0.0.5/x",
        "kafka://10.0.0.5:9092?topic=t",
        f"https://user:{PASSWORD}@hooks.test/in",  # http(s) targets keep refusing credentials
    ],
)
async def test_other_schemes_and_http_credentials_are_refused(api: Api, url: str) -> None:
    made = await allowed_client(api, [EXCHANGE_ENTRY])

    response = await subscribe(api, made["api_key"], url)

    field, message = refused_field(response, "callback_url_rejected")
    assert ("target_url", True) == (field, "https://" in message or "credentials" in message)
    assert PASSWORD not in response.text


async def test_credentials_are_stored_apart_sealed_and_shown_masked(api: Api) -> None:
    """The stored target holds no credentials; they are in their own table, encrypted with
    the configured key; the views show ``user:***``; no log line holds the password; deleting
    the subscription removes them."""
    made = await allowed_client(api, [EXCHANGE_ENTRY])
    url = f"amqp://app:{PASSWORD}@10.0.0.5/%2F?exchange=orders-eu&routing_key=video.done"

    with capture_logs() as logs:
        created = await subscribe(api, made["api_key"], url)
        listed = await api.http.get("/v1/subscriptions", headers=api.auth(made["api_key"]))

    assert 201 == created.status_code, created.text
    shown = "amqp://app:***@10.0.0.5:5672/%2F?exchange=orders-eu&routing_key=video.done"
    assert [shown, shown] == [created.json()["target_url"], listed.json()["data"][0]["target_url"]]
    db = api.gateway.runtime.store.db
    async with db.read() as conn:
        stored_url = (await conn.execute(sa.select(subscriptions.c.target_url))).scalar_one()
        sealed, masked = (
            await conn.execute(sa.select(broker_credentials.c.sealed, broker_credentials.c.masked))
        ).one()
    opened = FernetVault(VAULT_KEY).open(sealed)
    assert (shown.replace("app:***@", ""), "app:***") == (stored_url, masked)
    assert ("app", PASSWORD) == (opened.username, opened.password)
    assert PASSWORD not in sealed + created.text + listed.text + repr(logs)

    gone = await api.http.delete(
        f"/v1/subscriptions/{created.json()['id']}", headers=api.auth(made["api_key"])
    )
    assert 204 == gone.status_code
    async with db.read() as conn:
        left = await conn.execute(sa.select(sa.func.count()).select_from(broker_credentials))
        assert 0 == left.scalar_one()


async def test_without_a_vault_key_credentials_are_refused(
    tmp_path: Path, database_url: str
) -> None:
    async for api in _api(tmp_path, database_url):
        made = await allowed_client(api, [EXCHANGE_ENTRY])
        with_them = await subscribe(
            api, made["api_key"], f"amqp://app:{PASSWORD}@10.0.0.5/%2F?exchange=orders-1"
        )
        without = await subscribe(api, made["api_key"], "amqp://10.0.0.5/%2F?exchange=orders-1")

        field, message = refused_field(with_them)
        assert ("target_url", True) == (field, "GATEWAY_BROKER_CREDENTIALS_KEY" in message)
        assert PASSWORD not in with_them.text
        assert 201 == without.status_code, without.text


def _whpk_matches_x(jwk: dict[str, str]) -> bool:
    raw = base64.b64decode(jwk["whpk"].removeprefix("whpk_"))
    return raw == base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))


async def test_signing_keys_are_published_without_a_key_through_a_rotation(api: Api) -> None:
    """HMAC only: no key. ed25519: one key, made then, as a JWK and ``whpk_``. A rotation:
    both keys (new first) until the grace ends, then the new one alone."""
    made = await api.new_client()
    path = f"/v1/signing-keys/{made['id']}"
    hmac_only = await api.http.get(path)

    await configure(api, made["id"], signing="ed25519")
    first = await api.http.get(path)
    again = await configure(api, made["id"], signing="both")  # keeps the key it has
    rotated = await api.http.post(
        f"/v1/admin/clients/{made['id']}/rotate-signing-key",
        headers=api.auth(ADMIN_KEY),
    )
    during = (await api.http.get(path)).json()["keys"]
    api.clock.advance(GRACE_S + 1)
    after = (await api.http.get(path)).json()["keys"]

    assert (200, {"keys": []}) == (hmac_only.status_code, hmac_only.json())
    [key] = first.json()["keys"]
    assert ("OKP", "Ed25519", "EdDSA", True) == (
        key["kty"],
        key["crv"],
        key["alg"],
        _whpk_matches_x(key),
    )
    assert "public" in first.headers["cache-control"]
    assert (200, False) == (again.status_code, again.json()["rotating_signing_key"])
    assert 200 == rotated.status_code, rotated.text
    assert [k["kid"] for k in rotated.json()["keys"]] == [k["kid"] for k in during]
    assert (2, key["kid"]) == (len(during), during[1]["kid"])
    assert [during[0]["kid"]] == [k["kid"] for k in after]
    assert 404 == (await api.http.get("/v1/signing-keys/cl_nobody")).status_code
