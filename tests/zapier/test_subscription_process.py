"""A subscription against a real `gateway serve` process: it receives signed events, and a
410 from its target deactivates it (the next job's event is not sent there)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from gateway.testing.processes import GatewayProcess
from gateway.testing.receiver import Receiver
from gateway.testing.waiting import wait_for
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import MockServer
from tests.chaos.harness import KEY, SECRET, gateway_env

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {KEY}"}


def finished(url: str, job_id: str) -> dict[str, Any] | None:
    job: dict[str, Any] = httpx.get(f"{url}/v1/jobs/{job_id}", headers=AUTH, timeout=5).json()
    return job if job["status"] in ("completed", "failed") else None


def run_job(url: str, index: int) -> str:
    response = httpx.post(
        f"{url}/v1/jobs", json={"prompt": f"job {index}", "duration": "5"}, headers=AUTH, timeout=10
    )
    assert 202 == response.status_code, response.text
    job_id: str = response.json()["id"]
    wait_for(lambda: finished(url, job_id), timeout_s=30, what=f"job {index} to finish")
    return job_id


def test_a_subscription_receives_events_and_a_410_deactivates_it(tmp_path: Path) -> None:
    receiver = Receiver()
    receiver.answers.extend([200, 410])
    mock_app = create_mock(MockConfig.fast(queued_s=0.2, generating_s=0.5, spread_s=0.1))
    with MockServer(mock_app) as mock, MockServer(receiver.app()) as hooks:
        gateway = GatewayProcess(
            gateway_env(f"sqlite:///{tmp_path / 'subs.db'}", mock.url),
            log_path=tmp_path / "gateway.log",
        )
        try:
            gateway.start()
            created = httpx.post(
                f"{gateway.url}/v1/subscriptions",
                json={"target_url": f"{hooks.url}/hook", "events": ["completed", "failed"]},
                headers=AUTH,
                timeout=5,
            )
            assert 201 == created.status_code, created.text
            sub_id = created.json()["id"]

            first = run_job(gateway.url, 1)  # its event is received (200)
            wait_for(lambda: len(receiver.received) >= 1, timeout_s=20, what="the first event")
            event = Webhook(SECRET).verify(receiver.received[0].body, receiver.received[0].headers)
            assert (first, "video.generation.completed") == (event["data"]["id"], event["type"])

            second = run_job(gateway.url, 2)  # its event is answered 410: unsubscribed

            def deactivated() -> dict[str, Any] | None:
                subs = httpx.get(f"{gateway.url}/v1/subscriptions", headers=AUTH, timeout=5)
                sub: dict[str, Any] = subs.json()["data"][0]
                return sub if not sub["active"] else None

            sub = wait_for(deactivated, timeout_s=20, what="the subscription to be deactivated")
            assert (sub_id, "gone") == (sub["id"], sub["deactivated_reason"])
            assert second == json.loads(receiver.received[1].body)["data"]["id"]

            third = run_job(gateway.url, 3)  # no destination any more: nothing is sent
            log = httpx.get(f"{gateway.url}/v1/jobs/{third}/deliveries", headers=AUTH).json()
            assert ([], 2) == (log["events"], len(receiver.received))
        finally:
            gateway.kill()  # also when the start itself failed
