"""CPU per request of the gateway's intake and of a keyed GET, the ASGI app called in-process.

No server and no load generator share the machine's two cores with the gateway here: the app is
called directly (64 requests at once for ``POST /v1/jobs`` on SQLite, one at a time for
``GET /v1/me``), and the process's CPU time (the SQLite writer thread's included) is divided by
the requests. Steadier than ``bench.intake`` on a busy machine, so fit for comparing builds
(``bench.builds --cpu``). Prints one line of JSON.

``uv run python -m bench.intake_cpu [--requests 3840]`` (``bench.builds --cpu`` runs it by its
path, so it imports nothing of ``bench``)
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import json
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

import structlog

BODY = json.dumps(
    {
        "prompt": "a horse galloping on a beach at dawn",
        "duration": "5",
        "resolution": "720p",
        "callback_url": "https://93.184.215.14/hooks/video",
        "metadata": {"order": "42"},
    }
).encode()
KEY = "gw_bench_key_0123456789abcdef0123"
CONCURRENCY = 64


def _scope(method: str, path: str, body: bytes) -> dict[str, Any]:
    headers = [(b"authorization", f"Bearer {KEY}".encode()), (b"host", b"bench")]
    if body:
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8000),
    }


async def _call(app: Any, scope: dict[str, Any], body: bytes, statuses: list[int]) -> None:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client stays connected
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(dict(scope), receive, send)


async def _measure(requests: int) -> dict[str, Any]:
    from gateway.settings import Settings

    # The composition root, or where a build from before it made the app.
    root = "gateway.app" if importlib.util.find_spec("gateway.app") else "gateway.http.app"
    create_app = importlib.import_module(root).create_app

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    folder = Path(tempfile.mkdtemp(prefix="bench-intake-cpu-"))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'intake.db'}",
        client_api_key=KEY,
        client_webhook_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # noqa: S106 (a test vector)
        rate_limit_per_minute=10**9,
        max_in_flight_per_client=10**9,
        log_level="WARNING",
    )
    app = create_app(settings, run_worker=False)
    statuses: list[int] = []
    async with app.lifespan():
        post = _scope("POST", "/v1/jobs", BODY)
        get = _scope("GET", "/v1/me", b"")

        async def posting(count: int) -> None:
            for _ in range(count):
                await _call(app, post, BODY, statuses)

        each = max(1, requests // CONCURRENCY)
        await asyncio.gather(*(posting(10) for _ in range(CONCURRENCY)))  # warm up
        started = time.process_time()
        await asyncio.gather(*(posting(each) for _ in range(CONCURRENCY)))
        intake_us = (time.process_time() - started) / (each * CONCURRENCY) * 1e6
        for _ in range(500):
            await _call(app, get, b"", statuses)
        started = time.process_time()
        for _ in range(requests):
            await _call(app, get, b"", statuses)
        me_us = (time.process_time() - started) / requests * 1e6
    if set(statuses) - {200, 202}:
        raise SystemExit(f"unexpected answers: {sorted(set(statuses))}")
    return {"intake_us": round(intake_us, 1), "me_us": round(me_us, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3840)
    options = parser.parse_args()
    print(json.dumps(asyncio.run(_measure(options.requests))))


if __name__ == "__main__":
    main()
