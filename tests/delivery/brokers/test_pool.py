"""The pool of broker connections and the pieces every publisher shares, without a broker: one
connect for many publishes, backoff after failed connects, reconnection after a break, the
checked address, scrubbed notes."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest

from gateway.delivery.brokers.common import (
    BrokerOptions,
    Outcome,
    PublishFailed,
    pinned_address,
    scrub,
)
from gateway.delivery.brokers.pool import ConnectionPool, PoolKey
from gateway.domain.addresses import IPAddress
from gateway.domain.broker_targets import BrokerCredentials, parse_target
from tests.delivery.brokers.support import FakeClock, no_resolver

TARGET = parse_target("nats://broker.internal:4222?subject=video.done").target
KEY = PoolKey.of(TARGET, None)


class Connections:
    """Makes numbered fake connections, or fails to, and records what was closed."""

    def __init__(self) -> None:
        self.made = 0
        self.closed: list[int] = []
        self.dead: set[int] = set()
        self.fail_with: PublishFailed | None = None
        self.gate: asyncio.Event | None = None

    async def connect(self) -> int:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        self.made += 1
        return self.made

    def alive(self, connection: int) -> bool:
        return connection not in self.dead

    async def close(self, connection: int) -> None:
        self.closed.append(connection)


def pool_of(connections: Connections, clock: FakeClock, **options: float) -> ConnectionPool[int]:
    return ConnectionPool(BrokerOptions(**options), connections.close, clock=clock)  # type: ignore[arg-type]


async def use(pool: ConnectionPool[int], connections: Connections, key: PoolKey = KEY) -> int:
    """A publish's way with the pool: the live connection at once, or acquired; given back."""
    connection = pool.ready(key, connections.alive)
    if connection is None:
        connection = await pool.acquire(key, connections.connect, connections.alive)
    pool.release(key)
    return connection


async def test_concurrent_publishes_share_one_connect() -> None:
    connections = Connections()
    connections.gate = asyncio.Event()
    pool = pool_of(connections, FakeClock())

    waiting = [asyncio.create_task(use(pool, connections)) for _ in range(20)]
    await asyncio.sleep(0)
    connections.gate.set()
    got = await asyncio.gather(*waiting)

    assert ([1] * 20, 1) == (got, connections.made)


async def test_failed_connects_back_off_doubling_up_to_the_cap() -> None:
    """Waits of 1 s, 2 s, then 3 s (the cap) after each failed connect; meanwhile a publish
    fails at once with the last failure, saying when the next connect may be."""
    connections = Connections()
    clock = FakeClock()
    pool = pool_of(connections, clock, backoff_s=1.0, backoff_max_s=3.0)
    connections.fail_with = PublishFailed("broker_unreachable", "refused", connect_failed=True)
    notes = []
    for step in (0.0, 0.5, 0.6, 1.9, 0.2, 3.0, 2.9, 0.2):
        clock.now += step
        with pytest.raises(PublishFailed) as caught:
            await use(pool, connections)
        assert caught.value.connect_failed
        notes.append(caught.value.note)

    assert [
        "refused",  # t=0: tried
        "refused (next connection attempt in 0.5 s)",
        "refused",  # t=1.1: tried, next after 2 s
        "refused (next connection attempt in 0.1 s)",
        "refused",  # t=3.2: tried, next after 3 s (the cap, not 4)
        "refused",  # t=6.2: tried, next after 3 s
        "refused (next connection attempt in 0.1 s)",
        "refused",  # t=9.3: tried
    ] == notes


async def test_a_success_resets_the_backoff() -> None:
    connections = Connections()
    clock = FakeClock()
    pool = pool_of(connections, clock, backoff_s=1.0)
    connections.fail_with = PublishFailed("broker_unreachable", "refused", connect_failed=True)
    with pytest.raises(PublishFailed):
        await use(pool, connections)
    clock.now += 1.0
    connections.fail_with = None

    first = await use(pool, connections)
    connections.dead.add(first)
    connections.fail_with = PublishFailed("broker_unreachable", "refused", connect_failed=True)
    with pytest.raises(PublishFailed) as caught:
        await use(pool, connections)

    assert (1, "refused") == (first, caught.value.note)  # tried at once: no backoff left over


async def test_a_dead_connection_is_closed_and_replaced() -> None:
    connections = Connections()
    pool = pool_of(connections, FakeClock())

    first = await use(pool, connections)
    connections.dead.add(first)
    second = await use(pool, connections)

    assert (1, 2, [1]) == (first, second, connections.closed)


async def test_a_discarded_connection_is_closed_once_and_replaced_at_once() -> None:
    connections = Connections()
    pool = pool_of(connections, FakeClock())

    first = await use(pool, connections)
    pool.discard(KEY, first)
    pool.discard(KEY, first)  # a second publish on it failed too
    second = await use(pool, connections)
    await pool.aclose()

    assert (1, 2, [1, 2]) == (first, second, sorted(connections.closed))  # 1 in the background


async def test_beyond_max_brokers_the_least_recently_used_idle_one_is_closed() -> None:
    connections = Connections()
    pool = pool_of(connections, FakeClock(), max_brokers=2)
    keys = [PoolKey.of(parse_target(f"nats://b{n}?subject=s").target, None) for n in range(3)]

    for key in keys:
        await use(pool, connections, key)

    assert [1] == connections.closed


def test_a_pool_key_holds_no_credentials() -> None:
    credentials = BrokerCredentials("app", "hunter2-password")

    key = PoolKey.of(TARGET, credentials)

    assert "hunter2-password" not in repr(key)
    assert key != PoolKey.of(TARGET, BrokerCredentials("app", "other"))
    assert key == PoolKey.of(TARGET, BrokerCredentials("app", "hunter2-password"))


def test_pool_keys_per_place() -> None:
    amqp = [
        PoolKey.of(parse_target(f"amqp://h/{vhost}?exchange=e").target, None).place
        for vhost in ("a", "b")
    ]
    redis = PoolKey.of(parse_target("redis://h/3?stream=s").target, None).place

    assert (["a", "b"], "3") == (amqp, redis)


# --- the checked address ----------------------------------------------------------------------


def resolving_to(*addresses: str) -> object:
    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(a) for a in addresses]

    return resolver


async def test_a_literal_address_is_not_resolved() -> None:
    target = parse_target("nats://10.0.0.6?subject=s").target

    assert ipaddress.ip_address("10.0.0.6") == await pinned_address(target, no_resolver)


async def test_the_first_address_is_used_once_all_are_checked() -> None:
    resolver = resolving_to("10.0.0.7", "10.0.0.8")

    assert ipaddress.ip_address("10.0.0.7") == await pinned_address(TARGET, resolver)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["0.0.0.0", "224.0.0.5", "ff02::1"])  # noqa: S104 (judged only)
async def test_one_address_no_broker_has_refuses_the_host(bad: str) -> None:
    with pytest.raises(PublishFailed) as caught:
        await pinned_address(TARGET, resolving_to("10.0.0.7", bad))  # type: ignore[arg-type]

    assert "blocked_address" == caught.value.error
    assert f"broker.internal → {ipaddress.ip_address(bad)}" in caught.value.note


async def test_a_name_that_does_not_resolve_is_unreachable() -> None:
    async def unknown(host: str, port: int) -> list[IPAddress]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(PublishFailed) as caught:
        await pinned_address(TARGET, unknown)

    assert ("broker_unreachable", True) == (caught.value.error, caught.value.connect_failed)


def test_notes_are_scrubbed_of_credentials_and_cut() -> None:
    credentials = BrokerCredentials("app-user", "s3cret")

    assert "login *** / *** refused" == scrub("login app-user / s3cret refused", credentials)
    assert 300 == len(scrub("x" * 1000, None))


def test_an_outcome_never_shows_the_credentials() -> None:
    credentials = BrokerCredentials("app", "s3cret")
    outcome = Outcome(credentials)

    failed = outcome.failed(PublishFailed("broker_auth_failed", "user app, password s3cret"))
    confirmed = outcome.confirmed("s3cret")

    assert ("user ***, password ***", "***") == (
        failed.response_excerpt,
        confirmed.response_excerpt,
    )
    assert (False, True) == (failed.succeeded, confirmed.succeeded)
