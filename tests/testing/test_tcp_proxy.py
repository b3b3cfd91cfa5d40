"""The fault-injecting TCP proxy, against an echo server on loopback: each fault does what it
says, on the bytes it says, and the proxy stops by itself."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from gateway.testing.tcp_proxy import FaultProxy
from gateway.testing.waiting import wait_for_async


@dataclass
class Echo:
    """Echoes what it gets and keeps it; ``received[i]`` is the i-th connection's bytes."""

    port: int = 0
    received: list[bytearray] = field(default_factory=list)
    ended: int = 0  # connections that ended (EOF or reset)


@contextlib.asynccontextmanager
async def echo_server() -> AsyncIterator[Echo]:
    echo = Echo()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got = bytearray()
        echo.received.append(got)
        try:
            while data := await reader.read(65536):
                got += data
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            echo.ended += 1
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    echo.port = server.sockets[0].getsockname()[1]
    try:
        yield echo
    finally:
        server.close()
        await server.wait_closed()


async def read_until_closed(reader: asyncio.StreamReader) -> tuple[bytes, bool]:
    """Everything the client gets until the connection ends; and whether it ended by a reset."""
    got = bytearray()
    try:
        async with asyncio.timeout(5):
            while data := await reader.read(65536):
                got += data
    except ConnectionResetError:
        return bytes(got), True
    return bytes(got), False


async def test_pass_through_carries_bytes_both_ways_and_counts_them() -> None:
    async with echo_server() as echo, FaultProxy(("127.0.0.1", echo.port)) as proxy:
        reader, writer = await asyncio.open_connection(*proxy.address)
        writer.write(b"hello")
        answer = await asyncio.wait_for(reader.readexactly(5), 5)
        writer.close()

        assert b"hello" == answer
        assert {"upstream": 5, "downstream": 5} == proxy.bytes_forwarded
        assert 1 == proxy.connections_made


async def test_a_cut_upstream_passes_exactly_n_bytes_then_resets_once() -> None:
    async with echo_server() as echo, FaultProxy(("127.0.0.1", echo.port)) as proxy:
        reader, writer = await asyncio.open_connection(*proxy.address)
        writer.write(b"ab")  # before the rule: not counted
        assert b"ab" == await asyncio.wait_for(reader.readexactly(2), 5)
        proxy.cut_after(5, "upstream")

        writer.write(b"0123456789")
        _, reset = await read_until_closed(reader)  # (the echo of 01234 races the reset)
        await wait_for_async(lambda: echo.ended == 1, timeout_s=5, what="the server's side ends")

        assert (True, b"ab01234") == (reset, bytes(echo.received[0]))

        # The rule was for one connection: the next one goes through whole.
        reader, writer = await asyncio.open_connection(*proxy.address)
        writer.write(b"0123456789")
        assert b"0123456789" == await asyncio.wait_for(reader.readexactly(10), 5)
        writer.close()


async def test_a_cut_downstream_of_zero_lets_the_request_in_and_loses_the_answer() -> None:
    """As a broker that stored a message and whose confirm never came back."""
    async with echo_server() as echo, FaultProxy(("127.0.0.1", echo.port)) as proxy:
        proxy.cut_after(0, "downstream")
        reader, writer = await asyncio.open_connection(*proxy.address)
        writer.write(b"publish")

        got, reset = await read_until_closed(reader)
        await wait_for_async(lambda: echo.ended == 1, timeout_s=5, what="the server's side ends")

        assert (b"", True) == (got, reset)
        assert b"publish" == bytes(echo.received[0])


async def test_a_cut_applies_to_as_many_connections_as_asked() -> None:
    async with echo_server() as echo, FaultProxy(("127.0.0.1", echo.port)) as proxy:

        async def echoed() -> bool:
            reader, writer = await asyncio.open_connection(*proxy.address)
            writer.write(b"x")
            try:
                return b"x" == await asyncio.wait_for(reader.readexactly(1), 5)
            except (asyncio.IncompleteReadError, ConnectionResetError):
                return False
            finally:
                writer.close()

        proxy.cut_after(0, "downstream", times=2)
        outcomes = [await echoed() for _ in range(3)]

        assert [False, False, True] == outcomes


async def test_a_delay_holds_each_chunk_back() -> None:
    """The echo is not there before the delay, and is there after it (timers fire in order on
    one loop, so this holds on a slow machine too)."""
    async with echo_server() as echo, FaultProxy(("127.0.0.1", echo.port)) as proxy:
        proxy.delay(0.3, "downstream")
        reader, writer = await asyncio.open_connection(*proxy.address)
        writer.write(b"slow")

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.readexactly(4), 0.05)
        # readexactly cancelled mid-way keeps nothing it read; nothing had come, so nothing lost
        assert b"slow" == await asyncio.wait_for(reader.readexactly(4), 5)
        writer.close()


async def test_a_black_hole_accepts_and_forwards_nothing() -> None:
    async with echo_server() as echo, FaultProxy(("127.0.0.1", echo.port)) as proxy:
        proxy.black_hole()
        reader, writer = await asyncio.open_connection(*proxy.address)
        writer.write(b"anyone?")

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.2)
        writer.close()

        assert (1, [], 0) == (
            proxy.connections_made,
            echo.received,
            proxy.bytes_forwarded["upstream"],
        )


async def test_a_black_hole_swallows_an_open_connection_too() -> None:
    async with echo_server() as echo, FaultProxy(("127.0.0.1", echo.port)) as proxy:
        reader, writer = await asyncio.open_connection(*proxy.address)
        writer.write(b"a")
        assert b"a" == await asyncio.wait_for(reader.readexactly(1), 5)
        proxy.black_hole()
        writer.write(b"b")

        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.2)
        writer.close()

        assert b"a" == bytes(echo.received[0])


async def test_refuse_resets_new_connections() -> None:
    async with echo_server() as echo, FaultProxy(("127.0.0.1", echo.port)) as proxy:
        proxy.refuse()
        reader, writer = await asyncio.open_connection(*proxy.address)
        writer.write(b"x")

        got, _ = await read_until_closed(reader)

        assert (b"", []) == (got, echo.received)


async def test_drop_all_resets_every_open_connection_and_new_ones_go_through() -> None:
    async with echo_server() as echo, FaultProxy(("127.0.0.1", echo.port)) as proxy:
        clients = [await asyncio.open_connection(*proxy.address) for _ in range(3)]
        for reader, writer in clients:
            writer.write(b"x")
            await asyncio.wait_for(reader.readexactly(1), 5)

        dropped = await proxy.drop_all()
        ends = [await read_until_closed(reader) for reader, _ in clients]

        assert (3, [(b"", True)] * 3) == (dropped, ends)
        reader, writer = await asyncio.open_connection(*proxy.address)
        writer.write(b"y")
        assert b"y" == await asyncio.wait_for(reader.readexactly(1), 5)
        writer.close()


async def test_pass_through_clears_the_faults() -> None:
    async with echo_server() as echo, FaultProxy(("127.0.0.1", echo.port)) as proxy:
        proxy.black_hole()
        proxy.cut_after(0, "upstream")
        proxy.pass_through()
        reader, writer = await asyncio.open_connection(*proxy.address)
        writer.write(b"ok")

        assert b"ok" == await asyncio.wait_for(reader.readexactly(2), 5)
        writer.close()


async def test_an_unreachable_upstream_resets_the_client() -> None:
    async with echo_server() as echo:
        port = echo.port
    async with FaultProxy(("127.0.0.1", port)) as proxy:  # nothing listens there any more
        reader, _writer = await asyncio.open_connection(*proxy.address)

        got, _ = await read_until_closed(reader)

        assert b"" == got


async def test_it_stops_listening_on_exit_and_after_its_lifetime() -> None:
    async with echo_server() as echo:
        async with FaultProxy(("127.0.0.1", echo.port)) as proxy:
            address = proxy.address
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(*address)

        async with FaultProxy(("127.0.0.1", echo.port), lifetime_s=0.05) as short:
            await wait_for_async(lambda: not short.listening, timeout_s=5, what="self-close")
            with pytest.raises(ConnectionRefusedError):
                await asyncio.open_connection(*short.address)


@pytest.mark.parametrize(
    ("upstream", "host"),
    [(("10.0.0.1", 5672), "127.0.0.1"), (("127.0.0.1", 5672), "0.0.0.0")],  # noqa: S104 (refused, never bound)
)
def test_loopback_only(upstream: tuple[str, int], host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy(upstream, host=host)


def test_bounds_on_faults() -> None:
    proxy = FaultProxy(("127.0.0.1", 1))
    with pytest.raises(ValueError, match="a delay is 0 to 60 seconds"):
        proxy.delay(61)
    with pytest.raises(ValueError, match="nbytes"):
        proxy.cut_after(-1, "upstream")
