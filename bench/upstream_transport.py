"""Upstream transport: GETs per second against the mock's poll endpoint from one process.

Each transport drives ``GET /v2/video/generations?generation_id=…`` (the gateway's poll) at a
fixed concurrency for ``--seconds``, in a fresh event loop, against the mock upstream in a child
process (``bench.slow_mock``: one generation that stays ``generating``). Printed: requests/s,
errors, the client's CPU per request (this process; steadier than the rate on a busy
machine), the mock's CPU, and the ratio against httpx's default transport at the same concurrency.

``uv run python -m bench.upstream_transport [--seconds 5] [--concurrency 1,8,64]
[--transports httpx,httpx-8,httpx-aiohttp,gateway,aiohttp]``
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from bench.common import Process, free_port, print_table
from gateway.domain.upstream import Generation
from gateway.upstream.client import UpstreamClient

PATH = "/v2/video/generations"
KEY = "bench-upstream-key"
HEADERS = {"Authorization": f"Bearer {KEY}"}
Poll = Callable[[], Awaitable[bool]]  # one GET; True when it answered 200


@dataclass(frozen=True)
class Transport:
    name: str
    label: str
    # (base URL, generation id, concurrency) → (one poll, close)
    open: Callable[[str, str, int], tuple[Poll, Callable[[], Awaitable[None]]]]


def _httpx(limits: httpx.Limits | None) -> Callable[[str, str, int], tuple[Poll, Any]]:
    def open_(url: str, generation_id: str, _: int) -> tuple[Poll, Any]:
        http = (
            httpx.AsyncClient(base_url=url, timeout=30)
            if limits is None
            else httpx.AsyncClient(base_url=url, timeout=30, limits=limits)
        )
        params = {"generation_id": generation_id}

        async def poll() -> bool:
            return (await http.get(PATH, params=params, headers=HEADERS)).status_code == 200

        return poll, http.aclose

    return open_


def _httpx_aiohttp(url: str, generation_id: str, concurrency: int) -> tuple[Poll, Any]:
    transport = AiohttpTransport(limits=httpx.Limits(max_connections=max(concurrency, 1)))
    http = httpx.AsyncClient(base_url=url, timeout=30, transport=transport)
    params = {"generation_id": generation_id}

    async def poll() -> bool:
        return (await http.get(PATH, params=params, headers=HEADERS)).status_code == 200

    return poll, http.aclose


def _gateway(url: str, generation_id: str, concurrency: int) -> tuple[Poll, Any]:
    client = UpstreamClient(url, KEY, max_connections=concurrency)
    counter = iter(range(10**12))

    async def poll() -> bool:
        result = await client.fetch(generation_id, request_id=f"bench.poll.{next(counter)}")
        return isinstance(result, Generation)

    return poll, client.aclose


def _aiohttp(url: str, generation_id: str, concurrency: int) -> tuple[Poll, Any]:
    session: list[aiohttp.ClientSession] = []
    target = f"{url}{PATH}"
    params = {"generation_id": generation_id}

    async def poll() -> bool:
        if not session:  # made inside the running loop
            session.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)))
        async with session[0].get(target, params=params, headers=HEADERS) as response:
            await response.read()
            return response.status == 200

    async def close() -> None:
        if session:
            await session[0].close()

    return poll, close


TRANSPORTS = {
    t.name: t
    for t in (
        Transport("httpx", "httpx, default transport", _httpx(None)),
        Transport(
            "httpx-8",
            "httpx, pool of 8",
            _httpx(httpx.Limits(max_connections=8, max_keepalive_connections=8)),
        ),
        Transport(
            "httpx-64",
            "httpx, pool of 64 (the gateway's former client)",
            _httpx(httpx.Limits(max_connections=64, max_keepalive_connections=64)),
        ),
        Transport("httpx-aiohttp", "httpx + httpx-aiohttp's AiohttpTransport", _httpx_aiohttp),
        Transport("gateway", "gateway UpstreamClient (PooledTransport)", _gateway),
        Transport("aiohttp", "plain aiohttp (reference)", _aiohttp),
    )
}


async def _drive(
    transport: Transport, url: str, generation_id: str, concurrency: int, seconds: float
) -> tuple[int, int, float, float]:
    poll, close = transport.open(url, generation_id, concurrency)
    ok = errors = 0
    try:
        await poll()  # warm: one connection made before the clock starts
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal ok, errors
            while time.perf_counter() < deadline:
                try:
                    answered = await poll()
                except (httpx.HTTPError, aiohttp.ClientError, OSError):
                    answered = False
                if answered:
                    ok += 1
                else:
                    errors += 1

        started, cpu_started = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
    finally:
        await close()
    return ok, errors, elapsed, cpu


def _create_generation(url: str) -> str:
    response = httpx.post(
        f"{url}{PATH}",
        json={"model": "alibaba/happyhorse-1-0", "prompt": "bench"},
        headers=HEADERS,
        timeout=10,
    )
    response.raise_for_status()
    generation_id: str = response.json()["id"]
    return generation_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per transport and concurrency")
    parser.add_argument("--concurrency", default="1,8,64", help="comma-separated")
    parser.add_argument(
        "--transports",
        default="httpx,httpx-8,httpx-aiohttp,gateway,aiohttp",
        help=f"comma-separated, from: {', '.join(TRANSPORTS)}",
    )
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    chosen = [TRANSPORTS[name] for name in args.transports.split(",")]

    tmp = Path(tempfile.mkdtemp(prefix="bench-upstream-transport-"))
    port = free_port()
    mock = Process(
        ["-m", "bench.slow_mock", str(port)],
        port=port,
        log=tmp / "mock.log",
        health_path="/__mock/requests?limit=1",
    )
    rows: list[list[object]] = []
    try:
        generation_id = _create_generation(mock.url)
        baseline: dict[int, float] = {}
        for transport in chosen:
            for concurrency in levels:
                cpu_before = mock.cpu_seconds()
                ok, errors, elapsed, cpu = asyncio.run(
                    _drive(transport, mock.url, generation_id, concurrency, args.seconds)
                )
                mock_cpu = (mock.cpu_seconds() - cpu_before) / elapsed
                rate = ok / elapsed
                if transport.name == "httpx":
                    baseline[concurrency] = rate
                ratio = rate / baseline[concurrency] if baseline.get(concurrency) else "-"
                cpu_us = cpu / max(ok, 1) * 1e6
                rows.append([transport.label, concurrency, rate, errors, cpu_us, mock_cpu, ratio])
                print(f"{transport.label} c={concurrency}: {rate:,.0f}/s", flush=True)
    finally:
        mock.stop()
    print_table(
        f"Upstream transport ({args.seconds:g} s each, GETs of one generation's status)",
        [
            "transport",
            "concurrency",
            "requests/s",
            "errors",
            "client CPU µs/request",
            "mock CPU (cores)",
            "ratio vs httpx default",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
