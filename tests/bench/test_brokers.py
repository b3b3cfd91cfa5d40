"""The broker benchmark measures what it says: both sides publish every message and get it
confirmed (a side that published nothing would still print a rate)."""

from __future__ import annotations

import pytest

from bench.brokers import run
from tests.brokers import require_nats, require_rabbitmq, require_redis

pytestmark = pytest.mark.brokers


async def test_a_small_run_confirms_every_message_on_every_broker() -> None:
    require_rabbitmq()
    require_nats()
    require_redis()

    rows = await run(count=20, concurrency=4, rounds=1)

    assert 6 == len(rows)
    assert ["RabbitMQ", "RabbitMQ", "NATS", "NATS", "Redis", "Redis"] == [
        str(row[0]).split(" ")[0] for row in rows
    ]
    assert [] == [row for row in rows if "not confirmed" in str(row[1])]
    assert all(float(str(row[2]).replace(",", "")) > 0 for row in rows)
