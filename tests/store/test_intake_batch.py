"""Intake in batches (group commit): one transaction decides every request in arrival order
against each client's limits, and idempotency keys repeated inside a batch answer like repeats
across batches."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from gateway.store import Store
from gateway.store.jobs import (
    Admission,
    Created,
    IdempotencyClaim,
    IntakeRequest,
    KeyReused,
    OverRateLimit,
    Replayed,
    TooManyInFlight,
)
from gateway.store.schema import job_events, jobs
from tests.store.builders import T0, add_client, add_job, new_job

TTL_S = 24 * 3600.0
ROOMY = Admission(window_start=T0, rate_limit=1000, max_in_flight=1000)


async def scalar(store: Store, query: sa.Select[tuple[int]]) -> int:
    async with store.db.read() as conn:
        return int((await conn.execute(query)).scalar_one())


async def window_count(store: Store, client_id: str, window_start: float) -> int:
    async with store.db.read() as conn:
        value = (
            await conn.execute(
                sa.text(
                    "SELECT count FROM rate_windows WHERE client_id = :c AND window_start = :w"
                ),
                {"c": client_id, "w": window_start},
            )
        ).scalar_one()
    return int(value)


async def test_a_batch_stores_every_job_with_its_history_in_order(store: Store) -> None:
    """Five jobs of two clients in one batch: five ``Created`` in request order, five rows, one
    ``accepted`` history row each."""
    await add_client(store, "cli_a")
    await add_client(store, "cli_b")
    made = [new_job("cli_a" if i % 2 else "cli_b") for i in range(5)]
    outcomes = await store.jobs.insert_jobs(
        [IntakeRequest(new=job, now=T0 + i, admission=ROOMY) for i, job in enumerate(made)]
    )

    assert [job.id for job in made] == [o.job.id for o in outcomes if isinstance(o, Created)]
    assert [T0 + i for i in range(5)] == [
        o.job.created_at for o in outcomes if isinstance(o, Created)
    ]
    assert 5 == await scalar(store, sa.select(sa.func.count()).select_from(jobs))
    async with store.db.read() as conn:
        history = (await conn.execute(sa.select(job_events.c.job_id, job_events.c.kind))).all()
    assert sorted((job.id, "accepted") for job in made) == sorted(tuple(r) for r in history)
    assert (3, 2) == (
        await window_count(store, "cli_b", T0),
        await window_count(store, "cli_a", T0),
    )


async def test_each_created_job_is_the_row_as_stored(store: Store) -> None:
    """A created job is built from what was inserted, not read back: it equals the stored row,
    for jobs with every optional field set and with none."""
    await add_client(store, "cli_a")
    full = new_job(
        body_checked=False,
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        request={"prompt": "ünïcødé ✓", "nested": {"a": [1, 2.5, None, True]}},
    )
    bare = new_job(resolution=None, duration=None, callback_url=None, metadata={}, events=[])
    outcomes = await store.jobs.insert_jobs(
        [IntakeRequest(new=job, now=T0 + 0.125, admission=ROOMY) for job in (full, bare)]
    )

    created = [o.job for o in outcomes if isinstance(o, Created)]
    assert created == [await store.jobs.get_job(job.id) for job in (full, bare)]


async def test_a_refused_batch_stores_nothing_and_raises_sqlalchemys_error(store: Store) -> None:
    """A job id already stored: the database refuses the batch with SQLAlchemy's
    ``IntegrityError`` (whichever path ran the statement), and nothing of it stays — not the
    other job, nor its window's count, nor any history row."""
    await add_client(store)
    taken = await add_job(store)
    fresh, again = new_job(), new_job(job_id=taken.id)
    with pytest.raises(IntegrityError):
        await store.jobs.insert_jobs(
            [IntakeRequest(new=job, now=T0, admission=ROOMY) for job in (fresh, again)]
        )

    assert await store.jobs.get_job(fresh.id) is None
    assert 1 == await scalar(store, sa.select(sa.func.count()).select_from(job_events))
    assert 0 == await scalar(
        store, sa.select(sa.func.count()).select_from(sa.table("rate_windows"))
    )


async def test_the_rate_limit_holds_inside_one_batch(store: Store) -> None:
    """Rate limit 3, with one hit already counted: of four requests in one batch the first two
    pass, in arrival order; every request counts (as one at a time would)."""
    await add_client(store)
    three = Admission(window_start=T0, rate_limit=3, max_in_flight=1000)
    assert isinstance(await store.jobs.insert_job(new_job(), now=T0, admission=three), Created)
    made = [new_job() for _ in range(4)]
    outcomes = await store.jobs.insert_jobs(
        [IntakeRequest(new=job, now=T0 + 1, admission=three) for job in made]
    )

    assert [Created, Created, OverRateLimit, OverRateLimit] == [type(o) for o in outcomes]
    assert [made[0].id, made[1].id] == [o.job.id for o in outcomes if isinstance(o, Created)]
    assert 5 == await window_count(store, "cli_a", T0)
    assert 3 == await scalar(store, sa.select(sa.func.count()).select_from(jobs))


async def test_the_in_flight_cap_holds_inside_one_batch(store: Store) -> None:
    """Cap 3 with one job in flight: two of four requests in a batch are stored, the others are
    refused with the count the batch reached."""
    await add_client(store)
    await add_job(store)
    capped = Admission(window_start=T0, rate_limit=1000, max_in_flight=3)
    outcomes = await store.jobs.insert_jobs(
        [IntakeRequest(new=new_job(), now=T0 + 1, admission=capped) for _ in range(4)]
    )

    assert [Created, Created, TooManyInFlight(3), TooManyInFlight(3)] == [
        o if isinstance(o, TooManyInFlight) else type(o) for o in outcomes
    ]
    assert 3 == await store.jobs.count_in_flight("cli_a")


async def test_only_the_clients_unfinished_jobs_count_in_flight(store: Store) -> None:
    """Cap 2: the client's finished job and another client's job in flight do not count; its
    one job in flight does, so one of two requests is stored."""
    await add_client(store, "cli_a")
    await add_client(store, "cli_b")
    finished = await add_job(store, "cli_a")
    await add_job(store, "cli_a")
    await add_job(store, "cli_b")
    async with store.db.write() as conn:
        await conn.execute(sa.update(jobs).where(jobs.c.id == finished.id).values(status="failed"))
    capped = Admission(window_start=T0, rate_limit=1000, max_in_flight=2)
    outcomes = await store.jobs.insert_jobs(
        [IntakeRequest(new=new_job("cli_a"), now=T0 + 1, admission=capped) for _ in range(2)]
    )

    assert [Created, TooManyInFlight(2)] == [
        o if isinstance(o, TooManyInFlight) else type(o) for o in outcomes
    ]


async def test_a_key_repeated_in_one_batch_replays_or_is_refused(store: Store) -> None:
    """The first request with a key creates the job; a later one in the same batch with the same
    body replays it, with another body is refused naming it. One job row; one hit counted."""
    await add_client(store)
    same = IdempotencyClaim("key-1", "a" * 64, TTL_S)
    other_body = IdempotencyClaim("key-1", "b" * 64, TTL_S)
    outcomes = await store.jobs.insert_jobs(
        [
            IntakeRequest(new=new_job(), now=T0, idempotency=same, admission=ROOMY),
            IntakeRequest(new=new_job(), now=T0, idempotency=same, admission=ROOMY),
            IntakeRequest(new=new_job(), now=T0, idempotency=other_body, admission=ROOMY),
        ]
    )

    first = outcomes[0]
    assert isinstance(first, Created)
    assert [Replayed(job=first.job), KeyReused(job_id=first.job.id)] == outcomes[1:]
    assert 1 == await scalar(store, sa.select(sa.func.count()).select_from(jobs))
    assert 1 == await window_count(store, "cli_a", T0)


async def test_a_new_window_forgets_the_clients_older_windows(store: Store) -> None:
    """The first batch counted in a client's new window deletes its older windows (and nobody
    else's); the new window holds the batch's count."""
    await add_client(store, "cli_a")
    await add_client(store, "cli_b")
    for client_id in ("cli_a", "cli_b"):
        await store.jobs.insert_job(new_job(client_id), now=T0, admission=ROOMY)
    next_window = Admission(window_start=T0 + 60, rate_limit=1000, max_in_flight=1000)
    await store.jobs.insert_jobs(
        [IntakeRequest(new=new_job("cli_a"), now=T0 + 61, admission=next_window) for _ in "ab"]
    )

    query = sa.text("SELECT client_id, window_start, count FROM rate_windows")
    async with store.db.read() as conn:
        rows = (await conn.execute(query)).all()
    assert [("cli_a", T0 + 60, 2), ("cli_b", T0, 1)] == sorted(tuple(r) for r in rows)


async def test_a_key_whose_first_request_was_refused_is_free_for_the_next(store: Store) -> None:
    """Rate limit 1 already spent: a keyed request is refused and stores no key, so the same key
    in a later batch (a new window) creates the job."""
    await add_client(store)
    one = Admission(window_start=T0, rate_limit=1, max_in_flight=1000)
    await store.jobs.insert_job(new_job(), now=T0, admission=one)
    claim = IdempotencyClaim("key-1", "a" * 64, TTL_S)
    refused = await store.jobs.insert_jobs(
        [IntakeRequest(new=new_job(), now=T0 + 1, idempotency=claim, admission=one)]
    )
    next_window = Admission(window_start=T0 + 60, rate_limit=1, max_in_flight=1000)
    later = await store.jobs.insert_jobs(
        [
            IntakeRequest(new=new_job(), now=T0 + 61, idempotency=claim, admission=next_window),
            IntakeRequest(new=new_job(), now=T0 + 61, idempotency=claim, admission=next_window),
        ]
    )

    assert [OverRateLimit(window_start=T0)] == refused
    created = later[0]
    assert isinstance(created, Created)
    assert Replayed(job=created.job) == later[1]


async def test_stored_keys_in_a_batch_replay_without_spending_budget(store: Store) -> None:
    """Keys committed by an earlier batch replay their jobs even when the client is at its limit
    in this batch, and are not counted."""
    await add_client(store)
    claim = IdempotencyClaim("key-1", "a" * 64, TTL_S)
    two = Admission(window_start=T0, rate_limit=2, max_in_flight=1000)
    first = await store.jobs.insert_job(new_job(), now=T0, idempotency=claim, admission=two)
    assert isinstance(first, Created)
    outcomes = await store.jobs.insert_jobs(
        [
            IntakeRequest(new=new_job(), now=T0 + 1, admission=two),
            IntakeRequest(new=new_job(), now=T0 + 1, idempotency=claim, admission=two),
            IntakeRequest(new=new_job(), now=T0 + 1, admission=two),
            IntakeRequest(new=new_job(), now=T0 + 1, idempotency=claim, admission=two),
        ]
    )

    assert [Created, Replayed, OverRateLimit, Replayed] == [type(o) for o in outcomes]
    assert Replayed(job=first.job) == outcomes[1] == outcomes[3]
    assert 3 == await window_count(store, "cli_a", T0)
