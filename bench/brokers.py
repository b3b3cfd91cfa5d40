"""Brokers: confirmed messages per second from one process to each broker at concurrency 64,
through the gateway's publishers against the same library publishing directly, in one run.

For each broker that answers on 127.0.0.1 (RabbitMQ :5672 guest/guest, NATS JetStream :4222,
Redis :6379), rounds alternate between:

- the baseline: the library used directly, as its documentation shows, with the same guarantee
  (aio-pika on one confirm channel with ``mandatory``; nats-py's ``js.publish``; redis-py's
  ``XADD`` over a pool of 64 connections), pre-signed bodies and headers;
- the gateway: ``DestinationSender.send`` with the same bodies and headers, so the allow-list
  check, the pooled pinned connection, the bounded publish and the ``AttemptResult`` are in.

Every message has its own dedupe id (JetStream must store them all). The places published to
(an exchange with a queue, a stream, a stream key) are made for the run and deleted after.
Goal: the gateway at no less than half the direct library's rate.

``uv run python -m bench.brokers [--messages 3000] [--concurrency 64] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import aio_pika
import nats
import redis.asyncio as redis
from nats.js.api import Header, StreamConfig

from bench.common import print_table
from gateway.delivery.brokers.common import BrokerMessage
from gateway.delivery.brokers.redis_streams import entry_fields
from gateway.delivery.destinations import DestinationSender
from gateway.domain.broker_allowlist import BrokerAllowlist, parse_allowlist
from gateway.domain.broker_targets import BrokerCredentials
from gateway.domain.delivery import AttemptResult
from gateway.domain.events import event_body
from gateway.domain.signing import webhook_headers
from gateway.observability.logging import configure_logging

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # noqa: S105 (the Standard Webhooks test secret)
AMQP_URL = os.environ.get("BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
NATS_URL = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

Publish = Callable[[BrokerMessage], Awaitable[bool]]


def messages(count: int, run: str) -> list[BrokerMessage]:
    """Signed webhook events, each with its own id (the dedupe id too)."""
    now = int(time.time())
    made = []
    for i in range(count):
        data = {
            "id": f"job_{i:024d}",
            "status": "completed",
            "video_url": "https://cdn.example/v.mp4",
        }
        body = event_body("video.generation.completed", "2026-12-07T12:00:00Z", data)
        event_id = f"msg_{run}_{i}"
        made.append(BrokerMessage(body, webhook_headers([SECRET], event_id, now, body), event_id))
    return made


@dataclass
class Reading:
    per_second: float
    cpu_us: float  # this process's CPU time per message (the brokers run elsewhere)
    confirmed: int


async def rate(batch: list[BrokerMessage], concurrency: int, publish: Publish) -> Reading:
    """Messages per second with ``concurrency`` workers, CPU per message, how many confirmed."""
    pending = iter(batch)
    confirmed = 0

    async def worker() -> None:
        nonlocal confirmed
        for message in pending:
            ok = await publish(message)  # not `confirmed += await …` (read before the await)
            confirmed += ok

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return Reading(len(batch) / elapsed, cpu / len(batch) * 1e6, confirmed)


@dataclass
class Broker:
    """One broker's two ways to publish, opened per round, and the target for the gateway."""

    name: str
    url: str
    allowlist: BrokerAllowlist
    credentials: BrokerCredentials | None
    direct: Callable[[], AbstractAsyncContextManager[Publish]]


def via_gateway(broker: Broker) -> AbstractAsyncContextManager[Publish]:
    @asynccontextmanager
    async def opened() -> AsyncIterator[Publish]:
        sender = DestinationSender.create(_NoHttp())

        async def publish(message: BrokerMessage) -> bool:
            result = await sender.send(
                broker.url,
                message.body,
                message.headers,
                credentials=broker.credentials,
                broker_allowlist=broker.allowlist,
                dedupe_id=message.dedupe_id,
            )
            return result.succeeded

        try:
            yield publish
        finally:
            await sender.aclose()

    return opened()


class _NoHttp:
    async def send(self, url: str, body: bytes, headers: object) -> AttemptResult:
        raise AssertionError("no HTTP in this benchmark")

    async def aclose(self) -> None:
        return None


# --- the places, made for the run --------------------------------------------------------------


@asynccontextmanager
async def rabbitmq() -> AsyncIterator[Broker]:
    connection = await aio_pika.connect(AMQP_URL, timeout=5)
    channel = await connection.channel()
    name = f"gw-bench-{secrets.token_hex(4)}"
    exchange = await channel.declare_exchange(name, aio_pika.ExchangeType.DIRECT)
    queue = await channel.declare_queue(name, durable=True)
    await queue.bind(exchange, "bench")

    @asynccontextmanager
    async def direct() -> AsyncIterator[Publish]:
        own = await aio_pika.connect(AMQP_URL, timeout=5)
        confirms = await own.channel(publisher_confirms=True, on_return_raises=True)
        target = await confirms.get_exchange(name, ensure=True)

        async def publish(message: BrokerMessage) -> bool:
            amqp = aio_pika.Message(
                message.body,
                headers=dict(message.headers),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message.dedupe_id,
            )
            await target.publish(amqp, "bench", mandatory=True, timeout=10)
            return True

        try:
            yield publish
        finally:
            await own.close()
            await queue.purge()

    try:
        yield Broker(
            "RabbitMQ (aio-pika, confirms, mandatory, persistent)",
            f"amqp://127.0.0.1:5672/%2F?exchange={name}&routing_key=bench",
            parse_allowlist([f"amqp://127.0.0.1:5672/%2F?exchange={name}"]),
            BrokerCredentials("guest", "guest"),
            direct,
        )
    finally:
        await channel.queue_delete(name)
        await channel.exchange_delete(name)
        await connection.close()


@asynccontextmanager
async def jetstream() -> AsyncIterator[Broker]:
    admin = await nats.connect(NATS_URL, connect_timeout=5, allow_reconnect=False)
    token = secrets.token_hex(4)
    stream, subject = f"GW_BENCH_{token}", f"gwbench.{token}.done"
    await admin.jetstream().add_stream(StreamConfig(name=stream, subjects=[subject]))

    @asynccontextmanager
    async def direct() -> AsyncIterator[Publish]:
        own = await nats.connect(NATS_URL, connect_timeout=5, allow_reconnect=False)
        js = own.jetstream(timeout=10)

        async def publish(message: BrokerMessage) -> bool:
            headers = {**message.headers, Header.MSG_ID: message.dedupe_id}
            ack = await js.publish(subject, message.body, headers=headers)
            return not ack.duplicate

        try:
            yield publish
        finally:
            await own.close()

    try:
        yield Broker(
            "NATS JetStream (nats-py, acked publish)",
            f"nats://127.0.0.1:4222?subject={subject}",
            parse_allowlist([f"nats://127.0.0.1:4222?subject=gwbench.{token}.*"]),
            None,
            direct,
        )
    finally:
        await admin.jetstream().delete_stream(stream)
        await admin.close()


@asynccontextmanager
async def redis_streams(concurrency: int) -> AsyncIterator[Broker]:
    admin = redis.Redis.from_url(REDIS_URL)
    key = f"gw-bench-{secrets.token_hex(4)}"

    @asynccontextmanager
    async def direct() -> AsyncIterator[Publish]:
        pool = redis.BlockingConnectionPool.from_url(REDIS_URL, max_connections=concurrency)
        own = redis.Redis(connection_pool=pool)

        async def publish(message: BrokerMessage) -> bool:
            await own.xadd(key, entry_fields(message))  # type: ignore[arg-type]
            return True

        try:
            yield publish
        finally:
            await own.aclose(close_connection_pool=True)

    try:
        yield Broker(
            "Redis Streams (redis-py, XADD)",
            f"redis://127.0.0.1:6379/0?stream={key}",
            parse_allowlist([f"redis://127.0.0.1:6379/0?stream={key}"]),
            None,
            direct,
        )
    finally:
        await admin.delete(key)
        await admin.aclose()


# --- the run -----------------------------------------------------------------------------------


async def measure(broker: Broker, count: int, concurrency: int, rounds: int) -> list[list[object]]:
    direct: list[Reading] = []
    ours: list[Reading] = []
    for n in range(rounds):
        for label, opened, readings in (
            ("direct", broker.direct(), direct),
            ("gateway", via_gateway(broker), ours),
        ):
            batch = messages(count, f"{label}{n}")
            async with opened as publish:
                await rate(messages(concurrency, f"warm{label}{n}"), concurrency, publish)
                readings.append(await rate(batch, concurrency, publish))
    missed = sum(count - r.confirmed for r in ours + direct)
    note = "" if not missed else f" ({missed} not confirmed!)"
    base_rate = statistics.median(r.per_second for r in direct)
    base_cpu = statistics.median(r.cpu_us for r in direct)
    our_rate = statistics.median(r.per_second for r in ours)
    our_cpu = statistics.median(r.cpu_us for r in ours)
    return [
        [broker.name, "the library directly", f"{base_rate:,.0f}", "1.00", f"{base_cpu:.0f}"],
        [
            broker.name,
            f"gateway publisher{note}",
            f"{our_rate:,.0f}",
            f"**{our_rate / base_rate:.2f}**",
            f"{our_cpu:.0f} (+{our_cpu - base_cpu:.0f})",
        ],
    ]


async def run(count: int, concurrency: int, rounds: int) -> list[list[object]]:
    rows: list[list[object]] = []
    places: list[tuple[str, Callable[[], AbstractAsyncContextManager[Broker]]]] = [
        ("RabbitMQ", rabbitmq),
        ("NATS", jetstream),
        ("Redis", lambda: redis_streams(concurrency)),
    ]
    for name, place in places:
        try:
            async with place() as broker:
                rows += await measure(broker, count, concurrency, rounds)
        except (OSError, aio_pika.exceptions.AMQPError, nats.errors.Error, redis.RedisError) as exc:
            rows.append([name, f"skipped: {type(exc).__name__}", "-", "-", "-"])
    return rows


def main() -> None:
    configure_logging(log_format="console", level="WARNING", secrets=[])
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000, help="per round and side")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="alternated; medians shown")
    args = parser.parse_args()
    rows = asyncio.run(run(args.messages, args.concurrency, args.rounds))
    print_table(
        f"Broker publishes at concurrency {args.concurrency}: {args.messages} messages a round, "
        f"{args.rounds} rounds alternated, medians",
        ["broker", "publisher", "confirmed msgs/s", "ratio", "client CPU µs/msg"],
        rows,
    )


if __name__ == "__main__":
    main()
