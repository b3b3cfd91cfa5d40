"""A raw loopback HTTP receiver with full control over its answers (slow, trickled, endless,
reset), and a scripted name resolver: the doubles the sender and guard tests run against."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import subprocess
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gateway.domain.addresses import IPAddress

Respond = Callable[[asyncio.StreamWriter], Awaitable[None]]


@dataclass
class SeenRequest:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


def response_head(status: int, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    lines = [f"HTTP/1.1 {status} Status"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def answer(status: int, body: bytes = b"", headers: Iterable[tuple[str, str]] = ()) -> Respond:
    """A complete response, then the connection closes."""

    async def respond(writer: asyncio.StreamWriter) -> None:
        head = [("content-length", str(len(body))), ("connection", "close"), *headers]
        writer.write(response_head(status, head) + body)
        await writer.drain()

    return respond


@dataclass
class Receiver:
    """``asyncio.start_server`` on 127.0.0.1 calling ``respond`` once per request."""

    respond: Respond
    ssl_context: ssl.SSLContext | None = None
    connections: int = 0
    requests: list[SeenRequest] = field(default_factory=list)
    port: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", 0, ssl=self.ssl_context
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, host: str = "127.0.0.1", path: str = "/hook", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request_line, *header_lines = head.decode("latin-1").split("\r\n")[:-2]
            method, target, _version = request_line.split(" ", 2)
            headers = {}
            for line in header_lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(SeenRequest(method, target, headers, body))
            await self.respond(writer)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the client went away: part of the scenarios here
        except asyncio.CancelledError:
            # ``close()`` ends a handler still answering. Ending quietly, not cancelled: asyncio's
            # stream callback asks a cancelled handler task for its exception and logs an error.
            pass
        finally:
            writer.close()  # always: a writer left open warns when collected after its loop
            self._tasks.discard(task)


class ScriptedResolver:
    """Answers from a script per host name: each call takes the next answer, the last one
    repeats. Unknown names fail the way the OS resolver does."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = {host: list(script) for host, script in answers.items()}
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.calls.append(host)
        script = self.answers.get(host)
        if not script:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        current = script.pop(0) if len(script) > 1 else script[0]
        return [ipaddress.ip_address(ip) for ip in current]


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A key and a self-signed certificate for ``name`` (openssl from PATH)."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    command = [
        *["openssl", "req", "-x509", "-newkey", "ec", "-nodes"],
        *["-pkeyopt", "ec_paramgen_curve:prime256v1"],
        *["-days", "1", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}"],
        *["-keyout", str(key), "-out", str(cert)],
    ]
    # A fixed local command (openssl from PATH; the test is skipped without it).
    subprocess.run(command, check=True, capture_output=True, timeout=30)  # noqa: S603
    return cert, key
