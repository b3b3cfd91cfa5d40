"""The machine's message brokers for tests: are they reachable, and unique names on them.

RabbitMQ at ``GATEWAY_TEST_AMQP_URL`` (default ``amqp://guest:guest@127.0.0.1:5672/``), NATS
with JetStream at ``GATEWAY_TEST_NATS_URL`` (``nats://127.0.0.1:4222``), Redis at
``GATEWAY_TEST_REDIS_URL`` (``redis://127.0.0.1:6379/0``). Without one, its tests are skipped,
except under ``CI``, where they fail: a CI run that silently skipped them would prove nothing
(``.ci/run`` expects the machine to start them before the tests).

Each probe is one quick connect, remembered for the session. Names made by :func:`unique` carry
the process id and random hex, so parallel runs never share an exchange, stream or subject;
the fixtures that make them delete them afterwards.

Usage::

    from tests.brokers import require_rabbitmq, unique

    async def test_something() -> None:
        require_rabbitmq()
        ...
"""

from __future__ import annotations

import asyncio
import functools
import os
import secrets
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import aio_pika
import nats
import pytest
import redis.asyncio as redis

AMQP_URL = os.environ.get("GATEWAY_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
NATS_URL = os.environ.get("GATEWAY_TEST_NATS_URL", "nats://127.0.0.1:4222")
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PROBE_TIMEOUT_S = 2.0

T = TypeVar("T")


def unique(prefix: str) -> str:
    """A name no other test (or run) uses: ``<prefix>-<pid>-<hex>``."""
    return f"{prefix}-{os.getpid()}-{secrets.token_hex(4)}"


def address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 0


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}"  # never the credentials


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine in a thread of its own (callable with or without a running loop)."""
    result: list[T] = []
    error: list[BaseException] = []

    def target() -> None:
        async def main() -> T:
            return await factory()

        try:
            result.append(asyncio.run(main()))
        except BaseException as exc:  # handed back to the calling thread below
            error.append(exc)

    thread = threading.Thread(target=target, name="tests-brokers", daemon=True)
    thread.start()
    thread.join()
    if error:
        raise error[0]
    return result[0]


@functools.cache
def rabbitmq_available() -> bool:
    async def probe() -> bool:
        try:
            connection = await aio_pika.connect(AMQP_URL, timeout=PROBE_TIMEOUT_S)
        except Exception:  # any failure means "not here"
            return False
        await connection.close()
        return True

    return _run(probe)


@functools.cache
def nats_available() -> bool:
    """NATS answering *with JetStream* enabled."""

    async def probe() -> bool:
        async def quiet(_: Exception) -> None:
            return None

        try:
            client = await nats.connect(
                NATS_URL,
                connect_timeout=PROBE_TIMEOUT_S,
                allow_reconnect=False,
                max_reconnect_attempts=1,  # (0 would retry a refused connect for ever)
                reconnect_time_wait=0,
                error_cb=quiet,
            )
        except Exception:  # any failure means "not here"
            return False
        try:
            await client.jetstream().account_info()
        except Exception:  # no JetStream
            return False
        finally:
            await client.close()
        return True

    return _run(probe)


@functools.cache
def redis_available() -> bool:
    async def probe() -> bool:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=PROBE_TIMEOUT_S)
        try:
            return bool(await client.ping())
        except Exception:  # any failure means "not here"
            return False
        finally:
            await client.aclose()

    return _run(probe)


def _require(name: str, url: str, available: bool, variable: str) -> None:
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI=true but {name} at {_where(url)} is unreachable")
    pytest.skip(f"{name} not reachable at {_where(url)}; start it, set {variable}, or run in CI")


def require_rabbitmq() -> None:
    """Skip the calling test when RabbitMQ is unreachable; fail it instead under CI."""
    _require("RabbitMQ", AMQP_URL, rabbitmq_available(), "GATEWAY_TEST_AMQP_URL")


def require_nats() -> None:
    """Skip the calling test when NATS with JetStream is unreachable; fail it under CI."""
    _require("NATS (JetStream)", NATS_URL, nats_available(), "GATEWAY_TEST_NATS_URL")


def require_redis() -> None:
    """Skip the calling test when Redis is unreachable; fail it instead under CI."""
    _require("Redis", REDIS_URL, redis_available(), "GATEWAY_TEST_REDIS_URL")
