"""What the broker publisher tests share: signed messages, a resolver that must not be asked,
a fake clock for the reconnect backoff, and the places on each broker the fixtures make
(``conftest.py``) with a consumer's view of what arrived there."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass

import aio_pika
import redis.asyncio as redis
from nats.aio.client import Client as NatsClient
from standardwebhooks import Webhook

from gateway.delivery.brokers.common import BrokerMessage
from gateway.domain.addresses import IPAddress
from gateway.domain.signing import webhook_headers

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PASSWORD = "n0t-the-Guest-s3cret"  # a wrong password that must never be shown


def signed_message(event_id: str | None = None, *, size: int = 0) -> BrokerMessage:
    """A webhook event as the delivery pipeline makes it: body, Standard Webhooks headers
    signed now, and the event id as the dedupe id (a retry's)."""
    event_id = event_id or f"msg_{secrets.token_hex(8)}"
    data = {"id": "job_1", "status": "completed", "padding": "x" * size}
    body = json.dumps({"type": "video.generation.completed", "data": data}).encode()
    headers = webhook_headers([SECRET], event_id, int(time.time()), body)
    return BrokerMessage(body=body, headers=headers, dedupe_id=event_id)


def verify(body: bytes, headers: Mapping[str, str]) -> None:
    """The reference library's check, as a consumer would do it (raises when it fails)."""
    Webhook(SECRET).verify(body, dict(headers))


async def no_resolver(host: str, port: int) -> list[IPAddress]:
    raise AssertionError(f"no name should be resolved here, asked for {host}:{port}")


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class RabbitPlace:
    """An exchange with one queue bound for ``routing_key``."""

    channel: aio_pika.abc.AbstractChannel
    exchange: str
    queue: str
    routing_key: str

    def url(self, port: int, *, routing_key: str | None = None, exchange: str | None = None) -> str:
        key = self.routing_key if routing_key is None else routing_key
        return f"amqp://127.0.0.1:{port}/%2F?exchange={exchange or self.exchange}&routing_key={key}"

    async def messages(self) -> list[aio_pika.abc.AbstractIncomingMessage]:
        queue = await self.channel.get_queue(self.queue)
        got = []
        while (message := await queue.get(no_ack=True, fail=False, timeout=5)) is not None:
            got.append(message)
        return got


@dataclass
class NatsStream:
    """A stream capturing ``<prefix>.>``, made as an operator would."""

    client: NatsClient
    name: str
    prefix: str

    def url(self, port: int = 4222, subject: str = "done") -> str:
        return f"nats://127.0.0.1:{port}?subject={self.prefix}.{subject}"

    async def messages(self) -> list[tuple[bytes, dict[str, str]]]:
        js = self.client.jetstream()
        state = (await js.stream_info(self.name)).state
        got = []
        for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
            raw = await js.get_msg(self.name, seq)
            got.append((raw.data or b"", dict(raw.headers or {})))
        return got


@dataclass
class RedisStream:
    client: redis.Redis
    key: str

    def url(self, port: int = 6379) -> str:
        return f"redis://127.0.0.1:{port}/0?stream={self.key}"

    async def entries(self) -> list[tuple[bytes, dict[str, str]]]:
        got = []
        for _id, fields in await self.client.xrange(self.key):
            decoded = {k.decode(): v for k, v in fields.items()}
            body = decoded.pop("body")
            got.append((body, {k: v.decode() for k, v in decoded.items()}))
        return got
