"""Broker target URLs: parsed, checked, credentials split off; the allow-list; broker addresses."""

from __future__ import annotations

import ipaddress

import pytest

from gateway.domain.broker_allowlist import allows, parse_allow_entry, parse_allowlist
from gateway.domain.broker_targets import (
    BrokerCredentials,
    BrokerKind,
    BrokerTarget,
    BrokerTargetRejected,
    broker_address_refusal,
    display_url,
    is_broker_url,
    parse_target,
)


def test_an_amqp_target_with_credentials_is_split_and_shown_without_them() -> None:
    parsed = parse_target("amqp://app:s3cret@Rabbit.internal/orders?exchange=ex-1&routing_key=a.b")

    assert (
        BrokerTarget(
            scheme="amqp",
            host="rabbit.internal",
            port=5672,
            name="ex-1",
            vhost="orders",
            routing_key="a.b",
        ),
        BrokerCredentials("app", "s3cret"),
    ) == (parsed.target, parsed.credentials)
    assert "amqp://rabbit.internal:5672/orders?exchange=ex-1&routing_key=a.b" == parsed.target.url
    assert "amqp://app:***@rabbit.internal:5672/orders?exchange=ex-1&routing_key=a.b" == (
        display_url(parsed.target, parsed.credentials)
    )
    assert "s3cret" not in repr(parsed) + repr(parsed.credentials) + str(parsed.credentials)


@pytest.mark.parametrize(
    ("url", "vhost"),
    [
        ("amqp://h?exchange=e", "/"),
        ("amqp://h/?exchange=e", "/"),
        ("amqp://h/%2F?exchange=e", "/"),
        ("amqp://h/a%2Fb?exchange=e", "a/b"),
        ("amqp://h/caf%C3%A9?exchange=e", "café"),
    ],
)
def test_the_virtual_host_is_the_percent_decoded_path(url: str, vhost: str) -> None:
    assert vhost == parse_target(url).target.vhost


def test_default_ports_per_scheme_and_canonical_urls() -> None:
    urls = {
        "amqp://h?exchange=e": "amqp://h:5672/%2F?exchange=e",
        "amqps://h?exchange=e": "amqps://h:5671/%2F?exchange=e",
        "nats://h?subject=a.b": "nats://h:4222?subject=a.b",
        "redis://h?stream=s": "redis://h:6379/0?stream=s",
        "rediss://10.0.0.7/3?stream=s": "rediss://10.0.0.7:6379/3?stream=s",
        "nats://[::1]:4333?subject=x": "nats://[::1]:4333?subject=x",
    }

    assert urls == {url: parse_target(url).target.url for url in urls}
    assert urls == {url: parse_target(shown).target.url for url, shown in urls.items()}


def test_kinds_and_tls() -> None:
    kinds = [
        (parse_target(u).target.kind, parse_target(u).target.tls)
        for u in ("amqps://h?exchange=e", "nats://h?subject=s", "redis://h?stream=s")
    ]

    assert [(BrokerKind.AMQP, True), (BrokerKind.NATS, False), (BrokerKind.REDIS, False)] == kinds


@pytest.mark.parametrize(
    ("url", "credentials"),
    [
        ("nats://tok3n@h?subject=s", BrokerCredentials("tok3n", None)),
        ("redis://:pw@h?stream=s", BrokerCredentials(None, "pw")),
        ("redis://user:p%40ss%3Aw@h?stream=s", BrokerCredentials("user", "p@ss:w")),
        ("amqp://h?exchange=e", None),
    ],
)
def test_credentials_in_their_forms(url: str, credentials: BrokerCredentials | None) -> None:
    assert credentials == parse_target(url).credentials


def test_masked_credentials() -> None:
    assert ["u:***", "***", "***"] == [
        BrokerCredentials("u", "p").masked(),
        BrokerCredentials("token", None).masked(),
        BrokerCredentials(None, "p").masked(),
    ]


@pytest.mark.parametrize(
    ("url", "part"),
    [
        ("http://h/?exchange=e", "scheme"),
        ("kafka://h?topic=t", "scheme"),
        ("amqp://h", "exchange"),
        ("amqp://h?exchange=", "exchange"),
        ("amqp://h?exchange=a%20b", "exchange"),
        ("amqp://h?exchange=a*", "exchange"),
        ("amqp://h?exchange=" + "e" * 256, "exchange"),
        ("amqp://h?exchange=e&routing_key=" + "k" * 256, "routing_key"),
        ("amqp://h?exchange=e&routing_key=a%0Ab", "routing_key"),
        ("amqp://h/a/b?exchange=e", "vhost"),
        ("amqp://h/%FF?exchange=e", "vhost"),
        ("amqp://h?exchange=e&subject=s", "query"),
        ("amqp://h?exchange=e&exchange=f", "query"),
        ("nats://h?subject=a..b", "subject"),
        ("nats://h?subject=.a", "subject"),
        ("nats://h?subject=a.", "subject"),
        ("nats://h?subject=a.*", "subject"),
        ("nats://h?subject=a.>", "subject"),
        ("nats://h?subject=a%20b", "subject"),
        ("nats://h?subject=$JS.API.STREAM.DELETE.X", "subject"),
        ("nats://h?subject=_INBOX.abc", "subject"),
        ("nats://h/path?subject=s", "url"),
        ("redis://h/x?stream=s", "db"),
        ("redis://h/-1?stream=s", "db"),
        ("redis://h?stream=a%20b", "stream"),
        ("redis://h?stream=a*", "stream"),
        ("redis://h", "stream"),
        ("rediss://broker.internal?stream=s", "host"),
        ("redis://h:0?stream=s", "port"),
        ("redis://h:99999?stream=s", "port"),
        ("redis://h:port?stream=s", "port"),
        ("redis://?stream=s", "host"),
        ("redis://bad_host!?stream=s", "host"),
        ("redis://[fe80::1%25eth0]?stream=s", "host"),
        ("redis://h?stream=s#frag", "url"),
        ("redis://@h?stream=s", "credentials"),
        ("redis://h?stream=s&x", "query"),
    ],
)
def test_bad_targets_name_the_part_at_fault(url: str, part: str) -> None:
    with pytest.raises(BrokerTargetRejected) as caught:
        parse_target(url)

    assert part == caught.value.part
    assert isinstance(caught.value, ValueError)


def test_is_broker_url_looks_at_the_scheme_only() -> None:
    assert [True, True, False, False] == [
        is_broker_url("AMQP://h"),
        is_broker_url("rediss://x?stream=s"),
        is_broker_url("https://h/"),
        is_broker_url("nats"),
    ]


# --- the allow-list ---------------------------------------------------------------------------

ALLOWLIST = parse_allowlist(
    [
        "amqp://10.0.0.5:5672/%2F?exchange=orders-*",
        "nats://10.0.0.6:4222?subject=video.*",
        "redis://10.0.0.7:6379/0?stream=video-done",
    ]
)


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("amqp://10.0.0.5/%2F?exchange=orders-eu&routing_key=anything", True),
        ("amqp://u:p@10.0.0.5:5672?exchange=orders-", True),
        ("amqp://10.0.0.5/%2F?exchange=orders", False),  # the prefix is "orders-"
        ("amqp://10.0.0.5/other?exchange=orders-eu", False),  # another virtual host
        ("amqps://10.0.0.5:5672/%2F?exchange=orders-eu", False),  # another scheme
        ("amqp://10.0.0.5:5673/%2F?exchange=orders-eu", False),  # another port
        ("amqp://rabbit/%2F?exchange=orders-eu", False),  # a name is not the address
        ("nats://10.0.0.6?subject=video.done", True),
        ("nats://10.0.0.6?subject=video.a.b", True),  # a string prefix, not a one-token wildcard
        ("nats://10.0.0.6?subject=videos", False),
        ("nats://10.0.0.6?subject=audio.done", False),
        ("redis://10.0.0.7/0?stream=video-done", True),
        ("redis://10.0.0.7/0?stream=video-done2", False),  # exact name
        ("redis://10.0.0.7/1?stream=video-done", False),  # another database
    ],
)
def test_the_allow_list_matches_broker_place_and_name(url: str, allowed: bool) -> None:
    assert allowed == allows(ALLOWLIST, parse_target(url).target)


def test_an_empty_allow_list_allows_nothing_and_a_star_allows_every_name() -> None:
    target = parse_target("nats://10.0.0.6?subject=anything.at.all").target

    assert (False, True) == (
        allows(parse_allowlist([]), target),
        allows(parse_allowlist(["nats://10.0.0.6?subject=*"]), target),
    )


def test_allow_entries_round_trip_in_canonical_form() -> None:
    assert [
        "amqp://10.0.0.5:5672/%2F?exchange=orders-*",
        "nats://10.0.0.6:4222?subject=video.*",
        "redis://10.0.0.7:6379/0?stream=video-done",
    ] == ALLOWLIST.urls()
    assert ALLOWLIST == parse_allowlist(ALLOWLIST.urls() + ALLOWLIST.urls())  # duplicates once


@pytest.mark.parametrize(
    ("entry", "part"),
    [
        ("amqp://u:p@h?exchange=e*", "credentials"),
        ("amqp://h?exchange=e*&routing_key=k", "routing_key"),
        ("nats://h", "subject"),
        ("nats://h?subject=a*b*", "subject"),
        ("nats://h?subject=$SYS.*", "subject"),
        ("redis://h?stream=*x", "stream"),
        ("https://h/", "scheme"),
    ],
)
def test_bad_allow_entries_name_the_entry_and_part(entry: str, part: str) -> None:
    with pytest.raises(BrokerTargetRejected) as caught:
        parse_allowlist(["nats://h?subject=fine", entry])

    assert (1, part) == (caught.value.index, caught.value.part)
    assert str(caught.value).startswith(f"entry 1, {part}: ")


def test_a_prefix_entry_may_end_in_a_dot() -> None:
    assert parse_allow_entry("nats://h?subject=video.*").allows(
        parse_target("nats://h?subject=video.x").target
    )


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("10.0.0.5", None),
        ("127.0.0.1", None),
        ("::1", None),
        ("0.0.0.0", "unspecified"),  # noqa: S104 (an address judged, nothing bound)
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("255.255.255.255", "broadcast"),
        ("::ffff:0.0.0.0", "unspecified (inside ::ffff:0:0)"),
    ],
)
def test_addresses_no_broker_can_have(address: str, reason: str | None) -> None:
    assert reason == broker_address_refusal(ipaddress.ip_address(address))
