"""The synchronous client against a live gateway over loopback: every call, as a caller uses it."""

from __future__ import annotations

import json

import pytest

from gateway.testing import LiveStack
from gateway.testing.waiting import wait_for
from gateway_client import (
    Client,
    InvalidRequest,
    InvalidWebhook,
    NotFound,
    Unauthorized,
    WaitTimeout,
    verify_webhook,
)

MODEL = "alibaba/happyhorse-1-0"


def test_a_job_from_create_to_a_verified_webhook_and_its_redelivery(live: LiveStack) -> None:
    """create → wait → deliveries → the received webhook verifies → redeliver sends it again."""
    with Client(live.url, live.key) as client:
        created = client.create_job(
            MODEL,
            prompt="A horse on a beach",
            duration=5,
            callback_url=live.hook_url,
            metadata={"order_id": "42"},
        )
        assert ("accepted", MODEL, {"order_id": "42"}) == (
            created.status,
            created.model,
            created.metadata,
        )
        assert created.id == client.get_job(created.id).id
        done = client.wait(created.id, timeout_s=30)
        assert ("completed", True) == (done.status, done.finished)
        assert done.video_url
        mine = wait_for(
            lambda: [r for r in live.receiver.received if created.id.encode() in r.body],
            timeout_s=15,
            what="the webhook",
        )
        event = verify_webhook(live.secret, mine[0].body, mine[0].headers)
        assert (created.id, "video.generation.completed", done.video_url) == (
            event.job.id,
            event.type,
            event.job.video_url,
        )
        assert mine[0].headers["webhook-id"] == event.id
        delivered = wait_for(
            lambda: client.deliveries(created.id).events[0].state == "delivered",
            timeout_s=15,
            what="the delivery to be recorded",
        )
        assert delivered
        log = client.deliveries(created.id)
        assert ([event.id], [200]) == (
            [e.event_id for e in log.events],
            [a.status_code for a in log.attempts],
        )
        again = client.redeliver(created.id)
        assert ([event.id], ["pending"]) == (
            [e.event_id for e in again.events],
            [e.state for e in again.events],
        )
        resent = wait_for(
            lambda: [r for r in live.receiver.received if created.id.encode() in r.body][1:],
            timeout_s=15,
            what="the redelivered webhook",
        )
        assert event.id == verify_webhook(live.secret, resent[0].body, resent[0].headers).id


def test_a_tampered_webhook_does_not_verify(live: LiveStack) -> None:
    """A changed body, a wrong secret or missing headers raise InvalidWebhook."""
    with Client(live.url, live.key) as client:
        job = client.create_job(prompt="tamper with me", callback_url=live.hook_url)
        client.wait(job.id, timeout_s=30)
    received = wait_for(
        lambda: [r for r in live.receiver.received if job.id.encode() in r.body],
        timeout_s=15,
        what="the webhook",
    )[0]
    body = json.loads(received.body)
    body["data"]["video_url"] = "https://elsewhere.test/v.mp4"
    with pytest.raises(InvalidWebhook):
        verify_webhook(live.secret, json.dumps(body), received.headers)
    with pytest.raises(InvalidWebhook):
        verify_webhook("whsec_" + "A" * 32, received.body, received.headers)
    with pytest.raises(InvalidWebhook):
        verify_webhook(live.secret, received.body, {})


def test_listing_walks_every_page_newest_first(live: LiveStack) -> None:
    """list_jobs gives one page and a cursor; iter_jobs follows the cursors to the end."""
    with Client(live.url, live.key) as client:
        ids = [client.create_job(prompt=f"page test {n}").id for n in range(5)]
        first = client.list_jobs(limit=2)
        assert (ids[::-1][:2], True) == ([j.id for j in first.jobs], first.next_cursor is not None)
        walked = [job.id for job in client.iter_jobs(page_size=2)]
        assert ids[::-1] == walked[:5]
        assert len(walked) == len(set(walked))


def test_the_same_idempotency_key_makes_one_job(live: LiveStack) -> None:
    """A create sent twice with one key returns the first job."""
    with Client(live.url, live.key) as client:
        first = client.create_job(prompt="once", idempotency_key="order-42-attempt")
        second = client.create_job(prompt="once", idempotency_key="order-42-attempt")
    assert first.id == second.id


def test_errors_carry_the_gateway_error_code(live: LiveStack) -> None:
    """404, 400 (with details), 401 and a refused redelivery are exceptions with our codes."""
    with Client(live.url, live.key) as client:
        with pytest.raises(NotFound) as missing:
            client.get_job("job_doesnotexist")
        assert (404, "not_found") == (missing.value.status_code, missing.value.code)
        with pytest.raises(InvalidRequest) as invalid:
            client.create_job(prompt="too long", duration=99)
        assert "invalid_request" == invalid.value.code
        assert ["duration"] == [d["field"] for d in invalid.value.details]
        pending = client.create_job(prompt="not finished", callback_url=live.hook_url)
        with pytest.raises(InvalidRequest) as refused:
            client.redeliver(client.create_job(prompt="no callback").id)
        assert "nothing_to_redeliver" == refused.value.code
        client.wait(pending.id, timeout_s=30)
    with Client(live.url, "gw_wrong_key") as stranger, pytest.raises(Unauthorized) as denied:
        stranger.get_job(pending.id)
    assert "unauthorized" == denied.value.code


def test_wait_gives_up_at_its_timeout_with_the_last_state(live: LiveStack) -> None:
    """A job that never ends raises WaitTimeout carrying the job as last seen."""
    with Client(live.url, live.key) as client:
        job = client.create_job(prompt="[mock:stuck_generating] forever")
        with pytest.raises(WaitTimeout) as timed_out:
            client.wait(job.id, timeout_s=1.0)
    assert (job.id, False) == (timed_out.value.job.id, timed_out.value.job.finished)
