"""Several `gateway serve` processes on one PostgreSQL database, over loopback.

(1) Work spreads across replicas; each job is submitted once and polled by one replica at a time.
(2) A replica SIGKILLed mid-run: the others take its work over; nothing lost, nothing doubled.
(3) A replica stalled (SIGSTOP) past its lease, then resumed: its late writes are refused.
"""

from __future__ import annotations

import itertools
import json
import re
import signal
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.testing.processes import GatewayProcess
from gateway.testing.receiver import Receiver
from gateway.testing.waiting import wait_for
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import MockServer
from tests.chaos.harness import TERMINAL, gateway_env, submit
from tests.pg import fresh_database_sync, require_pg

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
_REPLICA = re.compile(r"\((r\d+)\)")


@dataclass
class Cluster:
    replicas: list[GatewayProcess]
    mock_state: Any
    receiver: Receiver
    callback: str

    def terminal_jobs(self) -> set[str]:
        seen = set()
        for received in list(self.receiver.received):
            event = json.loads(received.body)
            if event["type"] in TERMINAL:
                seen.add(event["data"]["id"])
        return seen

    def submissions_per_job(self) -> Counter[str]:
        return Counter(
            e["headers"]["x-client-request-id"].split(".", 1)[0]
            for e in list(self.mock_state.journal)
            if e["method"] == "POST"
        )

    def overlapping_polls(self) -> int:
        """Pairs of polls of one generation whose request times intersect: two at once."""
        by_generation: dict[str, list[tuple[float, float]]] = {}
        for e in list(self.mock_state.journal):
            if e["method"] == "GET" and e.get("generation_id"):
                end = e.get("finished", float("inf"))
                by_generation.setdefault(e["generation_id"], []).append((e["time"], end))
        overlaps = 0
        for spans in by_generation.values():
            spans.sort()
            for (_, end), (start, _) in itertools.pairwise(spans):
                overlaps += start < end
        return overlaps

    def replicas_that_polled(self) -> set[str]:
        found = set()
        for e in list(self.mock_state.journal):
            match = _REPLICA.search(e["headers"].get("user-agent", ""))
            if match and e["method"] == "GET":
                found.add(match.group(1))
        return found

    def in_flight_from(self, replica_id: str) -> list[dict[str, Any]]:
        """Upstream requests of one replica that the mock has not answered yet."""
        return [
            e
            for e in list(self.mock_state.journal)
            if "finished" not in e and f"({replica_id})" in e["headers"].get("user-agent", "")
        ]

    def metric(self, replica: GatewayProcess, name: str) -> float:
        text = httpx.get(f"{replica.url}/metrics", timeout=5).text
        match = re.search(rf"^{name} ([0-9.e+]+)$", text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0


@contextmanager
def cluster(tmp_path: Path, count: int, mock: MockConfig, **env: str) -> Iterator[Cluster]:
    require_pg()
    receiver = Receiver()
    mock_app = create_mock(mock)
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database_sync())
        upstream = stack.enter_context(MockServer(mock_app))
        hooks = stack.enter_context(MockServer(receiver.app()))
        base = gateway_env(url, upstream.url, GATEWAY_LEASE_S="2", **env)
        replicas = [
            GatewayProcess(
                {**base, "GATEWAY_REPLICA_ID": f"r{i}"}, log_path=tmp_path / f"replica{i}.log"
            )
            for i in range(count)
        ]
        stack.callback(lambda: [r.kill() for r in replicas])
        for replica in replicas:  # each start runs the migrations: concurrent-safe by design
            replica.start()
        yield Cluster(replicas, mock_app.state.mock, receiver, f"{hooks.url}/hook")


def _submit_round_robin(c: Cluster, count: int, offset: int = 0) -> set[str]:
    ids = set()
    alive = [r for r in c.replicas if r.alive]
    for index in range(offset, offset + count):
        replica = alive[index % len(alive)]
        job_id = wait_for(
            lambda r=replica, i=index: submit(r.url, i, c.callback), timeout_s=30, what="a 202"
        )
        ids.add(job_id)
    return ids


FAST = MockConfig.fast(queued_s=0.3, generating_s=1.0, spread_s=0.3)


def test_replicas_share_work_submit_once_and_never_poll_together(tmp_path: Path) -> None:
    """150 jobs over three replicas: all delivered, one submission each, no overlapping polls."""
    with cluster(tmp_path, 3, FAST) as c:
        wanted = _submit_round_robin(c, 150)
        wait_for(lambda: wanted <= c.terminal_jobs(), timeout_s=120, what="all webhooks")
        per_job = c.submissions_per_job()
        report = {
            "jobs": len(wanted),
            "double_submissions": sum(1 for n in per_job.values() if n > 1),
            "overlapping_polls": c.overlapping_polls(),
            "replicas_polling": sorted(c.replicas_that_polled()),
        }
        print(f"\nreplicas: {report}")
        assert (150, 0, 0) == (
            len(per_job),
            report["double_submissions"],
            report["overlapping_polls"],
        )
        assert len(report["replicas_polling"]) >= 2


def test_a_killed_replicas_work_is_taken_over(tmp_path: Path) -> None:
    """SIGKILL one of three mid-run: 0 lost, 0 double submissions, 0 overlaps; takeovers seen."""
    slowish = FAST.with_(default_scenario="slow_0.3")  # requests take time: r0 dies mid-request
    with cluster(tmp_path, 3, slowish) as c:
        wanted = _submit_round_robin(c, 90)
        wait_for(lambda: len(c.terminal_jobs()) >= 20, timeout_s=60, what="progress")
        wait_for(lambda: c.in_flight_from("r0"), timeout_s=30, what="r0 busy upstream")
        c.replicas[0].kill()  # mid-request: it dies holding leases
        wanted |= _submit_round_robin(c, 30, offset=1000)
        wait_for(lambda: wanted <= c.terminal_jobs(), timeout_s=120, what="all webhooks")
        per_job = c.submissions_per_job()
        takeovers = c.metric(c.replicas[1], "gateway_leases_taken_over")
        report = {
            "jobs": len(wanted),
            "lost": len(wanted - c.terminal_jobs()),
            "double_submissions": sum(1 for n in per_job.values() if n > 1),
            "overlapping_polls": c.overlapping_polls(),
            "takeovers": takeovers,
        }
        print(f"\nreplica killed: {report}")
        assert (0, 0, 0) == (
            report["lost"],
            report["double_submissions"],
            report["overlapping_polls"],
        )
        assert report["takeovers"] >= 1


def test_a_stalled_replicas_late_writes_are_refused(tmp_path: Path) -> None:
    """SIGSTOP a replica mid-request past its lease; after SIGCONT its writes are fenced off."""
    slow = MockConfig.fast(queued_s=0.3, generating_s=3.0, spread_s=0.1, default_scenario="slow_1")
    with cluster(tmp_path, 2, slow) as c:
        stalled, other = c.replicas
        wanted = _submit_round_robin(c, 6)

        wait_for(lambda: c.in_flight_from("r0"), timeout_s=30, what="a request in flight from r0")
        stalled.signal(signal.SIGSTOP)
        try:
            # The lease (2 s) runs out; r1 claims r0's work and talks to the upstream about it.
            wait_for(
                lambda: c.metric(other, "gateway_leases_taken_over") >= 1,
                timeout_s=30,
                what="r1 to take over",
            )
        finally:
            stalled.signal(signal.SIGCONT)
        wait_for(
            lambda: c.metric(stalled, "gateway_fenced_writes_refused_total") >= 1,
            timeout_s=30,
            what="r0's late write to be refused",
        )
        wait_for(lambda: wanted <= c.terminal_jobs(), timeout_s=120, what="all webhooks")
        per_job = c.submissions_per_job()
        assert 0 == sum(1 for n in per_job.values() if n > 1)
