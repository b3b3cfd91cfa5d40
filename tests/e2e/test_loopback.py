"""The whole product over real loopback sockets: gateway, mock and receiver each on a port,
the real ticker and clock, and the webhook verified by ``standardwebhooks`` as a receiver would."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from standardwebhooks.webhooks import Webhook

from gateway.testing import CLIENT_KEY as KEY
from gateway.testing import SECRET, live_stack
from gateway.testing.waiting import wait_for
from mock_upstream.testing import Journal


def test_a_job_becomes_a_verified_webhook_over_real_sockets(tmp_path: Path) -> None:
    """POST /v1/jobs over TCP → the ticker submits and polls the mock → a signed POST arrives."""
    with live_stack(tmp_path / "live.db") as live:
        response = httpx.post(
            f"{live.url}/v1/jobs",
            json={"prompt": "a horse", "duration": "5", "callback_url": live.hook_url},
            headers={"Authorization": f"Bearer {KEY}", "X-Request-Source": "test"},
            timeout=10,
        )
        assert 202 == response.status_code, response.text
        job_id = response.json()["id"]
        wait_for(lambda: live.receiver.received, timeout_s=30, what="the webhook")
        job = httpx.get(
            f"{live.url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {KEY}"}
        ).json()
        wait_for(
            lambda: (
                httpx.get(
                    f"{live.url}/v1/jobs/{job_id}",
                    headers={"Authorization": f"Bearer {KEY}"},
                ).json()["delivery"]["state"]
                == "delivered"
            ),
            timeout_s=10,
            what="the delivery to be recorded",
        )
        received = live.receiver.received[0]
        event = Webhook(SECRET).verify(received.body, received.headers)  # real clock, ±5 min
        assert ("video.generation.completed", job_id) == (event["type"], event["data"]["id"])
        assert job["video_url"] == event["data"]["video_url"]
        video = httpx.get(event["data"]["video_url"], timeout=10)
        assert (200, "video/mp4") == (video.status_code, video.headers["content-type"])
        assert b"ftyp" in video.content[:16]
        journal = Journal(live.settings.upstream_url)
        journal.assert_no_violations()
        assert [f"{job_id}.submit.1"] == [
            e["headers"]["x-client-request-id"] for e in journal.submissions()
        ]
        assert json.loads(received.body)["data"]["metadata"] == {}
