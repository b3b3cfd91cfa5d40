"""A fast webhook receiver for the benchmarks: reads the body, answers 204, counts what came.
``python -m bench.receiver PORT [PORT ...]`` (uvicorn, one worker, 127.0.0.1; several ports are
several webhook destinations to the gateway, one count over all of them)."""

from __future__ import annotations

import socket
import sys
from typing import Any

import uvicorn

received = 0


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global received
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    status = 204
    if scope["path"] == "/count":
        body = str(received).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
        return
    if scope["method"] == "POST":
        received += 1
    elif scope["path"] == "/healthz":
        status = 200
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _listening(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


if __name__ == "__main__":
    config = uvicorn.Config(app, log_config=None, access_log=False)
    uvicorn.Server(config).run(sockets=[_listening(int(port)) for port in sys.argv[1:]])
