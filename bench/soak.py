"""Soak: one gateway on SQLite under a steady load for a long time — do memory, open files and
the database level off?

One ``gateway serve`` on a SQLite file, the mock upstream with fast timings (a job ends about
3 s after submission), and ``bench.receiver`` as every webhook destination. A few clients, each
with a few subscriptions (REST hooks); jobs are fed at a steady rate, round robin over the
clients, every other one with a ``callback_url`` (one webhook) and the rest fanned out to the
client's subscriptions. The retention is short (``--retention``, seconds) so that the sweeper
removes old jobs during the run. Every ``--sample`` seconds it reads the gateway's resident
memory and open file descriptors (``/proc``), the database's size on disk (the file and its
``-wal``), the jobs in it (``/metrics``) and the webhooks received, prints the line at once,
and at the end prints the curve as a table and the change over the second half of the run.

By hand (an hour by default): ``uv run python -m bench.soak [--minutes 60] [--rate 5]
[--clients 3] [--subscriptions 3] [--sample 60] [--retention 120]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.common import Process, free_port, print_table, serve_gateway
from gateway.testing import GatewayProcess

ADMIN_KEY = "bench-admin-key-0123456789abcdef"


@dataclass(frozen=True)
class Sample:
    at_s: float
    rss_mb: float
    fds: int
    db_mb: float
    jobs: float
    accepted: int
    refused: int
    received: int

    def row(self) -> list[object]:
        return [
            f"{self.at_s / 60:.1f}",
            self.rss_mb,
            int(self.fds),
            self.db_mb,
            int(self.jobs),
            int(self.accepted),
            int(self.refused),
            int(self.received),
        ]


HEADER = [
    "minute",
    "RSS MB",
    "open fds",
    "db MB (file + wal)",
    "jobs in db",
    "accepted",
    "refused",
    "webhooks received",
]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def db_mb(path: Path) -> float:
    total = 0
    for one in (path, path.with_name(path.name + "-wal")):
        if one.exists():
            total += one.stat().st_size
    return total / 2**20


def jobs_in_db(metrics_text: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "gateway_jobs":
            total += sum(sample.value for sample in family.samples)
    return total


class Feeder:
    """Submits jobs at a steady rate, round robin over the clients' keys."""

    def __init__(self, http: httpx.AsyncClient, keys: list[str], callback: str, rate: float):
        self.http, self.keys, self.callback, self.rate = http, keys, callback, rate
        self.accepted = 0
        self.refused = 0
        self.tasks: set[asyncio.Task[None]] = set()

    async def one(self, n: int) -> None:
        body: dict[str, object] = {"prompt": f"soak {n}", "metadata": {"n": str(n)}}
        if n % 2 == 0:
            body["callback_url"] = self.callback
        headers = {"Authorization": f"Bearer {self.keys[n % len(self.keys)]}"}
        if n % 3 == 0:
            headers["Idempotency-Key"] = f"soak-{n}"
        try:
            response = await self.http.post("/v1/jobs", json=body, headers=headers)
        except httpx.HTTPError:
            self.refused += 1
            return
        if response.status_code == 202:
            self.accepted += 1
        else:
            self.refused += 1

    async def run(self, until: float) -> None:
        loop = asyncio.get_running_loop()
        start, n = loop.time(), 0
        while loop.time() < until:
            task = asyncio.ensure_future(self.one(n))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            n += 1
            await asyncio.sleep(max(0.0, start + n / self.rate - loop.time()))  # the pace
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=30)


async def set_up(gateway_url: str, receiver_ports: list[int], clients: int, subs: int) -> list[str]:
    """Clients made with the admin API, each with ``subs`` subscriptions; their keys."""
    keys: list[str] = []
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as http:
        for c in range(clients):
            made = await http.post(
                "/v1/admin/clients",
                json={"name": f"soak-{c}"},
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            )
            made.raise_for_status()
            key = made.json()["api_key"]
            keys.append(key)
            for s in range(subs):
                port = receiver_ports[(c * subs + s) % len(receiver_ports)]
                sub = await http.post(
                    "/v1/subscriptions",
                    json={"target_url": f"http://127.0.0.1:{port}/sub/{c}/{s}"},
                    headers={"Authorization": f"Bearer {key}"},
                )
                sub.raise_for_status()
    return keys


async def soak(
    gateway: GatewayProcess,
    receiver: Process,
    db_path: Path,
    keys: list[str],
    options: argparse.Namespace,
) -> list[Sample]:
    assert gateway.process is not None
    pid = gateway.process.pid
    samples: list[Sample] = []
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with (
        httpx.AsyncClient(base_url=gateway.url, limits=limits, timeout=60) as http,
        httpx.AsyncClient(timeout=10) as probe,
    ):
        loop = asyncio.get_running_loop()
        started = loop.time()
        until = started + options.minutes * 60
        feeder = Feeder(http, keys, f"{receiver.url}/callback", options.rate)
        feeding = asyncio.ensure_future(feeder.run(until))
        next_at = started
        while True:
            metrics = (await probe.get(f"{gateway.url}/metrics")).text
            received = int((await probe.get(f"{receiver.url}/count")).text)
            sample = Sample(
                at_s=loop.time() - started,
                rss_mb=rss_mb(pid),
                fds=open_fds(pid),
                db_mb=db_mb(db_path),
                jobs=jobs_in_db(metrics),
                accepted=feeder.accepted,
                refused=feeder.refused,
                received=received,
            )
            samples.append(sample)
            print(" | ".join(str(cell) for cell in sample.row()), flush=True)
            if feeding.done():
                break
            next_at += options.sample
            await asyncio.wait({feeding}, timeout=max(0.0, next_at - loop.time()))
        await feeding
    return samples


def second_half(samples: list[Sample]) -> str:
    """The change of each reading over the second half of the run, per 10 minutes."""
    if len(samples) < 3:
        return "too few samples"
    half = [s for s in samples if s.at_s >= samples[-1].at_s / 2]
    first, last = half[0], half[-1]
    span_min = max((last.at_s - first.at_s) / 60, 1e-9)

    def per_10(a: float, b: float) -> str:
        return f"{(b - a) / span_min * 10:+.1f}"

    return (
        f"second half ({first.at_s / 60:.1f}-{last.at_s / 60:.1f} min), per 10 minutes: "
        f"RSS {per_10(first.rss_mb, last.rss_mb)} MB, fds {per_10(first.fds, last.fds)}, "
        f"db {per_10(first.db_mb, last.db_mb)} MB, jobs in db {per_10(first.jobs, last.jobs)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=5.0, help="jobs per second")
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--subscriptions", type=int, default=3, help="per client")
    parser.add_argument("--sample", type=float, default=60.0, help="seconds between samples")
    parser.add_argument(
        "--retention", type=float, default=120.0, help="GATEWAY_JOB_RETENTION_S (seconds)"
    )
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gw-soak-") as folder:
        tmp = Path(folder)
        mock_port = free_port()
        mock = Process(
            ["-m", "mock_upstream.cli", "--port", str(mock_port), "--timings", "fast"],
            port=mock_port,
            log=tmp / "mock.log",
            health_path="/__mock/requests?limit=1",
        )
        receiver_ports = [free_port() for _ in range(3)]
        receiver = Process(
            ["-m", "bench.receiver", *map(str, receiver_ports)],
            port=receiver_ports[0],
            log=tmp / "receiver.log",
        )
        db_path = tmp / "soak.db"
        gateway = None
        try:
            gateway = serve_gateway(
                {
                    "GATEWAY_DATABASE_URL": f"sqlite:///{db_path}",
                    "GATEWAY_UPSTREAM_URL": mock.url,
                    "GATEWAY_ADMIN_KEY": ADMIN_KEY,
                    "GATEWAY_CALLBACK_ALLOWLIST": "127.0.0.1/32",
                    "GATEWAY_POLL_POLICY": "fixed",
                    "GATEWAY_POLL_INTERVAL_S": "1",
                    "GATEWAY_RATE_LIMIT_PER_MINUTE": "100000",
                    "GATEWAY_JOB_RETENTION_S": str(options.retention),
                    "GATEWAY_IDEMPOTENCY_TTL_S": str(min(options.retention, 86400.0)),
                },
                log=tmp / "gateway.log",
            )
            keys = asyncio.run(
                set_up(gateway.url, receiver_ports, options.clients, options.subscriptions)
            )
            print(" | ".join(HEADER), flush=True)
            began = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
            samples = asyncio.run(soak(gateway, receiver, db_path, keys, options))
            title = (
                f"Soak, {began}: {options.minutes:g} min, {options.rate:g} jobs/s, "
                f"{options.clients} clients × {options.subscriptions} subscriptions, "
                f"retention {options.retention:g} s"
            )
            print_table(title, HEADER, [s.row() for s in samples])
            print(second_half(samples))
            errors = [
                line
                for line in (tmp / "gateway.log").read_text(errors="replace").splitlines()
                if '"level": "error"' in line or '"level":"error"' in line
            ]
            print(f"gateway error lines: {len(errors)}")
            for line in errors[:5]:
                print("  " + line[:300])
        finally:
            if gateway is not None:
                gateway.stop()
            receiver.stop()
            mock.stop()


if __name__ == "__main__":
    main()
