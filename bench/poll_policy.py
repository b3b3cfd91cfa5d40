"""Notification lag and upstream calls: the adaptive poll policy against the fixed 15-s loop.

Two parts, each printing one table:

* **simulation** — the pure policies over a virtual clock, thousands of jobs whose generation
  times follow N(150 s, 15 s) with 5 % stuck in a long queue (+60 to 120 s); the adaptive
  policy learns from 200 earlier jobs. Seconds of CPU.
* **end to end** (``--e2e``) — the real gateway process against the mock with every time
  compressed ten-fold (a 150-s generation takes 15 s; the fixed loop polls every 1.5 s):
  upstream GETs per job counted by the mock, lag from the mock's completion time to the
  webhook's arrival at a loopback receiver. The adaptive run first learns from warm-up jobs,
  then the gateway restarts and reads what it learned back from the database.

``uv run python -m bench.poll_policy [--jobs 5000] [--e2e] [--e2e-jobs 40]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import Inbox, print_table, serve_gateway
from gateway.domain.poll_simulation import learn, realistic_generation_times, simulate
from gateway.domain.polling import AdaptivePollPolicy, FixedPollPolicy, PollPolicy
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import MockServer

COMPRESSION = 10.0
API_KEY = "gw_bench_poll_policy_key_0123456789"


def simulation(jobs: int, seed: int) -> None:
    rng = random.Random(seed)
    learned = learn(realistic_generation_times(rng, 200))
    ready = realistic_generation_times(rng, jobs)
    policies: list[tuple[str, PollPolicy]] = [
        ("fixed 15 s (the seed's loop)", FixedPollPolicy(interval_s=15)),
        ("fixed 5 s", FixedPollPolicy(interval_s=5)),
        ("fixed 2 s", FixedPollPolicy(interval_s=2)),
    ]
    for window in (5, 7, 9, 13, 21, 25):
        label = f"adaptive, window_polls={window}" + (" (default)" if window == 7 else "")
        policies.append((label, AdaptivePollPolicy(window_polls=window)))
    baseline = simulate(policies[0][1], ready, learned)
    rows: list[list[object]] = []
    for label, policy in policies:
        figures = simulate(policy, ready, learned)
        rows.append(
            [
                label,
                figures.calls_per_job,
                figures.calls_per_job / baseline.calls_per_job,
                figures.mean_lag_s,
                figures.p95_lag_s,
            ]
        )
    print_table(
        f"Poll policy, simulated: {jobs:,} jobs, N(150 s, 15 s) + 5 % long queues, seed {seed}",
        ["policy", "upstream GETs/job", "ratio vs fixed 15 s", "mean lag s", "p95 lag s"],
        rows,
    )


def _gateway_env(database_url: str, mock_url: str, policy: str) -> dict[str, str]:
    c = COMPRESSION
    return {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_UPSTREAM_URL": mock_url,
        "GATEWAY_CLIENT_API_KEY": API_KEY,
        "GATEWAY_CALLBACK_ALLOWLIST": "127.0.0.1/32",
        "GATEWAY_POLL_POLICY": policy,
        "GATEWAY_POLL_INTERVAL_S": str(15 / c),
        "GATEWAY_POLL_FLOOR_S": str(2 / c),
        "GATEWAY_POLL_CEILING_S": str(30 / c),
        "GATEWAY_TICK_INTERVAL_S": str(1 / c),
    }


def _run_jobs(gateway_url: str, inbox_url: str, inbox: Inbox, count: int) -> list[str]:
    """Submit ``count`` jobs a quarter of a second apart and wait (bounded) for every webhook."""
    ids = []
    with httpx.Client(base_url=gateway_url, timeout=10) as http:
        for i in range(count):
            response = http.post(
                "/v1/jobs",
                json={"prompt": f"bench {i}", "duration": 5, "callback_url": inbox_url},
                headers={"Authorization": f"Bearer {API_KEY}"},
            )
            response.raise_for_status()
            ids.append(response.json()["id"])
            time.sleep(0.25)  # pacing the load generator, not waiting for a result
    deadline = time.monotonic() + 600 / COMPRESSION + 60
    while time.monotonic() < deadline:
        with inbox.lock:
            if all(job_id in inbox.arrivals for job_id in ids):
                return ids
        time.sleep(0.2)
    raise RuntimeError("not every webhook arrived in time")


def end_to_end(count: int, warmup: int) -> None:
    config = MockConfig(queued_s=20 / COMPRESSION, generating_s=130 / COMPRESSION, spread_s=1.5)
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp:
        inbox = Inbox()
        mock = create_mock(config)
        with MockServer(mock) as upstream, MockServer(inbox) as receiver:
            inbox_url = f"{receiver.url}/hooks"
            for policy in ("fixed", "adaptive"):
                database_url = f"sqlite:///{Path(tmp) / f'{policy}.db'}"
                phases = [("warm-up", warmup), ("measured", count)]
                if policy == "fixed":
                    phases = [("measured", count)]
                for phase, jobs in phases:
                    gateway = serve_gateway(
                        _gateway_env(database_url, upstream.url, policy),
                        log=Path(tmp) / f"{policy}.log",
                    )
                    try:
                        ids = _run_jobs(gateway.url, inbox_url, inbox, jobs)
                    finally:
                        gateway.stop()  # the adaptive run restarts: it must read what it learned
                    if phase != "measured":
                        continue
                    lags, polls = [], []
                    for job_id in ids:
                        arrived, data = inbox.arrivals[job_id]
                        generation_id = data.get("generation_id")
                        mock_job = mock.state.mock.jobs[generation_id]
                        lags.append((arrived - mock_job.done_at) * COMPRESSION)
                        polls.append(mock_job.polls)
                    lags.sort()
                    rows.append(
                        [
                            policy,
                            len(ids),
                            statistics.fmean(polls),
                            statistics.fmean(lags),
                            lags[min(len(lags) - 1, int(0.95 * len(lags)))],
                        ]
                    )
    baseline = rows[0][2]
    for row in rows:
        row.insert(3, float(row[2]) / float(baseline))  # type: ignore[arg-type]
    print_table(
        f"Poll policy, end to end against the mock, times compressed {COMPRESSION:.0f}x "
        "(lags scaled back to real seconds)",
        ["policy", "jobs", "upstream GETs/job", "ratio vs fixed", "mean lag s", "p95 lag s"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--e2e", action="store_true", help="also run end to end against the mock")
    parser.add_argument("--e2e-jobs", type=int, default=40)
    parser.add_argument("--warmup-jobs", type=int, default=20)
    options = parser.parse_args()
    started = time.process_time()
    simulation(options.jobs, options.seed)
    print(f"(simulation: {time.process_time() - started:.1f} s of CPU)")
    if options.e2e:
        end_to_end(options.e2e_jobs, options.warmup_jobs)


if __name__ == "__main__":
    main()
