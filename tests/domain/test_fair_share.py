"""Picking deliveries within each client's share and each destination's cap, in due order."""

from __future__ import annotations

import pytest

from gateway.domain.fair_share import (
    Candidate,
    HostLimits,
    InvalidHostLimit,
    Rooms,
    destination,
    pick,
)


def candidates(*rows: tuple[str, str]) -> list[Candidate]:
    return [Candidate(f"d{n}", client, url) for n, (client, url) in enumerate(rows)]


def test_picks_in_order_within_the_share_and_the_cap() -> None:
    due = candidates(
        ("a", "https://x.test/1"),
        ("a", "https://x.test/2"),  # same destination as the first: the cap of 2 is reached
        ("a", "https://x.test/3"),  # held back by the cap
        ("a", "https://y.test/1"),  # held back by A's share of 2
        ("b", "https://y.test/1"),
    )

    picked = pick(due, 10, Rooms(per_client=2, per_destination=2))

    assert ["d0", "d1", "d4"] == picked.ids
    assert (True, False) == (picked.held_back, picked.filled)  # the rooms, not the limit


def test_rooms_of_what_is_out_count_and_others_get_the_defaults() -> None:
    due = candidates(("a", "https://x.test/"), ("b", "https://x.test/"), ("c", "http://x.test/"))
    rooms = Rooms(
        per_client=5,
        per_destination=5,
        client_room={"a": 0},
        destination_room={"https://x.test:443": 1},
    )

    picked = pick(due, 10, rooms)

    assert ["d1", "d2"] == picked.ids  # http://x.test:80 is another destination


def test_the_limit_holds_back_the_rest_and_taking_all_holds_back_nothing() -> None:
    due = candidates(("a", "https://x.test/"), ("b", "https://y.test/"), ("c", "https://z.test/"))
    rooms = Rooms(per_client=1, per_destination=1)

    two, three, none = pick(due, 2, rooms), pick(due, 3, rooms), pick([], 3, rooms)

    assert (["d0", "d1"], True, True) == (two.ids, two.held_back, two.filled)
    assert (3, False, False) == (len(three.ids), three.held_back, three.filled)
    assert ([], False, False) == (none.ids, none.held_back, none.filled)


def test_a_destination_is_scheme_host_and_port() -> None:
    assert "https://a.test:443" == destination("https://A.test/hook?x=1")
    assert "http://a.test:8080" == destination("http://a.test:8080/")
    assert "http://a.test:80" == destination("http://a.test/")


def test_a_destinations_room_goes_to_the_client_with_the_fewest_out_there() -> None:
    """Two slots free at a shared host where B already has 2 out and A none: both go to A,
    although B's are due first; with A's taken, B gets the rest."""
    due = candidates(
        ("b", "https://hooks.test/b/1"),
        ("b", "https://hooks.test/b/2"),
        ("a", "https://hooks.test/a/1"),
        ("a", "https://hooks.test/a/2"),
        ("a", "https://hooks.test/a/3"),
    )
    target = destination("https://hooks.test/")
    rooms = Rooms(
        per_client=8,
        per_destination=4,
        destination_room={target: 2},
        client_destination_room={("b", target): 2},
    )

    assert ["d2", "d3"] == pick(due, 10, rooms).ids
    # Out: B 2, A 0 → A, then A 1 vs B 2 → A, then A 2 vs B 2: the earliest due, B.
    wider = Rooms(
        per_client=8,
        per_destination=8,
        destination_room={target: 3},
        client_destination_room={("b", target): 6},
    )
    assert ["d2", "d3", "d0"] == pick(due, 10, wider).ids


def test_a_client_keeps_one_slot_free_for_others_at_a_destination() -> None:
    """With a client's cap at one less than the destination's, a lone client takes 3 of 4, and
    a cap of 1 still lets one go."""
    due = candidates(*[("a", f"https://hooks.test/{n}") for n in range(6)])
    reserved = Rooms(per_client=8, per_destination=4, per_client_destination=0)
    assert 3 == len(pick(due, 10, reserved).ids)
    assert 1 == len(
        pick(due, 10, Rooms(per_client=8, per_destination=1, per_client_destination=0)).ids
    )
    assert 2 == len(
        pick(due, 10, Rooms(per_client=8, per_destination=4, per_client_destination=2)).ids
    )
    assert 4 == len(pick(due, 10, Rooms(per_client=8, per_destination=4)).ids)


def test_a_host_configured_apart_has_its_own_cap() -> None:
    """hooks.zapier.com=64: 64 at once there (every port), while another host keeps the default;
    host:port entries win over host entries."""
    limits = HostLimits.parse(["hooks.zapier.com=64", "api.test:8443=16", "API.test=2"])
    due = candidates(
        *[("a", f"https://hooks.zapier.com/{n}") for n in range(70)],
        *[("b", f"https://other.test/{n}") for n in range(10)],
    )
    picked = pick(due, 100, Rooms(per_client=100, per_destination=4, host_limits=limits))
    assert (64, 4) == (
        sum(1 for i in picked.ids if int(i[1:]) < 70),
        sum(1 for i in picked.ids if int(i[1:]) >= 70),
    )
    assert (16, 2, 2, None) == (
        limits.get("https://api.test:8443"),
        limits.get("https://api.test:443"),
        limits.get("http://api.test:80"),
        limits.get("https://zapier.com:443"),
    )


def test_host_limits_refuse_what_is_not_host_equals_a_number() -> None:
    for entry in ("hooks.zapier.com", "=4", "a.test=0", "a.test=x", "https://a.test=4"):
        with pytest.raises(InvalidHostLimit):
            HostLimits.parse([entry])


def test_a_broker_destination_has_its_scheme_s_default_port() -> None:
    """Each broker on its own port: two brokers on one host are two destinations."""
    assert [
        "amqp://10.0.0.5:5672",
        "amqps://10.0.0.5:5671",
        "nats://10.0.0.6:4222",
        "nats://10.0.0.6:4223",
        "redis://10.0.0.7:6379",
        "rediss://10.0.0.7:6379",
    ] == [
        destination("amqp://10.0.0.5/%2F?exchange=e"),
        destination("amqps://10.0.0.5?exchange=e"),
        destination("nats://10.0.0.6?subject=s"),
        destination("nats://10.0.0.6:4223?subject=s"),
        destination("redis://10.0.0.7/0?stream=s"),
        destination("rediss://10.0.0.7/0?stream=s"),
    ]
