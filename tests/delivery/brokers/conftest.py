"""The brokers' fixtures: a place to publish to on each (made and deleted per test, as an
operator would make it), and a fault proxy in front of each."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import aio_pika
import nats
import pytest
import redis.asyncio as redis
from nats.js.api import StreamConfig

from gateway.testing.tcp_proxy import FaultProxy
from tests.brokers import (
    AMQP_URL,
    NATS_URL,
    REDIS_URL,
    address,
    require_nats,
    require_rabbitmq,
    require_redis,
    unique,
)
from tests.delivery.brokers.support import NatsStream, RabbitPlace, RedisStream


@pytest.fixture
async def rabbit_place() -> AsyncIterator[RabbitPlace]:
    require_rabbitmq()
    connection = await aio_pika.connect(AMQP_URL, timeout=5)
    channel = await connection.channel()
    name = unique("gw-test")
    exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.DIRECT)
    queue = await channel.declare_queue(name, durable=True)
    await queue.bind(exchange, "video.done")
    try:
        yield RabbitPlace(channel, name, name, "video.done")
    finally:
        await channel.queue_delete(name)
        await channel.exchange_delete(name)
        await connection.close()


@pytest.fixture
async def rabbit_proxy() -> AsyncIterator[FaultProxy]:
    require_rabbitmq()
    async with FaultProxy(address(AMQP_URL)) as running:
        yield running


@pytest.fixture
async def nats_stream() -> AsyncIterator[NatsStream]:
    require_nats()
    client = await nats.connect(NATS_URL, connect_timeout=5, allow_reconnect=False)
    token = secrets.token_hex(4)
    name, prefix = f"GW_TEST_{token}", f"gwtest.{token}"
    js = client.jetstream()
    await js.add_stream(
        StreamConfig(name=name, subjects=[f"{prefix}.>"], duplicate_window=60, max_msg_size=20_000)
    )
    try:
        yield NatsStream(client, name, prefix)
    finally:
        await js.delete_stream(name)
        await client.close()


@pytest.fixture
async def nats_proxy() -> AsyncIterator[FaultProxy]:
    require_nats()
    async with FaultProxy(address(NATS_URL)) as running:
        yield running


@pytest.fixture
async def redis_stream() -> AsyncIterator[RedisStream]:
    require_redis()
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    key = unique("gw-test")
    try:
        yield RedisStream(client, key)
    finally:
        await client.delete(key)
        await client.aclose()


@pytest.fixture
async def redis_proxy() -> AsyncIterator[FaultProxy]:
    require_redis()
    async with FaultProxy(address(REDIS_URL)) as running:
        yield running
