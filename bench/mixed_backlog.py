"""Mixed backlog: how long webhook deliveries wait when 10,000 polls fall due at the same moment.

Each phase seeds a fresh database straight through the store: webhook deliveries (one per
completed job, pending, never attempted, to a fast loopback receiver) and, in the mixed phase,
jobs ``generating`` upstream with a next poll. Seeded parked a day ahead, they are all made due
at one moment T, a few seconds after ``gateway serve`` is serving on that database (fixed 15-s
poll policy, default concurrency: 64 job slots, 32 delivery slots, 8 per client, 4 per
destination). The upstream is ``bench.light_upstream``, which answers every poll "generating"
at once, so the polls cost the gateway and not the mock. The phase ends when the receiver has
counted every delivery.

A delivery's wait is read from ``delivery_attempts`` afterwards: its first attempt's
``attempted_at`` minus T. ``attempted_at`` is taken when the receiver's answer is back, just
before the attempt is written (``gateway/service/delivery.py``), so it includes the attempt's own
round trip; "sent" subtracts the attempt's ``latency_ms`` (the sender's own timing of the POST)
to give when the POST began. The baseline is the same deliveries with no polls due, in the same
run. ``--shapes`` spreads the deliveries over C clients and D receiver ports (one receiver
process), written CxD: 4x8 lets the gateway use all 32 delivery slots; 1x1 is held to 4 at a
time by the per-destination cap.

``uv run python -m bench.mixed_backlog [--shapes 4x8,1x1] [--polls 10000] [--deliveries 1000]
[--postgres]``
"""

from __future__ import annotations

import argparse
import asyncio
import math
import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from bench.common import PgDatabase, Process, free_port, print_table, serve_gateway
from gateway.domain.delivery import DeliveryState
from gateway.domain.events import event_body, event_type_for, new_event_id
from gateway.domain.jobs import JobStatus
from gateway.ids import new_job_id
from gateway.service.clients import create_client
from gateway.store import Store
from gateway.store.schema import deliveries, delivery_attempts, jobs

INTERVAL_S = 15.0
GOAL_P99_S = 2.0
MODEL = "alibaba/happyhorse-1-0"
REQUEST = '{"model":"alibaba/happyhorse-1-0","prompt":"bench"}'


@dataclass(frozen=True)
class Shape:
    clients: int
    destinations: int

    @classmethod
    def parse(cls, text: str) -> Shape:
        clients, destinations = text.lower().split("x")
        return cls(int(clients), int(destinations))

    def __str__(self) -> str:
        return f"{self.clients} × {self.destinations}"


def _job_row(client_id: str, now: float, **values: object) -> dict[str, object]:
    return {
        "id": new_job_id(),
        "client_id": client_id,
        "request": REQUEST,
        "model": MODEL,
        "created_at": now,
        "updated_at": now,
        "submitted_at": now,
        "deadline_at": now + 36_000,
        **values,
    }


# Seeded rows are parked this far ahead until the gateway is serving, then all made due at T.
_PARKED_S = 86_400.0


async def _seed(database_url: str, shape: Shape, urls: list[str], polls: int, count: int) -> None:
    """``polls`` jobs to poll and ``count`` deliveries, none due yet (see ``_make_due``)."""
    store = await Store.open(database_url)
    try:
        now = time.time()
        due_at = now + _PARKED_S
        client_ids = [
            (await create_client(store, f"bench-{n}", now=now)).id for n in range(shape.clients)
        ]
        poll_rows = [
            _job_row(
                client_ids[n % shape.clients],
                now,
                status=JobStatus.GENERATING.value,
                generation_id=f"gen-{n}",
                upstream_status="generating",
                next_run_at=due_at,
            )
            for n in range(polls)
        ]
        done_rows, delivery_rows = [], []
        event_type = event_type_for(JobStatus.COMPLETED)
        for n in range(count):
            client_id, url = client_ids[n % shape.clients], urls[n % len(urls)]
            job = _job_row(
                client_id,
                now,
                status=JobStatus.COMPLETED.value,
                generation_id=f"done-{n}",
                upstream_status="completed",
                callback_url=url,
                video_url="https://cdn.example/video.mp4",
                finished_at=now,
                next_run_at=None,
            )
            payload = event_body(
                event_type,
                "2026-11-27T00:00:00Z",
                {"id": job["id"], "status": "completed", "video_url": job["video_url"]},
            )
            done_rows.append(job)
            delivery_rows.append(
                {
                    "id": new_event_id(secrets.token_bytes(16)),
                    "job_id": job["id"],
                    "client_id": client_id,
                    "event_type": event_type,
                    "url": url,
                    "payload": payload.decode(),
                    "state": DeliveryState.PENDING,
                    "attempts": 0,
                    "created_at": now,
                    "updated_at": now,
                    "next_run_at": due_at,
                }
            )
        for table, rows in ((jobs, poll_rows + done_rows), (deliveries, delivery_rows)):
            for start in range(0, len(rows), 2000):
                async with store.db.write() as conn:
                    await conn.execute(sa.insert(table), rows[start : start + 2000])
    finally:
        await store.close()


async def _make_due(database_url: str, due_at: float) -> None:
    """Every parked poll and delivery due at ``due_at``, in one transaction."""
    store = await Store.open(database_url)
    try:
        async with store.db.write() as conn:
            for table in (jobs, deliveries):
                await conn.execute(
                    sa.update(table)
                    .where(table.c.next_run_at.is_not(None))
                    .values(next_run_at=due_at)
                )
    finally:
        await store.close()


async def _first_attempts(database_url: str) -> list[tuple[float, float]]:
    """(attempted_at, latency_ms) of each delivery's first attempt."""
    store = await Store.open(database_url)
    try:
        async with store.db.read() as conn:
            rows = await conn.execute(
                sa.select(delivery_attempts.c.attempted_at, delivery_attempts.c.latency_ms).where(
                    delivery_attempts.c.attempt == 1
                )
            )
            return [(float(at), float(ms)) for at, ms in rows]
    finally:
        await store.close()


_POLLS = "gateway_polls_total"
_DEFERRED = "gateway_deliveries_deferred_total"


def _totals(url: str) -> dict[str, float]:
    """The counters this benchmark reads from ``/metrics``, summed over their labels."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    totals = dict.fromkeys((_POLLS, _DEFERRED), 0.0)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in totals:
                totals[sample.name] += sample.value
    return totals


def _received(receiver: Process) -> int:
    return int(httpx.get(f"{receiver.url}/count", timeout=5).text)


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


@dataclass
class Phase:
    sent: list[float]  # seconds from T to each first attempt's POST
    answered: list[float]  # seconds from T to each first attempt's answer (attempted_at)
    attempted: int  # deliveries attempted within the timeout (the others count as infinite)
    deferred: int  # claimed and given back without an attempt (an open circuit)
    polls_per_s: float
    gateway_cores: float
    upstream_cpu_s: float


def run_phase(
    database_url: str,
    shape: Shape,
    polls: int,
    count: int,
    *,
    lead_s: float,
    timeout_s: float,
    tmp: Path,
) -> Phase:
    ports = [free_port() for _ in range(shape.destinations)]
    receiver = Process(
        ["-m", "bench.receiver", *map(str, ports)], port=ports[0], log=tmp / "receiver.log"
    )
    upstream_port = free_port()
    upstream = Process(
        ["-m", "bench.light_upstream", str(upstream_port)],
        port=upstream_port,
        log=tmp / "upstream.log",
        health_path="/__mock/requests",
    )
    try:
        urls = [f"http://127.0.0.1:{port}/hooks" for port in ports]
        asyncio.run(_seed(database_url, shape, urls, polls, count))
        gateway = serve_gateway(
            {
                "GATEWAY_DATABASE_URL": database_url,
                "GATEWAY_UPSTREAM_URL": upstream.url,
                "GATEWAY_POLL_POLICY": "fixed",
                "GATEWAY_POLL_INTERVAL_S": str(INTERVAL_S),
                "GATEWAY_CALLBACK_ALLOWLIST": "127.0.0.1/32",
            },
            log=tmp / "gateway.log",
        )
        try:
            # T a little after the gateway is serving, so its start-up is not in the figures.
            due_at = time.time() + lead_s
            asyncio.run(_make_due(database_url, due_at))
            time.sleep(max(0.0, due_at - time.time()))  # until T: nothing is due before it
            before = _totals(gateway.url)
            cpu_before, upstream_before = gateway.cpu_seconds(), upstream.cpu_seconds()
            started = time.monotonic()
            deadline = started + timeout_s
            while (received := _received(receiver)) < count and time.monotonic() < deadline:
                time.sleep(0.1)  # waiting for the receiver's count; a benchmark, not a test
            elapsed = time.monotonic() - started
            after = _totals(gateway.url)
            cpu_after, upstream_after = gateway.cpu_seconds(), upstream.cpu_seconds()
            attempts = asyncio.run(_first_attempts(database_url))
            settle = time.monotonic() + 10
            while len(attempts) < received and time.monotonic() < settle:
                time.sleep(0.1)  # the last attempts are written just after their answers
                attempts = asyncio.run(_first_attempts(database_url))
        finally:
            gateway.stop()
    finally:
        upstream.stop()
        receiver.stop()
    missing = [math.inf] * (count - len(attempts))  # not attempted within the timeout
    return Phase(
        sent=[at - ms / 1000.0 - due_at for at, ms in attempts] + missing,
        answered=[at - due_at for at, _ in attempts] + missing,
        attempted=len(attempts),
        polls_per_s=(after[_POLLS] - before[_POLLS]) / elapsed,
        deferred=int(after[_DEFERRED] - before[_DEFERRED]),
        gateway_cores=(cpu_after - cpu_before) / elapsed,
        upstream_cpu_s=upstream_after - upstream_before,
    )


def _row(label: str, shape: Shape, polls: int, phase: Phase, base: Phase) -> list[object]:
    p99 = _quantile(phase.answered, 0.99)
    base_p99 = _quantile(base.answered, 0.99)
    return [
        label,
        str(shape),
        polls,
        phase.attempted,
        _quantile(phase.sent, 0.5),
        _quantile(phase.sent, 0.99),
        statistics.median(phase.answered),
        p99,
        max(phase.answered),
        p99 / base_p99 if base_p99 > 0 else float("nan"),
        "yes" if p99 <= GOAL_P99_S else "**no**",
        phase.deferred,
        phase.polls_per_s,
        phase.gateway_cores,
        phase.upstream_cpu_s,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="4x8,1x1", help="clients x destinations, comma list")
    parser.add_argument("--polls", type=int, default=10_000)
    parser.add_argument("--deliveries", type=int, default=1_000)
    parser.add_argument(
        "--lead", type=float, default=3.0, help="seconds from the gateway serving to T"
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="per phase, after T")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    options = parser.parse_args()
    shapes = [Shape.parse(text) for text in options.shapes.split(",")]
    if options.postgres and not asyncio.run(PgDatabase.reachable()):
        raise SystemExit("PostgreSQL does not answer (BENCH_PG_URL)")
    databases = ["SQLite"] + (["PostgreSQL"] if options.postgres else [])
    rows: list[list[object]] = []
    for label in databases:
        for shape in shapes:
            measured: dict[int, Phase] = {}
            for polls in (0, options.polls):  # the baseline first
                with tempfile.TemporaryDirectory(prefix="bench-mixed-") as tmp:
                    pg = PgDatabase() if label == "PostgreSQL" else None
                    url = asyncio.run(pg.create()) if pg else f"sqlite:///{Path(tmp) / 'g.db'}"
                    try:
                        measured[polls] = run_phase(
                            url,
                            shape,
                            polls,
                            options.deliveries,
                            lead_s=options.lead,
                            timeout_s=options.timeout,
                            tmp=Path(tmp),
                        )
                    finally:
                        if pg:
                            asyncio.run(pg.drop())
            for polls, phase in measured.items():
                rows.append(_row(label, shape, polls, phase, measured[0]))
    print_table(
        f"Mixed backlog: {options.deliveries:,} deliveries and N polls all due at T "
        f"(fixed {INTERVAL_S:g}-s polls, default concurrency)",
        [
            "database",
            "clients × destinations",
            "polls due",
            "attempted",
            "sent p50 s",
            "sent p99 s",
            "answered p50 s",
            "answered p99 s",
            "answered max s",
            "p99 vs no polls",
            f"p99 ≤ {GOAL_P99_S:g} s",
            "deferred (given back unsent)",
            "polls/s meanwhile",
            "gateway CPU (cores)",
            "upstream CPU s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
