"""Webhook deliveries: claiming, fenced attempt records, listing, redelivery and dead replay."""

from __future__ import annotations

import collections

import msgspec

from gateway.domain.fair_share import Rooms
from gateway.store import Store
from gateway.store.deliveries import AttemptWrite
from gateway.store.records import AttemptRecord, DeliveryChange, JobRecord
from tests.backends import latest_event_id
from tests.store.builders import (
    LEASE_S,
    T0,
    add_client,
    add_deliveries,
    add_job,
    attempt,
    claim_deliveries,
    delivery_change,
)


async def record_attempt(
    store: Store,
    delivery_id: str,
    token: str,
    made: AttemptRecord,
    change: DeliveryChange,
    *,
    now: float,
) -> bool:
    """One attempt recorded alone (a batch of one); whether its fenced write landed."""
    assert made.delivery_id == delivery_id
    [landed] = await store.deliveries.record_attempts([AttemptWrite(token, made, change, now)])
    return landed


async def finished_job(store: Store, client_id: str = "cli_a", count: int = 1) -> JobRecord:
    job = await add_job(store, client_id)
    await add_deliveries(store, job, count)
    return job


async def deliver(store: Store, delivery_id: str, *, now: float, state: str) -> None:
    """Claim every due delivery and record one attempt for ``delivery_id`` ending in ``state``."""
    claimed = await claim_deliveries(
        store, now=now, limit=100, token="lease_send", lease_until=now + LEASE_S
    )
    assert delivery_id in {d.id for d in claimed}
    values = delivery_change(state=state, attempts=1, next_run_at=None)
    assert await record_attempt(
        store, delivery_id, "lease_send", attempt(delivery_id, 1, at=now), values, now=now
    )
    await store.work.release_leases(["lease_send"])


async def test_deliveries_are_claimed_when_due(store: Store) -> None:
    """A pending delivery is claimed with the claimer's lease and not claimed twice meanwhile."""
    await add_client(store)
    job = await finished_job(store)
    [made] = await store.deliveries.for_job(job.id)

    [claimed] = await claim_deliveries(
        store, now=T0, limit=10, token="lease_a", lease_until=T0 + LEASE_S
    )
    again = await claim_deliveries(
        store, now=T0 + 1, limit=10, token="lease_b", lease_until=T0 + 1 + LEASE_S
    )

    assert (made.id, made.payload, "lease_a", T0 + LEASE_S) == (
        claimed.id,
        claimed.payload,
        claimed.lease_token,
        claimed.lease_until,
    )
    assert [] == again


async def test_record_attempt_is_fenced_and_logs_the_attempt(store: Store) -> None:
    """With the lease the attempt is logged and the delivery moves on. With a stale token the
    delivery is left to the lease's holder, but the attempt (a fact) is still logged, marked
    ``lease_lost``."""
    await add_client(store)
    job = await finished_job(store)
    [made] = await store.deliveries.for_job(job.id)
    await claim_deliveries(store, now=T0, limit=10, token="lease_old", lease_until=T0 + 5)
    await claim_deliveries(store, now=T0 + 6, limit=10, token="lease_new", lease_until=T0 + 40)
    failed = attempt(made.id, 1, at=T0 + 7, status_code=503)
    retry = delivery_change(attempts=1, last_status_code=503, next_run_at=T0 + 12)

    stale = await record_attempt(store, made.id, "lease_old", failed, retry, now=T0 + 7)
    after_stale = (
        await store.deliveries.for_job(job.id),
        await store.deliveries.attempts_for_job(job.id),
    )
    current = await record_attempt(store, made.id, "lease_new", failed, retry, now=T0 + 7)
    [stored] = await store.deliveries.for_job(job.id)

    assert False is stale
    lost = msgspec.structs.replace(failed, lease_lost=True)
    assert (0, [lost]) == (after_stale[0][0].attempts, after_stale[1])
    assert True is current
    assert [lost, failed] == await store.deliveries.attempts_for_job(job.id)
    assert ("pending", 1, 503, T0 + 12, None, 1) == (
        stored.state,
        stored.attempts,
        stored.last_status_code,
        stored.next_run_at,
        stored.lease_token,
        stored.takeovers,
    )


async def test_deliveries_and_attempts_are_listed_in_order(store: Store) -> None:
    """Deliveries come in creation order, attempts in the order they were recorded."""
    await add_client(store)
    job = await finished_job(store, count=2)
    other = await finished_job(store)
    first, second = await store.deliveries.for_job(job.id)
    [elsewhere] = await store.deliveries.for_job(other.id)
    await claim_deliveries(store, now=T0, limit=10, token="lease_x", lease_until=T0 + 30)
    recorded = [
        (second.id, attempt(second.id, 1, at=T0 + 1, status_code=500)),
        (elsewhere.id, attempt(elsewhere.id, 1, at=T0 + 1)),
        (first.id, attempt(first.id, 1, at=T0 + 2)),
    ]
    for delivery_id, made in recorded:
        assert await record_attempt(
            store, delivery_id, "lease_x", made, delivery_change(attempts=1), now=made.attempted_at
        )
    sorted_ids = sorted([first.id, second.id])

    assert sorted_ids == [d.id for d in await store.deliveries.for_job(job.id)]
    assert [recorded[0][1], recorded[2][1]] == await store.deliveries.attempts_for_job(job.id)
    assert [recorded[1][1]] == await store.deliveries.attempts_for_job(other.id)


async def test_redeliver_makes_finished_deliveries_pending_with_the_same_id(store: Store) -> None:
    """Delivered and dead events are due again with their ids, a new round of the schedule
    starting after their 8 attempts (which stay counted); a pending one is left alone."""
    await add_client(store)
    job = await finished_job(store, count=3)
    delivered, dead, pending = await store.deliveries.for_job(job.id)
    await claim_deliveries(store, now=T0, limit=10, token="lease_x", lease_until=T0 + 30)
    for made, state in ((delivered, "delivered"), (dead, "dead")):
        assert await record_attempt(
            store,
            made.id,
            "lease_x",
            attempt(made.id, 8),
            delivery_change(state=state, attempts=8, next_run_at=None),
            now=T0 + 5,
        )
    assert await record_attempt(
        store,
        pending.id,
        "lease_x",
        attempt(pending.id, 1),
        delivery_change(attempts=1, next_run_at=T0 + 60),
        now=T0 + 5,
    )

    again = await store.deliveries.redeliver(job.id, now=T0 + 10)

    by_id = {d.id: d for d in again}
    assert [delivered.id, dead.id, pending.id] == [d.id for d in again]
    assert [("pending", 8, 8, 1, T0 + 10)] * 2 == [
        (
            by_id[i].state,
            by_id[i].attempts,
            by_id[i].attempts_before_round,
            by_id[i].attempt_in_round,
            by_id[i].next_run_at,
        )
        for i in (delivered.id, dead.id)
    ]
    assert ("pending", 1, 0, T0 + 60) == (
        by_id[pending.id].state,
        by_id[pending.id].attempts,
        by_id[pending.id].attempts_before_round,
        by_id[pending.id].next_run_at,
    )
    claimed = await claim_deliveries(
        store, now=T0 + 10, limit=10, token="lease_y", lease_until=T0 + 40
    )
    assert sorted([delivered.id, dead.id]) == sorted(d.id for d in claimed)


async def test_replay_dead_takes_the_window_and_the_client(store: Store) -> None:
    """Only dead deliveries of that client created in [since, until) become due again."""
    await add_client(store, "cli_a")
    await add_client(store, "cli_b")
    made: dict[str, str] = {}
    for name, client_id, created in (
        ("before", "cli_a", T0 - 10),
        ("at_since", "cli_a", T0),
        ("inside", "cli_a", T0 + 50),
        ("at_until", "cli_a", T0 + 100),
        ("other_client", "cli_b", T0 + 50),
        ("delivered", "cli_a", T0 + 50),
    ):
        job = await add_job(store, client_id, now=created)
        [delivery] = await add_deliveries(store, job, now=created)
        made[name] = delivery.id
    for name, delivery_id in made.items():
        await deliver(
            store, delivery_id, now=T0 + 200, state="delivered" if name == "delivered" else "dead"
        )

    replayed = await store.deliveries.replay_dead(
        client_id="cli_a", since=T0, until=T0 + 100, now=T0 + 300
    )

    claimed = await claim_deliveries(
        store, now=T0 + 300, limit=10, token="lease_r", lease_until=T0 + 330
    )
    assert 2 == replayed
    assert sorted([made["at_since"], made["inside"]]) == sorted(d.id for d in claimed)
    assert {"dead": 3, "delivered": 1, "pending": 2} == await store.deliveries.count_by_state()


async def test_attempts_redeliveries_and_replays_write_history_rows(store: Store) -> None:
    """Each attempt (a lease-lost one too, marked) and each redeliver/replay adds a row to the
    job's history in the same transaction."""
    await add_client(store)
    job = await finished_job(store)
    [made] = await store.deliveries.for_job(job.id)
    await claim_deliveries(store, now=T0, limit=10, token="lease_old", lease_until=T0 + 5)
    await claim_deliveries(store, now=T0 + 6, limit=10, token="lease_new", lease_until=T0 + 40)
    dead = delivery_change(state="dead", attempts=1, next_run_at=None)
    await record_attempt(
        store, made.id, "lease_old", attempt(made.id, 1, at=T0 + 7), dead, now=T0 + 7
    )
    await record_attempt(
        store, made.id, "lease_new", attempt(made.id, 1, at=T0 + 8), dead, now=T0 + 8
    )
    await store.deliveries.redeliver(job.id, now=T0 + 9)
    await claim_deliveries(store, now=T0 + 9, limit=10, token="lease_3", lease_until=T0 + 40)
    await record_attempt(
        store, made.id, "lease_3", attempt(made.id, 1, at=T0 + 10), dead, now=T0 + 10
    )
    replayed = await store.deliveries.replay_dead(
        client_id="cli_a", since=0, until=T0 + 20, now=T0 + 11
    )

    events = await store.history.list_for_job(job.id)

    assert 1 == replayed
    assert [
        ("accepted", T0, {}),
        ("delivery_attempted", T0 + 7, True),
        ("delivery_attempted", T0 + 8, False),
        ("redelivery_requested", T0 + 9, {"reason": "redeliver", "delivery_ids": [made.id]}),
        ("delivery_attempted", T0 + 10, False),
        ("redelivery_requested", T0 + 11, {"reason": "replay", "delivery_ids": [made.id]}),
    ] == [
        (e.kind, e.at, e.data["lease_lost"] if e.kind == "delivery_attempted" else e.data)
        for e in events
    ]
    assert ["dead", "dead"] == [e.data["decision"] for e in events[1:3]]
    assert events[-1].id == await latest_event_id(store)


delivered = delivery_change(state="delivered", attempts=1, last_status_code=200)


async def test_attempts_recorded_together_are_each_fenced(store: Store) -> None:
    """Three attempts in one transaction, one of them by a lease that was lost: the other two
    move their deliveries on; all three are logged (the stale one marked), each with its
    history row naming its own delivery."""
    await add_client(store)
    job = await finished_job(store, count=3)
    first, second, third = await store.deliveries.for_job(job.id)
    await claim_deliveries(store, now=T0, limit=10, token="lease_x", lease_until=T0 + 5)
    await claim_deliveries(store, now=T0 + 6, limit=10, token="lease_y", lease_until=T0 + 40)
    writes = [
        AttemptWrite("lease_y", attempt(first.id, 1, at=T0 + 7), delivered, T0 + 7),
        AttemptWrite("lease_x", attempt(second.id, 1, at=T0 + 7), delivered, T0 + 7),
        AttemptWrite("lease_y", attempt(third.id, 1, at=T0 + 7), delivered, T0 + 7),
    ]

    landed = await store.deliveries.record_attempts(writes)

    stored = {d.id: d for d in await store.deliveries.for_job(job.id)}
    events = await store.history.list_for_job(job.id)
    attempted = [e.data for e in events if e.kind == "delivery_attempted"]
    assert [True, False, True] == landed
    assert ("delivered", "pending", "delivered") == tuple(
        stored[d.id].state for d in (first, second, third)
    )
    assert "lease_y" == stored[second.id].lease_token  # left to the lease's holder
    assert [False, True, False] == [
        a.lease_lost for a in await store.deliveries.attempts_for_job(job.id)
    ]
    assert [(first.id, False), (second.id, True), (third.id, False)] == [
        (data["delivery_id"], data["lease_lost"]) for data in attempted
    ]


async def test_a_claim_counts_what_is_in_flight_per_client_and_per_destination(
    store: Store,
) -> None:
    """Six due to one URL of client A, two to client B: with a share of 3 (A has 2 in flight)
    and a cap of 4 per destination (A's has 3 in flight), one of A's and two of B's are leased;
    the rest of A's stay due and unleased, held back."""
    await add_client(store)
    await add_client(store, "cli_b")
    a_job = await add_job(store, "cli_a", callback_url="https://a.test/hook")
    await add_deliveries(store, a_job, 6)
    b_job = await add_job(store, "cli_b", callback_url="https://b.test/hook")
    await add_deliveries(store, b_job, 2)

    claim = await store.deliveries.claim(
        now=T0,
        limit=10,
        token="lease_c",
        lease_until=T0 + LEASE_S,
        rooms=Rooms(
            per_client=3,
            per_destination=4,
            client_room={"cli_a": 1},
            destination_room={"https://a.test:443": 1},
        ),
    )

    a_left = [d for d in await store.deliveries.for_job(a_job.id) if d.lease_token is None]
    assert {"cli_a": 1, "cli_b": 2} == dict(
        collections.Counter(d.client_id for d in claim.deliveries)
    )
    assert 5 == len(a_left)
    assert claim.held_back


async def test_a_client_whose_first_deliveries_wait_on_a_full_destination_gets_its_next(
    store: Store,
) -> None:
    """A's first four deliveries go to a destination with no room, its next two elsewhere: the
    claim takes those two (a share spent on rows the cap then drops would lease nothing)."""
    await add_client(store)
    busy = await add_job(store, "cli_a", callback_url="https://busy.test/hook", now=T0 - 2)
    await add_deliveries(store, busy, 4, now=T0 - 2)
    free = await add_job(store, "cli_a", callback_url="https://free.test/hook", now=T0 - 1)
    await add_deliveries(store, free, 2, now=T0 - 1)

    claim = await store.deliveries.claim(
        now=T0,
        limit=10,
        token="lease_f",
        lease_until=T0 + LEASE_S,
        rooms=Rooms(per_client=2, per_destination=4, destination_room={"https://busy.test:443": 0}),
    )

    assert ["https://free.test/hook"] * 2 == [d.url for d in claim.deliveries]
    assert claim.held_back


async def test_a_claim_of_one_looks_past_clients_without_room(store: Store) -> None:
    """One slot free, the earliest due belong to clients with no room left: the claim still
    finds the later delivery of the client whose slot freed."""
    for client_id in ("cli_a", "cli_b", "cli_c"):
        await add_client(store, client_id)
    for client_id in ("cli_b", "cli_c"):
        full = await add_job(store, client_id, callback_url=f"https://{client_id}.test/hook")
        await add_deliveries(store, full, 6, now=T0 - 5)
    freed = await add_job(store, "cli_a", callback_url="https://a.test/hook")
    await add_deliveries(store, freed, 1, now=T0 - 1)

    claim = await store.deliveries.claim(
        now=T0,
        limit=1,
        token="lease_1",
        lease_until=T0 + LEASE_S,
        rooms=Rooms(
            per_client=2,
            per_destination=4,
            client_room={"cli_a": 1, "cli_b": 0, "cli_c": 0},
            destination_room={"https://a.test:443": 3},
        ),
    )

    assert ["cli_a"] == [d.client_id for d in claim.deliveries]


async def test_a_claim_that_takes_everything_due_holds_nothing_back(store: Store) -> None:
    await add_client(store)
    job = await add_job(store, "cli_a", callback_url="https://a.test/hook")
    await add_deliveries(store, job, 3)
    rooms = Rooms(per_client=8, per_destination=4)

    first = await store.deliveries.claim(
        now=T0, limit=3, token="lease_1", lease_until=T0 + LEASE_S, rooms=rooms
    )
    second = await store.deliveries.claim(
        now=T0, limit=3, token="lease_2", lease_until=T0 + LEASE_S, rooms=rooms
    )

    assert (3, False) == (len(first.deliveries), first.held_back)
    assert ([], False) == (second.deliveries, second.held_back)
