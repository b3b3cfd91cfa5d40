"""The whole gateway against the machine's brokers (issue 28): a client the operator allowed
onto a broker subscribes a broker target through the API, a job's event is published there by
the worker, signed ``v1`` and ``v1a`` as the client asked, and every fault of the path is a
recorded attempt that is retried, never a delivery reported without the broker's confirm.
Both databases (the store holds the sealed credentials, the allow-list and the keys)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from standardwebhooks import Webhook
from structlog.testing import capture_logs

from gateway.domain.upstream import Generation
from gateway.store.records import DeliveryRecord
from gateway.testing.fakes import Clock, RecordingSender, ScriptedUpstream
from gateway.testing.tcp_proxy import FaultProxy
from gateway_client import verify_webhook
from tests.backends import open_empty_store
from tests.brokers import unique
from tests.delivery.brokers.support import NatsStream, RabbitPlace, RedisStream
from tests.http.conftest import ADMIN_KEY, Api, api_settings, gateway_app, in_this_loop

pytestmark = pytest.mark.brokers
VAULT_KEY = Fernet.generate_key().decode()
RETRY_S = 5.0  # the schedule's wait after a first failed attempt


@pytest.fixture
async def gw(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    """The gateway app on this event loop (no ticker: the test runs the worker), with a clock
    that reads real time at first (receivers check the timestamps) and moves when told."""
    await (await open_empty_store(database_url)).close()
    clock = Clock(start=time.time())
    upstream, sender = ScriptedUpstream(), RecordingSender()
    settings = api_settings(
        tmp_path,
        database_url=database_url,
        broker_credentials_key=VAULT_KEY,
        delivery_schedule=(0.0, RETRY_S, 300.0),
        delivery_jitter=0.0,
    )
    app = gateway_app(settings, upstream=upstream, sender=sender, clock=clock)
    async with in_this_loop(app) as http:
        yield Api(
            http=http, gateway=app.state.gateway, clock=clock, upstream=upstream, sender=sender
        )


async def broker_client(api: Api, allow: list[str], signing: str = "both") -> dict[str, Any]:
    """A new client, allowed onto ``allow`` and signing in ``signing`` mode."""
    made = await api.new_client(unique("brokers"))
    changed = await api.http.patch(
        f"/v1/admin/clients/{made['id']}",
        json={"broker_allowlist": allow, "signing": signing},
        headers=api.auth(ADMIN_KEY),
    )
    assert 200 == changed.status_code, changed.text
    return {**made, **changed.json()}


async def subscribe(api: Api, key: str, url: str) -> dict[str, Any]:
    created = await api.http.post(
        "/v1/subscriptions",
        json={"target_url": url, "events": ["completed"]},
        headers=api.auth(key),
    )
    assert 201 == created.status_code, created.text
    body: dict[str, Any] = created.json()
    return body


async def run(api: Api, advance_s: float = 0.0) -> None:
    api.clock.advance(advance_s)
    worker = api.gateway.worker
    assert worker is not None
    await worker.run_until_idle()


async def finished_job(api: Api, key: str) -> str:
    """A job of the client that completes (submitted, polled once): its event is due."""
    api.upstream.poll_script.append(
        Generation(id=api.upstream.generation_id, status="completed", video_url="https://v.test/1")
    )
    accepted = await api.http.post("/v1/jobs", json={"prompt": "a horse"}, headers=api.auth(key))
    assert 202 == accepted.status_code, accepted.text
    job_id: str = accepted.json()["id"]
    await run(api)  # submitted
    await run(api, 20.0)  # polled: completed, and its events published
    return job_id


async def deliveries(api: Api, job_id: str) -> list[DeliveryRecord]:
    return await api.gateway.runtime.store.deliveries.for_job(job_id)


async def published_keys(api: Api, client_id: str) -> list[dict[str, str]]:
    response = await api.http.get(f"/v1/signing-keys/{client_id}")
    assert 200 == response.status_code, response.text
    keys: list[dict[str, str]] = response.json()["keys"]
    return keys


def verify_v1a(body: bytes, headers: Mapping[str, str], keys: list[dict[str, str]]) -> int:
    """A receiver's own check with ``cryptography`` and the published JWKs: how many of the
    ``v1a`` signatures verify (each with one of the keys); raises when one verifies with none."""
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    publics = [
        Ed25519PublicKey.from_public_bytes(
            base64.urlsafe_b64decode(k["x"] + "=" * (-len(k["x"]) % 4))
        )
        for k in keys
    ]
    signatures = [s for s in headers["webhook-signature"].split(" ") if s.startswith("v1a,")]
    for signature in signatures:
        raw = base64.b64decode(signature.removeprefix("v1a,"))
        if not any(_verifies(public, raw, content) for public in publics):
            raise AssertionError("a v1a signature verifies with none of the published keys")
    return len(signatures)


def _verifies(public: Ed25519PublicKey, signature: bytes, content: bytes) -> bool:
    try:
        public.verify(signature, content)
    except Exception:  # cryptography's InvalidSignature
        return False
    return True


async def test_a_jobs_event_arrives_on_each_broker_signed_v1_and_v1a(
    gw: Api, rabbit_place: RabbitPlace, nats_stream: NatsStream, redis_stream: RedisStream
) -> None:
    """RabbitMQ (credentials given in the URL, stored apart), JetStream and a Redis Stream each
    get the completed event once, verifiable by the reference library (``v1``) and by
    ``cryptography`` against the published key (``v1a``); the deliveries are delivered and
    no stored URL or view holds the password."""
    client = await broker_client(
        gw,
        [
            f"amqp://127.0.0.1:5672/%2F?exchange={rabbit_place.exchange}",
            f"nats://127.0.0.1:4222?subject={nats_stream.prefix}.*",
            f"redis://127.0.0.1:6379/0?stream={redis_stream.key}",
        ],
    )
    amqp = f"amqp://guest:guest@127.0.0.1:5672/%2F?exchange={rabbit_place.exchange}&routing_key=video.done"
    subs = [
        await subscribe(gw, client["api_key"], url)
        for url in (amqp, nats_stream.url(), redis_stream.url())
    ]

    job_id = await finished_job(gw, client["api_key"])

    rows = await deliveries(gw, job_id)
    assert ["delivered"] * 3 == [d.state for d in rows]
    assert {s["target_url"].replace("guest:***@", "") for s in subs} == {d.url for d in rows}
    assert subs[0]["target_url"].startswith("amqp://guest:***@127.0.0.1:5672/%2F?exchange=")
    listed = (await gw.http.get("/v1/subscriptions", headers=gw.auth(client["api_key"]))).text
    history = (
        await gw.http.get(f"/v1/jobs/{job_id}/deliveries", headers=gw.auth(client["api_key"]))
    ).text
    assert "guest:guest" not in listed + history + "".join(d.url for d in rows)
    [rabbit] = await rabbit_place.messages()
    got = [
        (rabbit.body, {k: str(v) for k, v in rabbit.headers.items()}),
        *await nats_stream.messages(),
        *await redis_stream.entries(),
    ]
    keys = await published_keys(gw, client["id"])
    assert 3 == len(got)
    for body, headers in got:
        Webhook(client["webhook_secret"]).verify(body, dict(headers))  # raises if it fails
        assert 1 == verify_v1a(body, headers, keys)
        assert (job_id, "video.generation.completed") == (
            json.loads(body)["data"]["id"],
            json.loads(body)["type"],
        )


async def test_v1a_verifies_through_a_rotation(gw: Api, redis_stream: RedisStream) -> None:
    """After a rotation both keys sign (the new first) and both are published; each signature
    verifies with a published key, and the old key alone still verifies one of them."""
    client = await broker_client(
        gw, [f"redis://127.0.0.1:6379/0?stream={redis_stream.key}"], signing="ed25519"
    )
    await subscribe(gw, client["api_key"], redis_stream.url())
    [old] = await published_keys(gw, client["id"])
    rotated = await gw.http.post(
        f"/v1/admin/clients/{client['id']}/rotate-signing-key", headers=gw.auth(ADMIN_KEY)
    )
    assert 200 == rotated.status_code, rotated.text

    await finished_job(gw, client["api_key"])

    keys = await published_keys(gw, client["id"])
    [(body, headers)] = await redis_stream.entries()
    assert [k["kid"] for k in rotated.json()["keys"]] == [k["kid"] for k in keys]
    assert (2, old["kid"]) == (len(keys), keys[1]["kid"])
    assert not any(s.startswith("v1,") for s in headers["webhook-signature"].split(" "))
    assert 2 == verify_v1a(body, headers, keys)
    assert 2 == verify_v1a(body, headers, [old, keys[0]])
    jwk_set = (await gw.http.get(f"/v1/signing-keys/{client['id']}")).json()
    for key in (jwk_set, old["whpk"], keys[0]["whpk"]):  # the client's extra, each key alone
        assert "video.generation.completed" == verify_webhook(key, body, headers).type
    with pytest.raises(AssertionError):  # the new key's signature does not verify with the old
        verify_v1a(body, headers, [old])


async def test_a_connection_dropped_mid_publish_is_retried_and_never_delivered_unconfirmed(
    gw: Api,
    redis_stream: RedisStream,
    redis_proxy: FaultProxy,
    rabbit_place: RabbitPlace,
    rabbit_proxy: FaultProxy,
) -> None:
    """The proxy resets each broker's connection in the middle of the message: the attempts
    fail (recorded, the deliveries pending, nothing delivered), the retry on the schedule
    connects anew and the broker confirms: delivered, and the event is there."""
    client = await broker_client(
        gw,
        [
            f"redis://127.0.0.1:{redis_proxy.port}/0?stream={redis_stream.key}",
            f"amqp://127.0.0.1:{rabbit_proxy.port}/%2F?exchange={rabbit_place.exchange}",
        ],
        signing="hmac",
    )
    await subscribe(gw, client["api_key"], redis_stream.url(redis_proxy.port))
    await subscribe(gw, client["api_key"], rabbit_place.url(rabbit_proxy.port))
    await finished_job(gw, client["api_key"])  # connected (the pools keep the connections)
    before = (len(await redis_stream.entries()), len(await rabbit_place.messages()))
    redis_proxy.cut_after(20, "upstream")
    rabbit_proxy.cut_after(10, "upstream")

    job_id = await finished_job(gw, client["api_key"])

    cut = await deliveries(gw, job_id)
    assert [("pending", 1, "connection_lost")] * 2 == [
        (d.state, d.attempts, d.last_error) for d in cut
    ]
    assert [] == await rabbit_place.messages()
    mine = [b for b, _ in await redis_stream.entries() if json.loads(b)["data"]["id"] == job_id]
    assert [] == mine

    await run(gw, RETRY_S)

    assert [("delivered", 2)] * 2 == [(d.state, d.attempts) for d in await deliveries(gw, job_id)]
    entries = [b for b, _ in await redis_stream.entries() if json.loads(b)["data"]["id"] == job_id]
    [message] = await rabbit_place.messages()
    assert ((1, 1), 1) == (before, len(entries))
    assert job_id == json.loads(message.body)["data"]["id"]


async def test_an_unroutable_rabbitmq_message_is_a_failed_attempt(
    gw: Api, rabbit_place: RabbitPlace
) -> None:
    """No queue is bound for the routing key: RabbitMQ returns the mandatory message, the
    attempt fails as ``unroutable`` and the delivery waits for its retry."""
    client = await broker_client(
        gw, [f"amqp://127.0.0.1:5672/%2F?exchange={rabbit_place.exchange}"], signing="hmac"
    )
    await subscribe(gw, client["api_key"], rabbit_place.url(5672, routing_key="nobody.listens"))

    job_id = await finished_job(gw, client["api_key"])

    [row] = await deliveries(gw, job_id)
    [attempt] = await gw.gateway.runtime.store.deliveries.attempts_for_job(job_id)
    assert ("pending", "unroutable", None) == (row.state, attempt.error, row.delivered_at)
    assert row.next_run_at == pytest.approx(attempt.attempted_at + RETRY_S)


async def test_a_retried_jetstream_publish_is_stored_once_and_a_redelivery_arrives(
    gw: Api, nats_stream: NatsStream, nats_proxy: FaultProxy
) -> None:
    """The stream stores the event but its ack is lost: a failed attempt; the retry reuses the
    webhook-id as ``Nats-Msg-Id``, is acked as a duplicate and the stream holds it once. An
    explicit redelivery uses a fresh message id: it arrives, the same event again."""
    client = await broker_client(
        gw, [f"nats://127.0.0.1:{nats_proxy.port}?subject={nats_stream.prefix}.*"], signing="hmac"
    )
    await subscribe(gw, client["api_key"], nats_stream.url(nats_proxy.port))
    await finished_job(gw, client["api_key"])  # connects, and publishes a first event
    nats_proxy.cut_after(0, "downstream")

    job_id = await finished_job(gw, client["api_key"])
    [lost] = await deliveries(gw, job_id)
    await run(gw, RETRY_S)
    [retried] = await deliveries(gw, job_id)
    stored = [h["Nats-Msg-Id"] for _, h in await nats_stream.messages()]
    redelivered = await gw.http.post(
        f"/v1/jobs/{job_id}/redeliver", headers=gw.auth(client["api_key"])
    )
    assert 202 == redelivered.status_code, redelivered.text
    await run(gw)

    assert ("pending", "connection_lost") == (lost.state, lost.last_error)
    assert ("delivered", 2) == (retried.state, retried.attempts)
    assert 1 == stored.count(lost.id)
    messages = await nats_stream.messages()
    mine = [(body, h) for body, h in messages if h["webhook-id"] == lost.id]
    assert [lost.id, f"{lost.id}.2"] == [h["Nats-Msg-Id"] for _, h in mine]
    assert mine[0][0] == mine[1][0]  # the same event, body for body
    [again] = await deliveries(gw, job_id)
    assert ("delivered", 3) == (again.state, again.attempts)


async def test_another_clients_exchange_is_refused(gw: Api, rabbit_place: RabbitPlace) -> None:
    """A client allowed onto one exchange cannot subscribe another client's exchange on the
    same broker (400 naming ``target_url``), and nothing is stored for it."""
    await broker_client(gw, [f"amqp://127.0.0.1:5672/%2F?exchange={rabbit_place.exchange}"])
    other = await broker_client(gw, ["amqp://127.0.0.1:5672/%2F?exchange=theirs-*"])

    refused = await gw.http.post(
        "/v1/subscriptions",
        json={"target_url": rabbit_place.url(5672)},
        headers=gw.auth(other["api_key"]),
    )

    assert 400 == refused.status_code
    body = refused.json()["error"]
    assert ("broker_target_rejected", "target_url") == (body["code"], body["details"][0]["field"])
    listed = await gw.http.get("/v1/subscriptions", headers=gw.auth(other["api_key"]))
    assert [] == listed.json()["data"]


async def test_refused_credentials_are_a_failed_attempt_that_never_shows_them(
    gw: Api, rabbit_place: RabbitPlace
) -> None:
    """A wrong password: the attempt fails as ``broker_auth_failed`` and is retried; neither
    the attempt's note, the delivery, the job's deliveries view nor its history holds it."""
    password = "Wr0ng-and-secret"
    client = await broker_client(
        gw, [f"amqp://127.0.0.1:5672/%2F?exchange={rabbit_place.exchange}"], signing="hmac"
    )
    url = rabbit_place.url(5672).replace("amqp://", f"amqp://guest:{password}@")
    await subscribe(gw, client["api_key"], url)

    with capture_logs() as logs:
        job_id = await finished_job(gw, client["api_key"])

    [row] = await deliveries(gw, job_id)
    # (a connection refused fast is retried at once, once: the schedule's Svix rule)
    attempts = await gw.gateway.runtime.store.deliveries.attempts_for_job(job_id)
    views = [
        (await gw.http.get(f"/v1/jobs/{job_id}{path}", headers=gw.auth(client["api_key"]))).text
        for path in ("", "/deliveries")
    ]
    assert ("pending", {"broker_auth_failed"}) == (row.state, {a.error for a in attempts})
    assert password not in repr(row) + repr(attempts) + "".join(views) + repr(logs)
    assert "delivery_attempted" in {entry["event"] for entry in logs}
    assert [] == await rabbit_place.messages()


async def test_a_target_the_allowlist_no_longer_names_is_not_published_to(
    gw: Api, redis_stream: RedisStream
) -> None:
    """The operator narrows the allow-list after the client subscribed: the next event is
    refused before any connection (``blocked_address``, not retried) and nothing arrives."""
    client = await broker_client(gw, [f"redis://127.0.0.1:6379/0?stream={redis_stream.key}"])
    await subscribe(gw, client["api_key"], redis_stream.url())
    narrowed = await gw.http.patch(
        f"/v1/admin/clients/{client['id']}",
        json={"broker_allowlist": []},
        headers=gw.auth(ADMIN_KEY),
    )
    assert 200 == narrowed.status_code, narrowed.text

    job_id = await finished_job(gw, client["api_key"])

    [row] = await deliveries(gw, job_id)
    assert ("dead", "blocked_address") == (row.state, row.last_error)
    assert [] == await redis_stream.entries()
