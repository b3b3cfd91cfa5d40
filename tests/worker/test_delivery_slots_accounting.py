"""The delivery slots' accounting: room per client and per destination, and each slot given
back once."""

from __future__ import annotations

import asyncio

from gateway.domain.fair_share import Rooms
from gateway.worker.delivery_slots import DeliverySlots


async def test_room_follows_what_is_out_and_each_slot_is_given_back_once() -> None:
    slots = DeliverySlots(capacity=4, client_share=2, per_destination=2)
    loop = asyncio.get_running_loop()
    tasks = [loop.create_future() for _ in range(3)]  # stand-ins: only their identity matters
    slots.claiming()
    slots.take(tasks[0], "cli_a", "https://a.test:443")  # type: ignore[arg-type]
    slots.take(tasks[1], "cli_a", "https://a.test:443")  # type: ignore[arg-type]
    slots.take(tasks[2], "cli_b", "https://b.test:443")  # type: ignore[arg-type]

    assert 1 == slots.free()
    assert (
        Rooms(
            per_client=2,
            per_destination=2,
            client_room={"cli_a": 0, "cli_b": 1},
            destination_room={"https://a.test:443": 0, "https://b.test:443": 1},
            client_destination_room={
                ("cli_a", "https://a.test:443"): 0,
                ("cli_b", "https://b.test:443"): 1,
            },
        )
        == slots.rooms()
    )
    assert not slots.freed_since_claim

    assert slots.give_back(tasks[0])  # type: ignore[arg-type]
    assert not slots.give_back(tasks[0])  # type: ignore[arg-type]

    assert 2 == slots.free()
    assert slots.freed_since_claim
    assert {"cli_a": 1, "cli_b": 1} == slots.rooms().client_room
    assert {"https://a.test:443": 1, "https://b.test:443": 1} == slots.rooms().destination_room
    assert {
        ("cli_a", "https://a.test:443"): 1,
        ("cli_b", "https://b.test:443"): 1,
    } == slots.rooms().client_destination_room
