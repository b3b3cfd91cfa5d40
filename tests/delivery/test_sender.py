"""The webhook sender over real loopback sockets: what reaches the receiver, what the attempt
records, and that no receiver can hold it past its time or memory bounds or steer it to a
forbidden address."""

from __future__ import annotations

import asyncio
import gzip
import shutil
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from gateway.delivery.guard import AddressGuard
from gateway.delivery.sender import USER_AGENT, WebhookSender
from gateway.delivery.transport import GuardedTransport
from gateway.domain.addresses import Allowlist
from gateway.domain.delivery import AttemptResult
from gateway.domain.retry import parse_retry_after
from tests.delivery.receiver import (
    Receiver,
    Respond,
    ScriptedResolver,
    answer,
    response_head,
    self_signed,
)

BODY = b'{"type": "video.generation.completed", "data": {"id": "job_1", "n": 1.50}}'
HEADERS = {
    "content-type": "application/json",
    "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
    "webhook-timestamp": "1614265330",
    "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
}
LOOPBACK = Allowlist.parse("127.0.0.1/32")
BOUND_S = 5.0  # no single send may take longer than this, whatever the receiver does

StartReceiver = Callable[[Respond], Awaitable[Receiver]]


@pytest.fixture
async def start_receiver() -> AsyncIterator[StartReceiver]:
    started: list[Receiver] = []

    async def start(respond: Respond) -> Receiver:
        receiver = await Receiver(respond).start()
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        await receiver.close()


@pytest.fixture
async def sender() -> AsyncIterator[WebhookSender]:
    webhook_sender = WebhookSender(AddressGuard(LOOPBACK), timeout_s=2.0, max_response_bytes=1000)
    yield webhook_sender
    await webhook_sender.aclose()


async def send(sender: WebhookSender, url: str) -> AttemptResult:
    return await asyncio.wait_for(sender.send(url, BODY, HEADERS), timeout=BOUND_S)


async def test_2xx_is_delivered_with_the_exact_body_and_headers(
    start_receiver: StartReceiver,
) -> None:
    """The receiver gets the body bytes and signature headers untouched; latency uses the clock."""
    receiver = await start_receiver(answer(204))
    ticks = iter([100.0, 100.25])
    sender = WebhookSender(AddressGuard(LOOPBACK), clock=lambda: next(ticks))
    try:
        result = await send(sender, receiver.url(path="/hook?tenant=a"))
    finally:
        await sender.aclose()
    assert AttemptResult(status_code=204, latency_ms=250.0) == result
    assert result.succeeded
    [seen] = receiver.requests
    assert ("POST", "/hook?tenant=a", BODY) == (seen.method, seen.target, seen.body)
    assert HEADERS.items() <= seen.headers.items()
    assert USER_AGENT == seen.headers["user-agent"]
    assert str(len(BODY)) == seen.headers["content-length"]


@pytest.mark.parametrize("status", [500, 410, 404])
async def test_error_statuses_are_recorded_with_the_body(
    sender: WebhookSender, start_receiver: StartReceiver, status: int
) -> None:
    """A non-2xx answer is recorded with its status and the start of its body."""
    receiver = await start_receiver(answer(status, b'{"error": "nope \xff"}'))
    result = await send(sender, receiver.url())
    assert (status, None, '{"error": "nope \ufffd"}') == (
        result.status_code,
        result.error,
        result.response_excerpt,
    )
    assert not result.succeeded


@pytest.mark.parametrize(
    ("value", "expected"), [("120", 120.0), ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0)]
)
async def test_429_carries_retry_after(
    start_receiver: StartReceiver, value: str, expected: float
) -> None:
    """Retry-After in seconds or as an HTTP-date becomes ``retry_after_s``."""
    receiver = await start_receiver(answer(429, b"slow down", [("retry-after", value)]))
    sender = WebhookSender(AddressGuard(LOOPBACK), wall_clock=lambda: 1445412480.0)
    try:
        result = await send(sender, receiver.url())
    finally:
        await sender.aclose()
    assert (429, expected, "slow down") == (
        result.status_code,
        result.retry_after_s,
        result.response_excerpt,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (" 7 ", 7.0),
        ("-5", None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),  # in the past
        ("Wed, 21 Oct 2015 07:28:00 -0000", None),  # not an HTTP-date
    ],
)
def test_retry_after_parsing(value: str | None, expected: float | None) -> None:
    """Only delay-seconds and HTTP-dates are read; a past date means now; junk means nothing."""
    assert expected == parse_retry_after(value, 1445412500.0)


async def test_redirect_to_metadata_is_not_followed(
    start_receiver: StartReceiver,
) -> None:
    """A 302 to 169.254.169.254 is a failed attempt; nothing is fetched from the new place."""
    location = "http://169.254.169.254/latest/meta-data/iam"
    receiver = await start_receiver(answer(302, headers=[("location", location)]))
    resolver = ScriptedResolver({"receiver.test": [["127.0.0.1"]]})
    sender = WebhookSender(AddressGuard(LOOPBACK, resolver))
    try:
        result = await send(sender, receiver.url(host="receiver.test"))
    finally:
        await sender.aclose()
    assert (302, "redirect") == (result.status_code, result.error)
    assert f"redirect to {location} not followed" == result.response_excerpt
    assert (1, 1, ["receiver.test"]) == (
        receiver.connections,
        len(receiver.requests),
        resolver.calls,
    )


async def test_connection_refused_is_a_connect_error(sender: WebhookSender) -> None:
    """A closed port gives ``connect_error`` with ``connect_failed`` set, and no status."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = await send(sender, f"http://127.0.0.1:{port}/hook")
    assert (None, "connect_error", True) == (
        result.status_code,
        result.error,
        result.connect_failed,
    )


async def test_a_receiver_that_never_answers_times_out(start_receiver: StartReceiver) -> None:
    """A silent receiver ends the attempt at ``timeout_s`` with ``timeout``."""

    async def silent(writer: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()

    receiver = await start_receiver(silent)
    sender = WebhookSender(AddressGuard(LOOPBACK), timeout_s=0.3)
    try:
        result = await send(sender, receiver.url())
    finally:
        await sender.aclose()
    assert (None, "timeout", False) == (result.status_code, result.error, result.connect_failed)
    assert 300 <= result.latency_ms < 3000
    assert 1 == len(receiver.requests)


async def test_a_trickling_receiver_is_cut_at_the_total_timeout(
    start_receiver: StartReceiver,
) -> None:
    """Bytes arriving just often enough to beat every read timeout still end at ``timeout_s``."""

    async def trickle(writer: asyncio.StreamWriter) -> None:
        writer.write(response_head(200, [("content-length", "1000000")]))
        while not writer.is_closing():
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.02)  # the receiver's pace, not the test waiting

    receiver = await start_receiver(trickle)
    sender = WebhookSender(AddressGuard(LOOPBACK), timeout_s=0.3)
    try:
        result = await send(sender, receiver.url())
    finally:
        await sender.aclose()
    assert (200, "timeout") == (result.status_code, result.error)
    assert 300 <= result.latency_ms < 3000
    assert set(result.response_excerpt) <= {"x"}


async def test_a_huge_body_is_read_only_up_to_the_limit(
    sender: WebhookSender, start_receiver: StartReceiver
) -> None:
    """Of a 8 MB answer only ``max_response_bytes`` are read; the attempt still succeeds."""
    receiver = await start_receiver(answer(200, b"a" * 8_000_000))
    result = await send(sender, receiver.url())
    assert (200, None, "a" * 1000) == (
        result.status_code,
        result.error,
        result.response_excerpt,
    )


async def test_a_body_that_never_ends_is_cut_at_the_limit(
    sender: WebhookSender, start_receiver: StartReceiver
) -> None:
    """An endless chunked answer is cut at ``max_response_bytes`` and the attempt finishes."""

    async def endless(writer: asyncio.StreamWriter) -> None:
        writer.write(response_head(200, [("transfer-encoding", "chunked")]))
        chunk = b"b" * 4096
        while True:
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            await writer.drain()

    receiver = await start_receiver(endless)
    result = await send(sender, receiver.url())
    assert (200, None, "b" * 1000) == (
        result.status_code,
        result.error,
        result.response_excerpt,
    )


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", _raw_deflate)],
)
async def test_compressed_bodies_are_counted_after_decompression(
    sender: WebhookSender,
    start_receiver: StartReceiver,
    encoding: str,
    pack: Callable[[bytes], bytes],
) -> None:
    """A small compressed answer that expands to 20 MB yields exactly the limit, decoded."""
    bomb = pack(b"z" * 20_000_000)
    receiver = await start_receiver(answer(200, bomb, [("content-encoding", encoding)]))
    result = await send(sender, receiver.url())
    assert (200, "z" * 1000) == (result.status_code, result.response_excerpt)


async def test_an_unknown_encoding_is_not_shown(
    sender: WebhookSender, start_receiver: StartReceiver
) -> None:
    """A body in an encoding the sender does not undo is noted, not shown as garbage."""
    receiver = await start_receiver(answer(500, b"\x1b\x00\x00", [("content-encoding", "br")]))
    result = await send(sender, receiver.url())
    assert (500, "br-encoded body not shown") == (result.status_code, result.response_excerpt)


async def test_a_reset_mid_answer_is_a_short_error_name(
    sender: WebhookSender, start_receiver: StartReceiver
) -> None:
    """A connection dropped in the middle of the status line is an error, never a raise."""

    async def reset(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 20")
        await writer.drain()
        writer.transport.abort()

    receiver = await start_receiver(reset)
    result = await send(sender, receiver.url())
    assert None is result.status_code
    assert result.error in {"remote_protocol_error", "read_error"}


async def test_dns_rebinding_is_refused_at_connect_time(start_receiver: StartReceiver) -> None:
    """A name public at intake and 127.0.0.1 at connect time is refused; no connection is made."""
    receiver = await start_receiver(answer(200))
    resolver = ScriptedResolver({"rebind.test": [["93.184.216.34"], ["127.0.0.1"]]})
    guard = AddressGuard(Allowlist(), resolver)
    url = receiver.url(host="rebind.test")
    await guard.check_url(url)  # intake: public, accepted
    sender = WebhookSender(guard)
    try:
        result = await send(sender, url)
    finally:
        await sender.aclose()
    assert (None, "blocked_address", False) == (
        result.status_code,
        result.error,
        result.connect_failed,
    )
    assert "rebind.test → 127.0.0.1 is loopback" in result.response_excerpt
    assert (0, []) == (receiver.connections, receiver.requests)


@pytest.mark.parametrize("host", ["127.0.0.1", "2130706433", "localhost"])
async def test_without_the_allowlist_loopback_is_refused(
    start_receiver: StartReceiver, host: str
) -> None:
    """With no allow-list a loopback URL is refused and the receiver sees nothing."""
    receiver = await start_receiver(answer(200))
    sender = WebhookSender(AddressGuard())
    try:
        result = await send(sender, receiver.url(host=host))
    finally:
        await sender.aclose()
    assert (None, "blocked_address") == (result.status_code, result.error)
    assert result.response_excerpt
    assert 0 == receiver.connections


async def test_a_name_that_stops_resolving_is_a_dns_error() -> None:
    """No address at connect time is worth retrying later: ``dns_error``, not a refusal."""
    sender = WebhookSender(AddressGuard(Allowlist(), ScriptedResolver({})))
    try:
        result = await send(sender, "https://gone.example.com/hook")
    finally:
        await sender.aclose()
    assert (None, "dns_error", True) == (result.status_code, result.error, result.connect_failed)
    assert "'gone.example.com' does not resolve" in result.response_excerpt


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http://user:pw@127.0.0.1/x", "nonsense"])
async def test_urls_the_sender_will_not_call(sender: WebhookSender, url: str) -> None:
    """A URL outside the rules is refused up front, with the reason."""
    result = await send(sender, url)
    assert (None, "blocked_address") == (result.status_code, result.error)
    assert result.response_excerpt


async def test_environment_proxies_are_ignored(
    start_receiver: StartReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy in the environment would connect past the guard: the sender never uses one."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    receiver = await start_receiver(answer(200, b"direct"))
    sender = WebhookSender(AddressGuard(LOOPBACK))
    try:
        result = await send(sender, receiver.url())
    finally:
        await sender.aclose()
    assert (200, "direct") == (result.status_code, result.response_excerpt)


# TLS: the connection goes to the checked IP literal, but SNI and the certificate check use the
# callback URL's host name.


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
@pytest.mark.parametrize(
    ("cert_name", "delivered"), [("receiver.test", True), ("other.test", False)]
)
async def test_tls_verifies_the_callback_host_name(
    tmp_path: Path, cert_name: str, delivered: bool
) -> None:
    """HTTPS to a checked address still verifies the certificate against the URL's name."""
    cert, key = self_signed(tmp_path, cert_name)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    receiver = await Receiver(answer(200, b"tls ok"), ssl_context=server_context).start()
    guard = AddressGuard(LOOPBACK, ScriptedResolver({"receiver.test": [["127.0.0.1"]]}))
    transport = GuardedTransport(
        guard,
        limits=httpx.Limits(max_connections=4),
        ssl_context=ssl.create_default_context(cafile=str(cert)),
    )
    sender = WebhookSender(guard, transport=transport)
    try:
        result = await send(sender, receiver.url(host="receiver.test", scheme="https"))
    finally:
        await sender.aclose()
        await receiver.close()
    if delivered:
        assert (200, None, "tls ok") == (
            result.status_code,
            result.error,
            result.response_excerpt,
        )
        assert BODY == receiver.requests[0].body
    else:
        assert (None, "connect_error") == (result.status_code, result.error)
        assert "CERTIFICATE_VERIFY_FAILED" in result.response_excerpt
        assert [] == receiver.requests


async def test_each_checked_address_is_tried_in_turn(start_receiver: StartReceiver) -> None:
    """When the first allowed address refuses, the next one the name resolved to is used."""
    receiver = await start_receiver(answer(200, b"second"))
    resolver = ScriptedResolver({"receiver.test": [["127.0.0.2", "127.0.0.1"]]})
    sender = WebhookSender(AddressGuard(Allowlist.parse("127.0.0.0/8"), resolver))
    try:
        result = await send(sender, receiver.url(host="receiver.test"))
    finally:
        await sender.aclose()
    assert (200, "second") == (result.status_code, result.response_excerpt)


async def test_a_header_that_cannot_be_sent_is_an_error_not_a_raise(
    sender: WebhookSender, start_receiver: StartReceiver
) -> None:
    """A bad header value (not ASCII) is recorded as ``invalid_request``; nothing is sent."""
    receiver = await start_receiver(answer(200))
    result = await asyncio.wait_for(
        sender.send(receiver.url(), BODY, {**HEADERS, "x-note": "café"}), timeout=BOUND_S
    )
    assert (None, "invalid_request") == (result.status_code, result.error)
    assert 0 == receiver.connections
