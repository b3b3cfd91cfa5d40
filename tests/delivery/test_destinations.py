"""One send for every destination: routed by scheme, refused before any connection when the
target is invalid, holds credentials, or is outside the client's broker allow-list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from gateway.delivery.brokers.common import BrokerMessage
from gateway.delivery.destinations import DestinationSender
from gateway.domain.broker_allowlist import parse_allowlist
from gateway.domain.broker_targets import BrokerCredentials, BrokerKind, BrokerTarget
from gateway.domain.delivery import AttemptResult

HEADERS = {"webhook-id": "msg_1", "webhook-timestamp": "1", "webhook-signature": "v1,x"}
ALLOWED = parse_allowlist(
    [
        "amqp://10.0.0.5:5672/%2F?exchange=orders-*",
        "nats://10.0.0.6?subject=video.*",
        "redis://10.0.0.7/0?stream=video",
    ]
)
OK = AttemptResult(status_code=None, latency_ms=1.0, acknowledged=True)


@dataclass
class Recorder:
    """An HTTP sender or a publisher that records what it was given."""

    calls: list[tuple[object, ...]] = field(default_factory=list)
    closed: bool = False

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:
        self.calls.append((url, body, dict(headers)))
        return AttemptResult(status_code=204, latency_ms=1.0)

    async def publish(
        self, target: BrokerTarget, credentials: BrokerCredentials | None, message: BrokerMessage
    ) -> AttemptResult:
        self.calls.append((target, credentials, message))
        return OK

    async def aclose(self) -> None:
        self.closed = True


def sender() -> tuple[DestinationSender, Recorder, dict[BrokerKind, Recorder]]:
    http = Recorder()
    publishers = {kind: Recorder() for kind in BrokerKind}
    return DestinationSender(http, publishers), http, publishers


async def test_http_goes_to_the_webhook_sender() -> None:
    destinations, http, publishers = sender()

    result = await destinations.send("https://a.test/hook", b"{}", HEADERS, dedupe_id="msg_1")

    assert (204, [("https://a.test/hook", b"{}", HEADERS)]) == (result.status_code, http.calls)
    assert [] == [call for p in publishers.values() for call in p.calls]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("amqp://10.0.0.5/%2F?exchange=orders-eu&routing_key=k", BrokerKind.AMQP),
        ("nats://10.0.0.6?subject=video.done", BrokerKind.NATS),
        ("redis://10.0.0.7/0?stream=video", BrokerKind.REDIS),
    ],
)
async def test_each_broker_kind_goes_to_its_publisher_with_credentials_and_dedupe_id(
    url: str, kind: BrokerKind
) -> None:
    destinations, http, publishers = sender()
    credentials = BrokerCredentials("app", "pw")

    result = await destinations.send(
        url,
        b"{}",
        HEADERS,
        credentials=credentials,
        broker_allowlist=ALLOWED,
        dedupe_id="redelivery_7",
    )

    [(target, given, message)] = publishers[kind].calls
    assert (True, [], credentials) == (result.succeeded, http.calls, given)
    assert BrokerMessage(b"{}", HEADERS, "redelivery_7") == message
    assert kind == target.kind  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "url",
    [
        "amqp://10.0.0.5/%2F?exchange=payments",  # another exchange on an allowed broker
        "amqp://10.0.0.5/other?exchange=orders-eu",  # another virtual host
        "nats://10.0.0.6:4223?subject=video.done",  # another port
        "redis://10.0.0.7/1?stream=video",  # another database
        "redis://10.0.0.8/0?stream=video",  # another broker
    ],
)
async def test_a_target_outside_the_allow_list_is_refused_before_connecting(url: str) -> None:
    destinations, _, publishers = sender()

    result = await destinations.send(
        url, b"{}", HEADERS, broker_allowlist=ALLOWED, dedupe_id="msg_1"
    )

    assert ("blocked_address", False) == (result.error, result.succeeded)
    assert "allow-list does not name" in result.response_excerpt
    assert [] == [call for p in publishers.values() for call in p.calls]


async def test_without_an_allow_list_no_broker_is_reachable() -> None:
    destinations, _, publishers = sender()

    result = await destinations.send(
        "nats://10.0.0.6?subject=video.done", b"{}", HEADERS, dedupe_id="msg_1"
    )

    assert "blocked_address" == result.error
    assert [] == publishers[BrokerKind.NATS].calls


@pytest.mark.parametrize(
    ("url", "credentials", "why"),
    [
        ("nats://10.0.0.6?subject=video.*", None, "not a valid broker target"),
        ("nats://u:pw@10.0.0.6?subject=video.x", None, "holds credentials"),
        ("https://a.test/hook", BrokerCredentials("u", "pw"), "for broker targets only"),
    ],
)
async def test_invalid_targets_are_refused_for_good(
    url: str, credentials: BrokerCredentials | None, why: str
) -> None:
    destinations, http, publishers = sender()

    result = await destinations.send(
        url, b"{}", HEADERS, credentials=credentials, broker_allowlist=ALLOWED, dedupe_id="m"
    )

    assert "invalid_target" == result.error
    assert why in result.response_excerpt
    assert "pw" not in result.response_excerpt
    assert [] == http.calls + [call for p in publishers.values() for call in p.calls]


async def test_aclose_closes_everything() -> None:
    destinations, http, publishers = sender()

    await destinations.aclose()

    assert [True] * 4 == [http.closed] + [p.closed for p in publishers.values()]
