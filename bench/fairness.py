"""One client's troubled receivers against another client's job-to-webhook time.

A real ``gateway serve`` process (SQLite, or PostgreSQL with ``--postgres``), the mock upstream
(fast timings) and receivers on loopback. Client B submits jobs paced a quarter of a second
apart; each job's time is from its 202 to its webhook's arrival at B's receiver. Each phase on
a fresh database; the baseline is B alone in the same run:

- B beside client A, whose jobs call back 100 *distinct* receivers that accept the connection
  and never answer (each attempt holds a delivery slot until the gateway's delivery timeout);
  the same without the per-client share (one client may take all 32 delivery slots);
- B's receiver on a host it shares with A (one port, as every Zapier hook is on one host), A's
  receivers there answering 500 at once, answering 200 after 3 s, or never answering.

``uv run python -m bench.fairness [--jobs 20] [--hanging 100] [--postgres]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import Inbox, PgDatabase, print_table, serve_gateway
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import MockServer

ADMIN_KEY = "bench-admin-key"
B_NAME = "client-b"


class HangingReceivers:
    """``count`` loopback ports whose connections are read and never answered, until stopped."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.ports: list[int] = []  # chosen by the system when the servers start (no races)
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HangingReceivers:
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the hanging receivers did not start")
        return self

    def __exit__(self, *_: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()

        async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                while not reader.at_eof():
                    if not await reader.read(65536):
                        break
            finally:
                writer.close()

        servers = [await asyncio.start_server(hang, "127.0.0.1", 0) for _ in range(self.count)]
        self.ports = [server.sockets[0].getsockname()[1] for server in servers]
        self._ready.set()
        await self._stop.wait()
        for server in servers:
            server.close()
            await server.wait_closed()


class SharedHost(Inbox):
    """One loopback host for every client: ``/ok/…`` is B's receiver (as ``Inbox``), ``/err/…``
    answers 500 at once, ``/slow/…`` 200 after 3 s, ``/hang/…`` never (until stopped)."""

    def __init__(self) -> None:
        super().__init__()
        self.stopped = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith("/ok/"):
            await super().__call__(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        if path.startswith("/hang/"):
            await self.stopped.wait()
            return
        if path.startswith("/slow/"):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopped.wait(), timeout=3.0)
        status = 500 if path.startswith("/err/") else 200
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def _env(database_url: str, upstream_url: str, a_key: str, fair: bool) -> dict[str, str]:
    # Without the per-client share, one client may take every delivery slot.
    share = {} if fair else {"GATEWAY_DELIVERY_CLIENT_SHARE": "32"}
    return share | {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_UPSTREAM_URL": upstream_url,
        "GATEWAY_CLIENT_API_KEY": a_key,
        "GATEWAY_ADMIN_KEY": ADMIN_KEY,
        "GATEWAY_CALLBACK_ALLOWLIST": "127.0.0.1/32",
        "GATEWAY_POLL_POLICY": "fixed",
        "GATEWAY_POLL_INTERVAL_S": "1",
        "GATEWAY_TICK_INTERVAL_S": "0.25",
    }


def _submit(http: httpx.Client, key: str, callback_url: str, prompt: str) -> str:
    response = http.post(
        "/v1/jobs",
        json={"prompt": prompt, "duration": 5, "callback_url": callback_url},
        headers={"Authorization": f"Bearer {key}"},
    )
    response.raise_for_status()
    return str(response.json()["id"])


def run_phase(
    database_url: str,
    upstream_url: str,
    inbox_url: str,
    inbox: Inbox,
    jobs: int,
    a_callbacks: list[str],
    log: Path,
    *,
    fair: bool = True,
) -> list[float]:
    """B's job-to-webhook seconds, with A's jobs to ``a_callbacks`` submitted first."""
    a_key = "bench-client-a-key"
    gateway = serve_gateway(_env(database_url, upstream_url, a_key, fair), log=log)
    try:
        with httpx.Client(base_url=gateway.url, timeout=30) as http:
            made = http.post(
                "/v1/admin/clients",
                json={"name": B_NAME},
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            made.raise_for_status()
            b_key = made.json()["api_key"]
            for i, callback in enumerate(a_callbacks):
                _submit(http, a_key, callback, f"a {i}")
            accepted: dict[str, float] = {}
            for i in range(jobs):
                job_id = _submit(http, b_key, inbox_url, f"b {i}")
                accepted[job_id] = time.time()
                time.sleep(0.25)  # pacing the load generator, not waiting for a result
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with inbox.lock:
                if all(job_id in inbox.arrivals for job_id in accepted):
                    break
            time.sleep(0.1)  # the bench waits for webhooks; bounded by the deadline
        else:
            raise RuntimeError(f"not every webhook of B arrived within 120 s; see {log}")
        return sorted(inbox.arrivals[job_id][0] - at for job_id, at in accepted.items())
    finally:
        gateway.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20, help="client B's jobs per phase")
    parser.add_argument("--hanging", type=int, default=100, help="client A's troubled receivers")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    options = parser.parse_args()
    rows: list[list[object]] = []
    n = options.hanging
    with tempfile.TemporaryDirectory(prefix="bench-fair-") as tmp:
        shared = SharedHost()
        mock = create_mock(MockConfig.fast())
        with MockServer(mock) as upstream, MockServer(shared) as host:
            phases: list[tuple[str, str, bool, bool]] = [
                ("B alone", "", True, False),
                (f"B beside {n} hanging hosts", "hosts", True, False),
                (f"B beside {n} hanging hosts, no per-client share", "hosts", False, False),
                (f"B beside {n} failing (500) on B's host", "err", True, True),
                (f"B beside {n} slow (200 after 3 s) on B's host", "slow", True, True),
                (f"B beside {n} hanging on B's host", "hang", True, True),
            ]
            for number, (label, trouble, fair, on_b_host) in enumerate(phases):
                pg = PgDatabase() if options.postgres else None
                database_url = (
                    asyncio.run(pg.create())
                    if pg is not None
                    else f"sqlite:///{Path(tmp) / f'fair-{number}.db'}"
                )
                shared.arrivals.clear()
                try:
                    hanging = HangingReceivers(n if trouble == "hosts" else 0)
                    with hanging:
                        if trouble == "hosts":
                            a_callbacks = [f"http://127.0.0.1:{p}/hook" for p in hanging.ports]
                        else:
                            a_callbacks = [f"{host.url}/{trouble}/{i}" for i in range(n)]
                        times = run_phase(
                            database_url,
                            upstream.url,
                            f"{host.url}/ok/b",
                            shared,
                            options.jobs,
                            a_callbacks if trouble else [],
                            Path(tmp) / f"phase-{number}.log",
                            fair=fair,
                        )
                finally:
                    if pg is not None:
                        asyncio.run(pg.drop())
                median = statistics.median(times)
                p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
                rows.append(
                    [label, "yes" if on_b_host else "no", len(times), median, p95, times[-1]]
                )
            shared.stopped.set()
    base_median, base_p95 = float(rows[0][3]), float(rows[0][4])  # type: ignore[arg-type]
    for row in rows:
        row.insert(5, float(row[3]) / base_median)  # type: ignore[arg-type]
        row.insert(6, float(row[4]) / base_p95)  # type: ignore[arg-type]
    print_table(
        "Fairness: client B's job-to-webhook time, alone and beside client A's troubled "
        f"receivers ({'PostgreSQL' if options.postgres else 'SQLite'})",
        [
            "phase",
            "A on B's host",
            "B jobs",
            "median s",
            "p95 s",
            "median ratio",
            "p95 ratio",
            "max s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
