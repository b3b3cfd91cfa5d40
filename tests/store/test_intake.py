"""Intake: a stored job is accepted and due at once; idempotency keys answer repeats."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from gateway.domain.jobs import JobStatus
from gateway.store import Store
from gateway.store.jobs import (
    Admission,
    Created,
    IdempotencyClaim,
    KeyReused,
    OverRateLimit,
    Replayed,
    TooManyInFlight,
)
from gateway.store.records import JobChange
from gateway.store.schema import jobs
from tests.store.builders import T0, add_client, new_job

TTL_S = 24 * 3600.0


async def count_jobs(store: Store) -> int:
    async with store.db.read() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(jobs))).scalar_one())


async def test_insert_returns_the_job_accepted_and_due_now(store: Store) -> None:
    """A new job is stored ``accepted``, due at ``now``, unleased, with no upstream fields yet."""
    await add_client(store)
    outcome = await store.jobs.insert_job(new_job(job_id="job_intake_1"), now=T0)

    assert isinstance(outcome, Created)
    job = outcome.job
    expected = {
        "id": "job_intake_1",
        "status": JobStatus.ACCEPTED,
        "created_at": T0,
        "updated_at": T0,
        "next_run_at": T0,
        "lease_token": None,
        "generation_id": None,
        "submit_attempts": 0,
        "takeovers": 0,
    }
    assert expected == {name: getattr(job, name) for name in expected}
    assert job == await store.jobs.get_job("job_intake_1")


async def test_json_columns_round_trip(store: Store) -> None:
    """Request, metadata and events come back as the same values; usage and error too."""
    await add_client(store)
    request = {"model": "m", "prompt": "ünïcødé ✓", "nested": {"a": [1, 2.5, None, True]}}
    metadata = {"order": "42", "quote": 'say "hi"'}
    made = new_job(request=request, metadata=metadata, events=["completed"])
    await store.jobs.insert_job(made, now=T0)
    stored = await store.jobs.get_job(made.id)
    assert stored is not None
    assert (request, metadata, ["completed"], None, None) == (
        stored.request,
        stored.metadata,
        stored.events,
        stored.usage,
        stored.error,
    )

    token = "lease_json"
    await store.jobs.claim_jobs(now=T0, limit=10, token=token, lease_until=T0 + 30)
    usage = {"used_credits": 1260, "detail": {"seconds": 5}}
    error = {"code": "upstream_rejected", "message": "Prompt is too long"}
    assert await store.jobs.update_job(
        made.id, token, JobChange(status="failed", usage=usage, error=error), now=T0 + 1
    )
    updated = await store.jobs.get_job(made.id)
    assert updated is not None
    assert (JobStatus.FAILED, usage, error) == (updated.status, updated.usage, updated.error)


async def test_same_key_and_body_replays_the_original_job(store: Store) -> None:
    """A repeat with the same key and request hash gets the original job; no second row."""
    await add_client(store)
    claim = IdempotencyClaim(key="key-1", request_hash="h" * 64, ttl_s=TTL_S)
    first = await store.jobs.insert_job(new_job(), now=T0, idempotency=claim)
    again = await store.jobs.insert_job(new_job(), now=T0 + 60, idempotency=claim)

    assert isinstance(first, Created)
    assert Replayed(job=first.job) == again
    assert 1 == await count_jobs(store)


async def test_a_retry_at_the_limits_gets_the_original_job_and_spends_no_budget(
    store: Store,
) -> None:
    """The key is looked up before the rate limit and the in-flight cap: a client at either
    limit still gets its original job back, and the retry does not count against the rate."""
    await add_client(store)
    claim = IdempotencyClaim(key="key-1", request_hash="h" * 64, ttl_s=TTL_S)
    one_a_minute = Admission(window_start=T0, rate_limit=1, max_in_flight=100)
    one_in_flight = Admission(window_start=T0 + 60, rate_limit=100, max_in_flight=1)
    first = await store.jobs.insert_job(
        new_job(), now=T0, idempotency=claim, admission=one_a_minute
    )
    assert isinstance(first, Created)

    retries = [
        await store.jobs.insert_job(
            new_job(), now=T0 + 1, idempotency=claim, admission=one_a_minute
        ),
        await store.jobs.insert_job(
            new_job(), now=T0 + 2, idempotency=claim, admission=one_a_minute
        ),
        await store.jobs.insert_job(
            new_job(), now=T0 + 61, idempotency=claim, admission=one_in_flight
        ),
    ]
    other = await store.jobs.insert_job(new_job(), now=T0 + 3, admission=one_a_minute)

    async with store.db.read() as conn:
        counted = (
            await conn.execute(
                sa.text("SELECT count FROM rate_windows WHERE window_start = :w"), {"w": T0}
            )
        ).scalar_one()
    capped = await store.jobs.insert_job(new_job(), now=T0 + 62, admission=one_in_flight)
    assert [Replayed(job=first.job)] * 3 == retries
    assert isinstance(other, OverRateLimit)
    assert isinstance(capped, TooManyInFlight)
    assert 2 == counted  # the first job and the refused new one; no retry


async def test_same_key_with_another_body_is_refused(store: Store) -> None:
    """A repeat with the same key but a different request hash names the original job."""
    await add_client(store)
    first = await store.jobs.insert_job(
        new_job(), now=T0, idempotency=IdempotencyClaim("key-1", "a" * 64, TTL_S)
    )
    other = await store.jobs.insert_job(
        new_job(), now=T0 + 1, idempotency=IdempotencyClaim("key-1", "b" * 64, TTL_S)
    )

    assert isinstance(first, Created)
    assert KeyReused(job_id=first.job.id) == other
    assert 1 == await count_jobs(store)


async def test_keys_are_per_client(store: Store) -> None:
    """Two clients using the same key get two jobs."""
    await add_client(store, "cli_a")
    await add_client(store, "cli_b")
    claim = IdempotencyClaim("shared-key", "h" * 64, TTL_S)
    first = await store.jobs.insert_job(new_job("cli_a"), now=T0, idempotency=claim)
    second = await store.jobs.insert_job(new_job("cli_b"), now=T0, idempotency=claim)

    assert (Created, Created) == (type(first), type(second))
    assert 2 == await count_jobs(store)


async def test_an_expired_key_can_be_used_again(store: Store) -> None:
    """After the ttl the same key creates a new job, and later repeats replay the new one."""
    await add_client(store)
    claim = IdempotencyClaim("key-1", "a" * 64, ttl_s=60.0)
    first = await store.jobs.insert_job(new_job(), now=T0, idempotency=claim)
    reuse = IdempotencyClaim("key-1", "b" * 64, ttl_s=60.0)
    second = await store.jobs.insert_job(new_job(), now=T0 + 61, idempotency=reuse)
    third = await store.jobs.insert_job(new_job(), now=T0 + 62, idempotency=reuse)

    assert isinstance(first, Created)
    assert isinstance(second, Created)
    assert first.job.id != second.job.id
    assert Replayed(job=second.job) == third
    assert 2 == await count_jobs(store)


async def test_concurrent_inserts_with_one_key_create_one_job(store: Store) -> None:
    """Ten simultaneous requests with one key: exactly one is created, nine replay it."""
    await add_client(store)
    claim = IdempotencyClaim("key-race", "r" * 64, TTL_S)
    outcomes = await asyncio.gather(
        *(store.jobs.insert_job(new_job(), now=T0, idempotency=claim) for _ in range(10))
    )

    created = [o for o in outcomes if isinstance(o, Created)]
    replayed = [o for o in outcomes if isinstance(o, Replayed)]
    assert (1, 9) == (len(created), len(replayed))
    assert {created[0].job.id} == {o.job.id for o in replayed}
    assert 1 == await count_jobs(store)
