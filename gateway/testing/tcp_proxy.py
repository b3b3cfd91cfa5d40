"""A fault-injecting TCP proxy on loopback, for tests and benchmarks: put it between a client and
a server (a broker, a receiver) and break the path on purpose.

::

    async with FaultProxy(("127.0.0.1", 5672)) as proxy:  # listens on 127.0.0.1:<proxy.port>
        ...                                # pass-through: bytes go both ways unchanged
        proxy.cut_after(0, "downstream")   # the next bytes from the server: none get through,
                                           # the connection is reset (a confirm lost on its way)
        proxy.cut_after(100, "upstream")   # the client's next 100 bytes pass, then a reset
        proxy.delay(0.2, "downstream")     # each chunk from the server waits 0.2 s
        proxy.black_hole()                 # connections are accepted and nothing is forwarded
        proxy.refuse()                     # new connections are reset at once
        await proxy.drop_all()             # reset every open connection now
        proxy.pass_through()               # faults off

"upstream" is client → server, "downstream" server → client. A cut counts bytes per connection
from the moment the rule is set, forwards exactly the bytes allowed, then resets both sides (an
RST, as a crashed peer or a dropped link looks); it applies to ``times`` connections (one by
default), so a reconnection after it goes through. Deterministic: no randomness, faults apply
in the order of the bytes. Bounded: at most ``max_connections`` at once, reads of at most
``chunk_bytes``, delays of at most a minute, and the proxy closes itself after ``lifetime_s``
if the test forgot to. Loopback only, both ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

Direction = Literal["upstream", "downstream"]
_DIRECTIONS: tuple[Direction, ...] = ("upstream", "downstream")
MAX_DELAY_S = 60.0


def _require_loopback(host: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"the fault proxy works on loopback only, not {host!r}")


@dataclass
class _Cut:
    after: int
    times: int


@dataclass
class _Faults:
    delay_s: dict[Direction, float] = field(default_factory=lambda: dict.fromkeys(_DIRECTIONS, 0.0))
    cuts: dict[Direction, _Cut | None] = field(
        default_factory=lambda: dict.fromkeys(_DIRECTIONS, None)
    )
    black_hole: bool = False
    refuse: bool = False


class _Link:
    """One proxied connection: the client's side, the server's side, and bytes counted."""

    def __init__(self, client: asyncio.StreamWriter) -> None:
        self.client = client
        self.server: asyncio.StreamWriter | None = None
        self.counted: dict[Direction, int] = dict.fromkeys(_DIRECTIONS, 0)
        self.rule: dict[Direction, _Cut | None] = dict.fromkeys(_DIRECTIONS, None)
        self.dead = False

    def reset(self) -> None:
        self.dead = True
        for writer in (self.client, self.server):
            if writer is not None:
                _reset(writer)


def _reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class FaultProxy:
    """See the module's text. ``upstream`` is the (loopback) server's address."""

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_connections: int = 256,
        chunk_bytes: int = 65_536,
        connect_timeout_s: float = 5.0,
        lifetime_s: float = 300.0,
    ) -> None:
        _require_loopback(upstream[0])
        _require_loopback(host)
        self.upstream = upstream
        self.host = host
        self.port = port
        self.max_connections = max_connections
        self.chunk_bytes = chunk_bytes
        self.connect_timeout_s = connect_timeout_s
        self.lifetime_s = lifetime_s
        self.connections_made = 0  # accepted, all told (refused ones included)
        self.bytes_forwarded: dict[Direction, int] = dict.fromkeys(_DIRECTIONS, 0)
        self._faults = _Faults()
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._expiry: asyncio.TimerHandle | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def open_connections(self) -> int:
        return len(self._links)

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def __aenter__(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_later(
            self.lifetime_s, lambda: self._tasks.add(loop.create_task(self.aclose()))
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop listening and reset every open connection (safe to call twice)."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for link in list(self._links):
            link.reset()
        current = asyncio.current_task()
        pending = [t for t in self._tasks if t is not current and not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=5.0)
        if server is not None:
            await server.wait_closed()

    # --- faults -------------------------------------------------------------------------------

    def pass_through(self) -> None:
        """No faults: every byte goes through at once."""
        self._faults = _Faults()

    def delay(self, seconds: float, direction: Direction | Literal["both"] = "both") -> None:
        """Each chunk in ``direction`` waits ``seconds`` (at most a minute) before it goes."""
        if not 0 <= seconds <= MAX_DELAY_S:
            raise ValueError(f"a delay is 0 to {MAX_DELAY_S:g} seconds")
        for d in _DIRECTIONS if direction == "both" else (direction,):
            self._faults.delay_s[d] = seconds

    def cut_after(self, nbytes: int, direction: Direction, *, times: int = 1) -> None:
        """Let ``nbytes`` more bytes through in ``direction`` on a connection, then reset it;
        for ``times`` connections (each counting from now, or from when it opens)."""
        if nbytes < 0 or times < 1:
            raise ValueError("nbytes ≥ 0 and times ≥ 1")
        self._faults.cuts[direction] = _Cut(nbytes, times)

    def black_hole(self) -> None:
        """Accept connections and forward nothing, either way (open connections included)."""
        self._faults.black_hole = True

    def refuse(self) -> None:
        """Reset new connections as soon as they are accepted."""
        self._faults.refuse = True

    async def drop_all(self) -> int:
        """Reset every open connection now; returns how many there were."""
        links = list(self._links)
        for link in links:
            link.reset()
        await asyncio.sleep(0)  # let the pumps see it
        return len(links)

    # --- the proxying -------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self.connections_made += 1
        if self._server is None or self._faults.refuse or len(self._links) >= self.max_connections:
            _reset(writer)
            return
        writer.transport.set_write_buffer_limits(0)  # drain() waits until every byte is out
        link = _Link(writer)
        self._links.add(link)
        try:
            if self._faults.black_hole:
                await self._swallow(reader, link)
                return
            try:
                async with asyncio.timeout(self.connect_timeout_s):
                    server_reader, link.server = await asyncio.open_connection(*self.upstream)
            except (OSError, TimeoutError):
                link.reset()
                return
            link.server.transport.set_write_buffer_limits(0)
            await asyncio.gather(
                self._pump(reader, link.server, "upstream", link),
                self._pump(server_reader, writer, "downstream", link),
            )
        finally:
            self._links.discard(link)
            if not link.dead:
                link.dead = True
                for side in (link.client, link.server):
                    if side is not None:
                        side.close()

    async def _swallow(self, reader: asyncio.StreamReader, link: _Link) -> None:
        with contextlib.suppress(OSError):
            while not link.dead and await reader.read(self.chunk_bytes):
                pass

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        direction: Direction,
        link: _Link,
    ) -> None:
        try:
            while not link.dead:
                chunk = await reader.read(self.chunk_bytes)
                if not chunk or link.dead:
                    break
                faults = self._faults
                if faults.black_hole:
                    continue
                if faults.delay_s[direction]:
                    await asyncio.sleep(faults.delay_s[direction])
                if self._cut(chunk, writer, direction, link):
                    return
                writer.write(chunk)
                self.bytes_forwarded[direction] += len(chunk)
                await writer.drain()
            if not link.dead and writer.can_write_eof():
                writer.write_eof()  # a half-close passes on as one
        except OSError:  # the other side is gone (reset, closed)
            link.reset()

    def _cut(
        self, chunk: bytes, writer: asyncio.StreamWriter, direction: Direction, link: _Link
    ) -> bool:
        """Forward what the cut rule allows of ``chunk`` and reset, or say there is no cut."""
        rule = self._faults.cuts[direction]
        if rule is None:
            return False
        if link.rule[direction] is not rule:  # a new rule: this connection counts from now
            link.rule[direction] = rule
            link.counted[direction] = 0
        allowed = rule.after - link.counted[direction]
        if len(chunk) <= allowed:
            link.counted[direction] += len(chunk)
            return False
        if allowed > 0:  # the allowed bytes go out before the reset (the buffer limit is 0)
            writer.write(chunk[:allowed])
            self.bytes_forwarded[direction] += allowed
        rule.times -= 1
        if rule.times == 0 and self._faults.cuts[direction] is rule:
            self._faults.cuts[direction] = None
        link.reset()
        return True
