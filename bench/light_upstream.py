"""A light upstream for ``bench.in_flight``: answers every poll with ``generating`` from a bare
asyncio protocol (HTTP/1.1 keep-alive, no framework), so that the gateway, not the responder,
is what a run measures. Its CPU is reported beside the gateway's.

``python -m bench.light_upstream PORT``

It knows no generations: any ``GET`` answers ``{"id": <the generation_id asked>, "status":
"generating"}``; ``GET /__mock/requests`` (the readiness probe of ``bench.common.Process``)
answers ``[]``.
"""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import parse_qs, urlsplit


def _response(body: bytes) -> bytes:
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n"
    )
    return head + body


class _Responder(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, rest = self.buffer.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            length = 0
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if len(rest) < length:
                return  # the body is still arriving
            self.buffer = rest[length:]
            target = lines[0].split(b" ")[1].decode()
            assert self.transport is not None
            self.transport.write(_response(self._answer(target)))

    @staticmethod
    def _answer(target: str) -> bytes:
        parts = urlsplit(target)
        if parts.path.startswith("/__mock/"):
            return b"[]"
        generation_id = parse_qs(parts.query).get("generation_id", ["gen"])[0]
        return b'{"id":"' + generation_id.encode() + b'","status":"generating"}'


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Responder, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
