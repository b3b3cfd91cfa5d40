"""A job's history as data: one row per change, written with the change, none per idle poll."""

from __future__ import annotations

from gateway.domain.history import JobEventKind as K
from gateway.domain.jobs import ErrorCode
from gateway.domain.upstream import FailureKind, Generation
from gateway.testing.fakes import failure
from tests.backends import latest_event_id
from tests.harness import Harness

GEN = "gen_scripted_000000001"


async def test_a_jobs_life_is_recorded_once_per_change(harness: Harness) -> None:
    """accepted, submitting, submitted; one row per change of the upstream's status (a poll
    that sees the same status writes nothing); completed; each webhook attempt; a redelivery."""
    harness.upstream.poll_script.extend(
        [
            Generation(id=GEN, status="queued"),  # unchanged: no row
            Generation(id=GEN, status="generating"),
            Generation(id=GEN, status="generating"),  # unchanged: no row
            Generation(id=GEN, status="completed", video_url="https://cdn.test/v.mp4"),
        ]
    )
    harness.sender.script.append(503)
    job = await harness.accept()
    await harness.run()
    for _ in range(4):
        await harness.run(advance_s=15)
    await harness.run(advance_s=5)  # the webhook's second attempt
    await harness.store.deliveries.redeliver(job.id, now=harness.clock())

    events = await harness.store.history.list_for_job(job.id)

    assert [
        (K.ACCEPTED, "accepted", None, 0),
        (K.SUBMITTING, "submitting", None, 0),
        (K.SUBMITTED, "queued", "queued", 0),
        (K.UPSTREAM_STATUS, "generating", "generating", 2),
        (K.UPSTREAM_STATUS, "completed", "completed", 4),
        (K.COMPLETED, "completed", "completed", 4),
        (K.DELIVERY_ATTEMPTED, "completed", "completed", 4),
        (K.DELIVERY_ATTEMPTED, "completed", "completed", 4),
        (K.REDELIVERY_REQUESTED, "completed", "completed", 4),
    ] == [(e.kind, e.status, e.upstream_status, e.polls) for e in events]
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert {job.id} == {e.job_id for e in events}
    assert {harness.client.id} == {e.client_id for e in events}
    assert {"generation_id": GEN} == events[2].data
    assert {"generation_id": GEN, "video_url": "https://cdn.test/v.mp4"} == events[5].data
    [delivery] = await harness.store.deliveries.for_job(job.id)
    first, second = events[6].data, events[7].data
    assert (delivery.id, "video.generation.completed", "https://hooks.test/in") == (
        first["delivery_id"],
        first["event_type"],
        first["url"],
    )
    assert [(1, 503, "retry", False), (2, 200, "delivered", False)] == [
        (d["attempt"], d["status_code"], d["decision"], d["lease_lost"]) for d in (first, second)
    ]
    assert {"reason": "redeliver", "delivery_ids": [delivery.id]} == events[8].data
    assert events[8].id == await latest_event_id(harness.store)


async def test_failures_and_submission_retries_are_recorded(harness: Harness) -> None:
    """A retryable refusal records a submission retry; a rejection records the failure's code."""
    harness.upstream.submit_script.extend(
        [failure(FailureKind.RETRYABLE, 503), failure(FailureKind.REJECTED, 400)]
    )
    job = await harness.accept(callback_url=None)
    await harness.run()
    await harness.run(advance_s=600)

    events = await harness.store.history.list_for_job(job.id)

    assert [K.ACCEPTED, K.SUBMITTING, K.SUBMISSION_RETRY, K.SUBMITTING, K.FAILED] == [
        e.kind for e in events
    ]
    assert ErrorCode.UPSTREAM_REJECTED == events[-1].data["error"]["code"]
    assert [1, 2] == [e.data["attempt"] for e in events if e.kind == K.SUBMITTING]


async def test_reading_after_an_id_pages_through_the_history(harness: Harness) -> None:
    """``after_id`` and ``limit`` page in order; another job's rows never appear."""
    job = await harness.accept(callback_url=None)
    other = await harness.accept(callback_url=None)
    await harness.run()

    first_two = await harness.store.history.list_for_job(job.id, limit=2)
    rest = await harness.store.history.list_for_job(job.id, after_id=first_two[-1].id)

    assert [K.ACCEPTED, K.SUBMITTING] == [e.kind for e in first_two]
    assert [K.SUBMITTED] == [e.kind for e in rest]
    assert {other.id} == {e.job_id for e in await harness.store.history.list_for_job(other.id)}
    assert [] == await harness.store.history.list_for_job("job_unknown\x00")
