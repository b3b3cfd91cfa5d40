"""Picking deliveries within each client's share and each destination's cap, in due order."""

from __future__ import annotations

from gateway.domain.fair_share import Candidate, Rooms, destination, pick


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
