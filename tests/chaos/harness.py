"""The crash-recovery experiment: jobs flow while the gateway is SIGKILLed and restarted.

Used by the normal test suite in a small form, and runnable by hand in a larger one::

    CHAOS_JOBS=200 CHAOS_KILLS=25 CHAOS_SEED=7 uv run pytest tests/chaos -s -m slow
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

from gateway.testing.processes import GatewayProcess
from gateway.testing.receiver import Receiver
from gateway.testing.waiting import wait_for
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import MockServer

KEY = "gw_chaos_key_0123456789abcdef"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TERMINAL = {"video.generation.completed", "video.generation.failed"}


@dataclass
class ChaosReport:
    jobs: int
    kills: int
    webhooks_received: int
    duplicate_receipts: int  # the same event received again (allowed: same webhook-id)
    jobs_with_two_terminal_events: int  # never allowed
    lost: int  # accepted jobs with no terminal webhook: must be 0
    double_submissions: int  # jobs POSTed upstream more than once: must be 0
    completed: int
    failed_outcome_unknown: int
    failed_other: int

    def __str__(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.__dict__.items())


def gateway_env(database_url: str, upstream_url: str, **extra: str) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_UPSTREAM_URL": upstream_url,
        "AIMLAPI_KEY": "upstream-key",
        "GATEWAY_CLIENT_API_KEY": KEY,
        "GATEWAY_CLIENT_WEBHOOK_SECRET": SECRET,
        "GATEWAY_CALLBACK_ALLOWLIST": "127.0.0.0/8",
        "GATEWAY_POLL_POLICY": "fixed",
        "GATEWAY_POLL_INTERVAL_S": "0.3",
        "GATEWAY_POLL_FLOOR_S": "0.1",
        "GATEWAY_TICK_INTERVAL_S": "0.1",
        "GATEWAY_LEASE_S": "2",
        "GATEWAY_DELIVERY_SCHEDULE": "0,0.3,0.6,1,1,1,1,1,1,1,1,1,1,1,1,1",
        "GATEWAY_DELIVERY_JITTER": "0",
        "GATEWAY_SHUTDOWN_GRACE_S": "2",
        "GATEWAY_RATE_LIMIT_PER_MINUTE": "100000",
        "GATEWAY_MAX_IN_FLIGHT_PER_CLIENT": "100000",
        **extra,
    }


def submit(url: str, index: int, callback: str) -> str | None:
    """One job with an idempotency key (a retried request never makes a second job)."""
    try:
        response = httpx.post(
            f"{url}/v1/jobs",
            json={"prompt": f"chaos job {index}", "duration": "5", "callback_url": callback},
            headers={"Authorization": f"Bearer {KEY}", "Idempotency-Key": f"chaos-{index}"},
            timeout=10,
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 202:
        return None
    job_id: str = response.json()["id"]
    return job_id


def run_chaos(tmp_path: Path, *, jobs: int, kills: int, seed: int) -> ChaosReport:
    rng = random.Random(seed)
    receiver = Receiver()
    # Some receiver failures too, so kills also land mid-delivery and between retries.
    receiver.answers.extend(rng.choice([200, 200, 200, 500]) for _ in range(jobs * 2))
    mock_app = create_mock(MockConfig.fast(queued_s=0.3, generating_s=1.0, spread_s=0.3, seed=seed))
    mock_state = mock_app.state.mock
    with MockServer(mock_app) as mock, MockServer(receiver.app()) as hooks, ExitStack() as stack:
        callback = f"{hooks.url}/hook"
        env = gateway_env(f"sqlite:///{tmp_path / 'chaos.db'}", mock.url)
        gateway = GatewayProcess(env, log_path=tmp_path / "gateway.log")
        stack.callback(gateway.kill)  # a failed or timed-out run leaves no gateway behind
        gateway.start()
        # Kill at moments chosen by upstream traffic (each request a step of progress), so
        # kills land in every state: accepting, submitting, polling, delivering.
        horizon = max(kills + 4, jobs * 3)
        kill_points = sorted(rng.sample(range(3, horizon), kills))
        done_kills = 0
        accepted: dict[int, str] = {}

        def maybe_kill() -> None:
            nonlocal done_kills
            while done_kills < kills and len(mock_state.journal) >= kill_points[done_kills]:
                gateway.kill()
                done_kills += 1
                gateway.start()

        for index in range(jobs):
            job_id = wait_for(
                lambda i=index: submit(gateway.url, i, callback), timeout_s=30, what="a 202"
            )
            accepted[index] = job_id
            maybe_kill()
        while done_kills < kills:
            try:
                wait_for(
                    lambda: len(mock_state.journal) >= kill_points[done_kills],
                    timeout_s=5,
                    what="upstream traffic",
                )
            except AssertionError:  # traffic ended first (jobs finished): kill now instead
                kill_points[done_kills] = 0
            maybe_kill()

        def terminal_jobs() -> set[str]:
            seen = set()
            for received in list(receiver.received):
                event = json.loads(received.body)
                if event["type"] in TERMINAL:
                    seen.add(event["data"]["id"])
            return seen

        wanted = set(accepted.values())
        wait_for(lambda: wanted <= terminal_jobs(), timeout_s=90, what="every terminal webhook")
        gateway.stop()

    terminal_ids: dict[str, set[str]] = defaultdict(set)
    outcomes: dict[str, tuple[str, str | None]] = {}
    for received in receiver.received:
        event = json.loads(received.body)
        if event["type"] in TERMINAL:
            job = event["data"]
            terminal_ids[job["id"]].add(received.headers["webhook-id"])
            outcomes[job["id"]] = (job["status"], (job.get("error") or {}).get("code"))
    receipts = Counter(receiver.ids())
    submissions = Counter(
        e["headers"]["x-client-request-id"].split(".", 1)[0]
        for e in mock_state.journal
        if e["method"] == "POST"
    )
    return ChaosReport(
        jobs=len(accepted),
        kills=done_kills,
        webhooks_received=len(receiver.received),
        duplicate_receipts=sum(n - 1 for n in receipts.values() if n > 1),
        jobs_with_two_terminal_events=sum(1 for ids in terminal_ids.values() if len(ids) > 1),
        lost=len(wanted - set(terminal_ids)),
        double_submissions=sum(1 for n in submissions.values() if n > 1),
        completed=sum(1 for s, _ in outcomes.values() if s == "completed"),
        failed_outcome_unknown=sum(
            1 for _, c in outcomes.values() if c == "submission_outcome_unknown"
        ),
        failed_other=sum(
            1 for s, c in outcomes.values() if s == "failed" and c != "submission_outcome_unknown"
        ),
    )
