"""The whole product over real loopback sockets: gateway, mock and receiver each on a port,
the real ticker and clock, and the webhook verified by ``standardwebhooks`` as a receiver would."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from standardwebhooks.webhooks import Webhook

from gateway.http.app import create_app
from gateway.settings import Settings
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import Journal, MockServer
from tests.e2e.receiver import Receiver
from tests.waiting import wait_for

KEY = "gw_loopback_key_0123456789abcdef"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_a_job_becomes_a_verified_webhook_over_real_sockets(tmp_path: Path) -> None:
    """POST /v1/jobs over TCP → the ticker submits and polls the mock → a signed POST arrives."""
    receiver = Receiver()
    mock_app = create_mock(MockConfig.fast(strict=True, expected_key="upstream-key"))
    with MockServer(mock_app) as mock, MockServer(receiver.app()) as hooks:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'loopback.db'}",
            upstream_url=mock.url,
            aimlapi_key="upstream-key",
            client_api_key=KEY,
            client_webhook_secret=SECRET,
            callback_allowlist=("127.0.0.0/8",),
            poll_policy="fixed",
            poll_interval_s=0.5,
            poll_floor_s=0.2,
            tick_interval_s=0.1,
        )
        with MockServer(create_app(settings)) as gateway:
            response = httpx.post(
                f"{gateway.url}/v1/jobs",
                json={"prompt": "a horse", "duration": "5", "callback_url": f"{hooks.url}/hook"},
                headers={"Authorization": f"Bearer {KEY}", "X-Request-Source": "test"},
                timeout=10,
            )
            assert 202 == response.status_code, response.text
            job_id = response.json()["id"]
            wait_for(lambda: receiver.received, timeout_s=30, what="the webhook")
            job = httpx.get(
                f"{gateway.url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {KEY}"}
            ).json()
            wait_for(
                lambda: (
                    httpx.get(
                        f"{gateway.url}/v1/jobs/{job_id}",
                        headers={"Authorization": f"Bearer {KEY}"},
                    ).json()["delivery"]["state"]
                    == "delivered"
                ),
                timeout_s=10,
                what="the delivery to be recorded",
            )
        received = receiver.received[0]
        event = Webhook(SECRET).verify(received.body, received.headers)  # real clock, ±5 min
        assert ("video.generation.completed", job_id) == (event["type"], event["data"]["id"])
        assert job["video_url"] == event["data"]["video_url"]
        video = httpx.get(event["data"]["video_url"], timeout=10)
        assert (200, "video/mp4") == (video.status_code, video.headers["content-type"])
        assert b"ftyp" in video.content[:16]
        journal = Journal(mock.url)
        journal.assert_no_violations()
        assert [f"{job_id}.submit.1"] == [
            e["headers"]["x-client-request-id"] for e in journal.submissions()
        ]
        assert json.loads(received.body)["data"]["metadata"] == {}
