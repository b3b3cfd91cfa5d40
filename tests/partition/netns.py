"""Linux network namespaces and nftables for partition tests, made and removed by the tests.

Two namespaces joined by a veth pair, addresses only inside them::

    root namespace              ns "db" (10.231.N.1)            ns "a" (10.231.N.2)
    127.0.0.1:5432 (PostgreSQL) <- forwarder listening here <-- replica A (gateway serve)
    127.0.0.1:<http> forwarder ---- socket made in "db" ------> A's HTTP port

The forwarders run in the test's process: a socket belongs to the namespace its thread was in
when it was made (``setns(2)`` on a short-lived thread), so one event loop serves both ends.
A cut is an nftables table in namespace "a" that drops A's packets to and from PostgreSQL's
forwarder silently (no reset, no ICMP), while A's HTTP path stays open.

Root only; :func:`unavailable` says why not when it cannot work here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

CLONE_NEWNET = 0x40000000
_counter = itertools.count()


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=30)


def unavailable() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "partition tests need root (network namespaces)"
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return f"partition tests need `{tool}` (Debian: iproute2, nftables)"
    name = f"gwprobe{os.getpid()}"
    try:
        _run("ip", "netns", "add", name)
        _run("ip", "netns", "del", name)
    except (subprocess.CalledProcessError, OSError) as error:
        return f"network namespaces cannot be made here: {error}"
    return None


def socket_in(namespace: str) -> socket.socket:
    """A TCP socket of ``namespace`` (made on a thread that joined it)."""
    made: list[socket.socket | BaseException] = []

    def make() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/var/run/netns/{namespace}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns failed")
            finally:
                os.close(fd)
            made.append(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        except BaseException as error:  # handed to the caller
            made.append(error)

    thread = threading.Thread(target=make)  # ends in the namespace; the caller's stays put
    thread.start()
    thread.join(10)
    result = made[0]
    if isinstance(result, BaseException):
        raise result
    return result


@dataclass
class Partition:
    db_ns: str
    a_ns: str
    db_address: str
    a_address: str

    def cut(self, port: int) -> None:
        """Drop every packet between A and ``db_address:port``, both ways, silently."""
        rules = (
            "table inet gwcut {\n"
            "  chain cut_out {\n"
            "    type filter hook output priority 0; policy accept;\n"
            f"    ip daddr {self.db_address} tcp dport {port} drop\n"
            "  }\n"
            "  chain cut_in {\n"
            "    type filter hook input priority 0; policy accept;\n"
            f"    ip saddr {self.db_address} tcp sport {port} drop\n"
            "  }\n"
            "}\n"
        )
        subprocess.run(
            ["ip", "netns", "exec", self.a_ns, "nft", "-f", "-"],
            input=rules.encode(),
            check=True,
            capture_output=True,
            timeout=30,
        )

    def heal(self) -> None:
        _run("ip", "netns", "exec", self.a_ns, "nft", "delete", "table", "inet", "gwcut")


@contextlib.contextmanager
def partition() -> Iterator[Partition]:
    """Namespaces "db" and "a" joined by a veth pair (removed on exit)."""
    n = (os.getpid() + next(_counter)) % 250 + 1
    tag = f"{os.getpid() % 100000}x{n}"
    db_ns, a_ns = f"gwdb{tag}", f"gwa{tag}"
    db_address, a_address = f"10.231.{n}.1", f"10.231.{n}.2"
    made: list[str] = []
    try:
        for ns in (db_ns, a_ns):
            _run("ip", "netns", "add", ns)
            made.append(ns)
        _run("ip", "link", "add", f"gwd{tag}", "netns", db_ns, "type", "veth",
             "peer", "name", f"gwa{tag}", "netns", a_ns)  # fmt: skip
        for ns, dev, address in ((db_ns, f"gwd{tag}", db_address), (a_ns, f"gwa{tag}", a_address)):
            _run("ip", "-n", ns, "addr", "add", f"{address}/30", "dev", dev)
            _run("ip", "-n", ns, "link", "set", dev, "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        yield Partition(db_ns, a_ns, db_address, a_address)
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30, check=False)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    with contextlib.suppress(OSError):
        writer.close()


@contextlib.asynccontextmanager
async def forwarder(
    listen: socket.socket, connect: tuple[str, int], *, connect_from: str | None = None
) -> AsyncIterator[int]:
    """Forward each connection to ``listen`` (bound already) to ``connect``, the outgoing
    socket made in namespace ``connect_from`` (None: this process's). Yields the port."""
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        far_writer: asyncio.StreamWriter | None = None
        sock: socket.socket | None = None
        try:
            if connect_from is None:
                far_reader, far_writer = await asyncio.open_connection(*connect)
            else:
                sock = socket_in(connect_from)
                sock.setblocking(False)
                await asyncio.get_running_loop().sock_connect(sock, connect)
                far_reader, far_writer = await asyncio.open_connection(sock=sock)
            await asyncio.gather(_pipe(reader, far_writer), _pipe(far_reader, writer))
        except (OSError, asyncio.CancelledError):
            pass  # the far side refused, or the forwarder is closing: both ends go
        finally:
            tasks.discard(task)
            for side in (writer, far_writer):
                if side is not None:
                    side.transport.abort()
            if far_writer is None and sock is not None:
                sock.close()

    listen.listen(64)
    listen.setblocking(False)
    server = await asyncio.start_server(serve, sock=listen)
    try:
        yield listen.getsockname()[1]
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()
