"""The upstream client on its real transport (aiohttp's pool behind httpx) over real sockets.

What a submission lives by: a failure after the POST was sent is an unknown outcome, never "not
sent, retry" (that would pay twice); only a connection never made is safe to retry. The mock's
``reset`` and ``truncated_json`` scenarios and a few raw loopback servers prove it here, each
counting what actually arrived.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import aclosing, asynccontextmanager
from typing import Any

import httpx
import pytest
from httpx_aiohttp import AiohttpTransport

from gateway.domain.upstream import FailureKind, Generation, UpstreamFailure
from gateway.pooled_transport import PooledTransport
from gateway.upstream.client import UpstreamClient
from mock_upstream.app import create_app
from mock_upstream.config import MockConfig
from mock_upstream.testing import Journal, MockServer, free_port

KEY = "sk-upstream-secret-0123456789"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def body(scenario: str = "ok") -> bytes:
    return (
        b'{"model":"alibaba/happyhorse-1-0","prompt":"a horse [mock:' + scenario.encode() + b']"}'
    )


@pytest.fixture
def mock() -> Iterator[tuple[MockServer, Journal]]:
    app = create_app(MockConfig.fast(expected_key=KEY, hang_s=1.0))
    with MockServer(app) as server:
        yield server, Journal(app)


@asynccontextmanager
async def raw_server(handle: Handler) -> AsyncIterator[str]:
    """A loopback server in the test's own loop that misbehaves the way ``handle`` says."""
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """The request head and its Content-Length body: everything the client sent."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return head + await reader.readexactly(length)


def drop_after_reading(received: list[bytes], *, reset: bool) -> Handler:
    """Read the whole request, then close (FIN) or reset (RST) without a byte of answer."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await read_request(reader))
        if reset:
            sock = writer.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.close()

    return handle


async def test_a_reset_after_the_post_is_unknown_and_the_generation_exists(
    mock: tuple[MockServer, Journal],
) -> None:
    """The mock's ``reset``: headers promise 4 KiB, a fragment arrives, the connection drops.
    The generation was created; the client says unknown and sent exactly one POST."""
    server, journal = mock
    async with aclosing(UpstreamClient(server.url, KEY)) as client:
        result = await client.submit(body("reset"), request_id="job_1.submit.1")
    assert isinstance(result, UpstreamFailure)
    assert (FailureKind.UNKNOWN, None) == (result.kind, result.status_code)
    submissions = journal.submissions()
    assert [("reset", True)] == [(s["status"], bool(s["generation_id"])) for s in submissions]
    assert KEY not in repr(result)


async def test_a_truncated_answer_to_the_post_is_unknown(mock: tuple[MockServer, Journal]) -> None:
    """The mock's ``truncated_json``: a 200 whose JSON stops half-way; the job exists."""
    server, journal = mock
    async with aclosing(UpstreamClient(server.url, KEY)) as client:
        result = await client.submit(body("truncated_json"), request_id="job_1.submit.1")
    assert isinstance(result, UpstreamFailure)
    assert (FailureKind.UNKNOWN, 200) == (result.kind, result.status_code)
    assert ["truncated_json"] == [s["status"] for s in journal.submissions()]


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
async def test_a_connection_lost_before_any_answer_is_unknown(reset: bool) -> None:
    """The server read the whole POST, then closed or reset the connection before a byte of
    answer. httpx-aiohttp alone reports this as ``httpx.ConnectTimeout`` ("nothing sent"); the
    gateway's transport must not, or the submission would be retried and paid twice."""
    received: list[bytes] = []
    async with (
        raw_server(drop_after_reading(received, reset=reset)) as url,
        aclosing(UpstreamClient(url, KEY)) as client,
    ):
        result = await client.submit(body(), request_id="job_1.submit.1")
    assert isinstance(result, UpstreamFailure)
    assert FailureKind.UNKNOWN == result.kind
    assert 1 == len(received)
    assert received[0].startswith(b"POST /v2/video/generations ")
    assert received[0].endswith(body())


@pytest.mark.parametrize("reset", [False, True], ids=["closed", "reset"])
async def test_the_library_alone_would_call_it_a_connect_error(reset: bool) -> None:
    """Why the gateway wraps httpx-aiohttp: the same fault through the bare library comes out
    as a connect error. Should a release fix that, this test says the wrapper may go."""
    received: list[bytes] = []
    async with (
        raw_server(drop_after_reading(received, reset=reset)) as url,
        httpx.AsyncClient(transport=AiohttpTransport()) as http,
    ):
        with pytest.raises(httpx.TransportError) as raised:
            await http.post(f"{url}/v2/video/generations", content=body())
    assert isinstance(raised.value, httpx.ConnectError | httpx.ConnectTimeout)
    assert 1 == len(received)


async def test_a_refused_connection_is_safe_to_retry() -> None:
    """Nothing listens: no byte was sent, so the submission may be tried again."""
    async with aclosing(UpstreamClient(f"http://127.0.0.1:{free_port()}", KEY)) as client:
        result = await client.submit(body(), request_id="job_1.submit.1")
    assert isinstance(result, UpstreamFailure)
    assert (FailureKind.RETRYABLE, "ConnectError talking to the upstream") == (
        result.kind,
        result.message,
    )


async def test_a_connect_timeout_is_safe_to_retry() -> None:
    """A listener whose backlog is full never completes the handshake: a connect timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(8):  # fill the accept queue (never accepted)
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            async with aclosing(
                UpstreamClient(f"http://127.0.0.1:{port}", KEY, connect_timeout_s=0.3)
            ) as client:
                result = await client.submit(body(), request_id="job_1.submit.1")
        finally:
            for filler in fillers:
                filler.close()
    assert isinstance(result, UpstreamFailure)
    assert (FailureKind.RETRYABLE, "ConnectTimeout talking to the upstream") == (
        result.kind,
        result.message,
    )


async def test_an_answer_that_never_comes_times_out_as_unknown(
    mock: tuple[MockServer, Journal],
) -> None:
    """The client's read timeout reaches the transport; a POST left hanging is unknown."""
    server, journal = mock
    async with aclosing(UpstreamClient(server.url, KEY, timeout_s=0.3)) as client:
        result = await client.submit(body("hang"), request_id="job_1.submit.1")
    assert isinstance(result, UpstreamFailure)
    assert (FailureKind.UNKNOWN, "ReadTimeout talking to the upstream") == (
        result.kind,
        result.message,
    )
    assert 1 == len(journal.submissions())


async def test_a_reset_poll_fails_once_and_the_pool_recovers(
    mock: tuple[MockServer, Journal],
) -> None:
    """``poll_reset_1``: the first GET is cut off (a failure value), the next one answers."""
    server, _ = mock
    async with aclosing(UpstreamClient(server.url, KEY)) as client:
        created = await client.submit(body("poll_reset_1"), request_id="job_1.submit.1")
        assert isinstance(created, Generation)
        first = await client.fetch(created.id, request_id="job_1.poll.1")
        second = await client.fetch(created.id, request_id="job_1.poll.2")
    assert isinstance(first, UpstreamFailure)
    assert FailureKind.UNKNOWN == first.kind
    assert isinstance(second, Generation)
    assert created.id == second.id


async def test_sends_the_key_the_request_id_and_the_body_unchanged(
    mock: tuple[MockServer, Journal],
) -> None:
    """Over the real transport the mock sees what httpx built: headers, query, exact body."""
    server, journal = mock
    async with aclosing(UpstreamClient(server.url, KEY, user_agent="gw-test/1")) as client:
        created = await client.submit(body(), request_id="job_1.submit.1")
        assert isinstance(created, Generation)
        polled = await client.fetch(created.id, request_id="job_1.poll.1")
    assert isinstance(polled, Generation)
    post, get = journal.entries()
    assert ("job_1.submit.1", "gw-test/1", "application/json") == (
        post["headers"]["x-client-request-id"],
        post["headers"]["user-agent"],
        post["headers"]["content-type"],
    )
    assert {"model": "alibaba/happyhorse-1-0", "prompt": "a horse [mock:ok]"} == post["body"]
    assert (created.id, "job_1.poll.1", 200) == (
        get["generation_id"],
        get["headers"]["x-client-request-id"],
        get["status"],
    )
    assert KEY not in repr(journal.entries())  # the mock redacts it; the client sent it


def counting_responder(accepted: list[int]) -> Handler:
    """Answer every request on a connection with a queued generation; count connections."""
    answer = b'{"id":"gen_1","status":"queued"}'
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        try:
            while True:
                await read_request(reader)
                writer.write(head % len(answer) + answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    return handle


@pytest.mark.parametrize("max_connections", [2, 8])
async def test_the_pool_never_opens_more_than_max_connections(max_connections: int) -> None:
    """GATEWAY_MAX_CONCURRENCY reaches the pool (httpx's own ``limits`` would not reach a
    transport): 16 polls at once open at most ``max_connections`` connections, and with room
    for more they do open more than two (so the bound is what holds them back)."""
    accepted: list[int] = []
    async with (
        raw_server(counting_responder(accepted)) as url,
        aclosing(UpstreamClient(url, KEY, max_connections=max_connections)) as client,
    ):
        results = await asyncio.gather(
            *(client.fetch("gen_1", request_id=f"r{i}") for i in range(16))
        )
    assert all(isinstance(r, Generation) for r in results)
    if max_connections == 2:
        assert 0 < len(accepted) <= 2
    else:
        assert 2 < len(accepted) <= 8


def test_the_transport_refuses_an_empty_pool() -> None:
    with pytest.raises(ValueError, match="max_connections"):
        PooledTransport(max_connections=0)


async def test_repr_never_shows_the_key() -> None:
    client = UpstreamClient("http://127.0.0.1:9", KEY)
    shown: Any = (repr(client), str(client))
    await client.aclose()
    assert all(KEY not in text for text in shown)
