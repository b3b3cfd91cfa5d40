"""In flight: many generations at once against the mock — achieved polls per second against the
rate the poll policy demands, lateness of polls, the gateway's peak memory and CPU.

Each run seeds N jobs already submitted (their generations exist in a mock that keeps them
``generating``), due at moments spread over one poll interval, then starts ``gateway serve`` on
that database and reads its ``/metrics`` over a measurement window after one interval of warm-up.
The fixed 15-s policy is used, so the demanded rate is exactly N / 15 polls per second.

``uv run python -m bench.in_flight [--jobs 1000,10000] [--window 30] [--no-postgres]
[--upstream light|mock] [--replicas N]``
(50,000 by hand: ``--jobs 50000``; seeding alone takes a few minutes.)

``--upstream light`` (the default) answers polls from ``bench.light_upstream``, a bare asyncio
responder, so that the gateway is what is measured; ``mock`` uses the full mock upstream.
``--replicas N`` runs N gateway processes on the PostgreSQL database (SQLite runs one).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from bench.common import PgDatabase, Process, free_port, print_table, serve_gateway
from gateway.ids import new_job_id
from gateway.service.clients import create_client
from gateway.store import Store
from gateway.store.schema import jobs

INTERVAL_S = 15.0


async def _create_generations(mock_url: str, count: int) -> list[str]:
    ids: list[str] = []
    todo = iter(range(count))
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=mock_url, limits=limits, timeout=30) as http:

        async def worker() -> None:
            for _ in todo:
                response = await http.post(
                    "/v2/video/generations",
                    json={"model": "alibaba/happyhorse-1-0", "prompt": "bench"},
                    headers={"Authorization": "Bearer bench"},
                )
                response.raise_for_status()
                ids.append(response.json()["id"])

        await asyncio.gather(*(worker() for _ in range(32)))
    return ids


async def _seed(database_url: str, generation_ids: list[str]) -> None:
    store = await Store.open(database_url)
    try:
        now = time.time()
        client = await create_client(store, "bench", now=now)
        rng = random.Random(1)
        rows = [
            {
                "id": new_job_id(),
                "client_id": client.id,
                "status": "generating",
                "request": '{"model":"alibaba/happyhorse-1-0","prompt":"bench"}',
                "model": "alibaba/happyhorse-1-0",
                "callback_url": None,
                "generation_id": generation_id,
                "upstream_status": "generating",
                "created_at": now,
                "updated_at": now,
                "submitted_at": now,
                "deadline_at": now + 36_000,
                # Spread over one interval, starting after the gateway has had time to start.
                "next_run_at": now + 10 + rng.uniform(0, INTERVAL_S),
            }
            for generation_id in generation_ids
        ]
        for start in range(0, len(rows), 2000):
            async with store.db.write() as conn:
                await conn.execute(sa.insert(jobs), rows[start : start + 2000])
    finally:
        await store.close()


Metrics = dict[str, dict[tuple[tuple[str, str], ...], float]]


def _metrics(url: str) -> Metrics:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    out: Metrics = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def _p99_bound(
    before: dict[str, dict[tuple[tuple[str, str], ...], float]],
    after: dict[str, dict[tuple[tuple[str, str], ...], float]],
) -> str:
    """The histogram bucket holding the 99th percentile of polls claimed in the window."""
    buckets = after.get("gateway_work_lateness_seconds_bucket", {})
    deltas = []
    for labels, value in buckets.items():
        label = dict(labels)
        if label.get("kind") != "poll":
            continue
        earlier = before.get("gateway_work_lateness_seconds_bucket", {}).get(labels, 0.0)
        deltas.append((float(label["le"]), value - earlier))
    deltas.sort()
    if not deltas or deltas[-1][1] == 0:
        return "-"
    total = deltas[-1][1]
    for bound, cumulative in deltas:
        if cumulative >= 0.99 * total:
            return f"≤ {bound:g}" if bound != float("inf") else "> 60"
    return "-"


def _polls(metrics: dict[str, dict[tuple[tuple[str, str], ...], float]]) -> float:
    return sum(metrics.get("gateway_polls_total", {}).values())


def _merged(readings: list[dict[str, dict[tuple[tuple[str, str], ...], float]]]) -> Metrics:
    """The metrics of several replicas, summed sample by sample."""
    out: Metrics = {}
    for reading in readings:
        for name, samples in reading.items():
            merged = out.setdefault(name, {})
            for labels, value in samples.items():
                merged[labels] = merged.get(labels, 0.0) + value
    return out


def run_one(
    label: str,
    database_url: str,
    count: int,
    window_s: float,
    tmp: Path,
    *,
    upstream: str = "light",
    replicas: int = 1,
) -> list[object]:
    mock_port = free_port()
    mock = Process(
        [
            "-m",
            "bench.light_upstream" if upstream == "light" else "bench.slow_mock",
            str(mock_port),
        ],
        port=mock_port,
        log=tmp / "mock.log",
        health_path="/__mock/requests?limit=1",
    )
    try:
        if upstream == "light":
            generation_ids = [f"gen_{i}" for i in range(count)]
        else:
            generation_ids = asyncio.run(_create_generations(mock.url, count))
        asyncio.run(_seed(database_url, generation_ids))
        gateways = [
            serve_gateway(
                {
                    "GATEWAY_DATABASE_URL": database_url,
                    "GATEWAY_UPSTREAM_URL": mock.url,
                    "GATEWAY_POLL_POLICY": "fixed",
                    "GATEWAY_POLL_INTERVAL_S": str(INTERVAL_S),
                    "GATEWAY_REPLICA_ID": f"bench-{n}",
                },
                log=tmp / f"gateway-{n}.log",
            )
            for n in range(replicas)
        ]
        try:
            time.sleep(10 + INTERVAL_S)  # the first round of polls: warm-up, not measured
            before = _merged([_metrics(g.url) for g in gateways])
            cpu_before = sum(g.cpu_seconds() for g in gateways)
            mock_cpu_before, started = mock.cpu_seconds(), time.monotonic()
            time.sleep(window_s)  # the measurement window
            after = _merged([_metrics(g.url) for g in gateways])
            cpu_after = sum(g.cpu_seconds() for g in gateways)
            mock_cpu_after, elapsed = mock.cpu_seconds(), time.monotonic() - started
            achieved = (_polls(after) - _polls(before)) / elapsed
            demanded = count / INTERVAL_S
            return [
                label if replicas == 1 else f"{label} × {replicas}",
                count,
                demanded,
                achieved,
                achieved / demanded,
                _p99_bound(before, after),
                max(g.peak_rss_mb() for g in gateways),
                (cpu_after - cpu_before) / elapsed,
                1000 * (cpu_after - cpu_before) / max(1.0, _polls(after) - _polls(before)),
                f"{upstream} {(mock_cpu_after - mock_cpu_before) / elapsed:.2f}",
            ]
        finally:
            for gateway in gateways:
                gateway.stop()
    finally:
        mock.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", default="1000,10000")
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--upstream", choices=("light", "mock"), default="light")
    parser.add_argument("--replicas", type=int, default=1, help="gateways on PostgreSQL")
    options = parser.parse_args()
    sizes = [int(n) for n in options.jobs.split(",")]
    use_pg = not options.no_postgres and asyncio.run(PgDatabase.reachable())
    rows: list[list[object]] = []
    for count in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-in-flight-") as tmp:
            if not options.no_sqlite:
                sqlite_url = f"sqlite:///{Path(tmp) / 'g.db'}"
                rows.append(
                    run_one(
                        "SQLite",
                        sqlite_url,
                        count,
                        options.window,
                        Path(tmp),
                        upstream=options.upstream,
                    )
                )
            if use_pg:
                pg = PgDatabase()
                try:
                    rows.append(
                        run_one(
                            "PostgreSQL",
                            asyncio.run(pg.create()),
                            count,
                            options.window,
                            Path(tmp),
                            upstream=options.upstream,
                            replicas=options.replicas,
                        )
                    )
                finally:
                    asyncio.run(pg.drop())
    print_table(
        f"In flight: fixed {INTERVAL_S:g}-s polls, {options.window:g}-s window "
        "after one interval of warm-up",
        [
            "database",
            "jobs in flight",
            "demanded polls/s",
            "achieved polls/s",
            "achieved/demanded",
            "p99 lateness s (bucket)",
            "peak RSS MB",
            "gateway CPU (cores)",
            "gateway CPU ms per poll",
            "upstream CPU (cores)",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
