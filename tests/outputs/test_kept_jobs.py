"""Kept videos end to end (issue 26, "Done when"): a real gateway, the mock upstream on a
socket whose video links die seconds after the job completes, a receiver that is down for a
while — and the webhook it finally gets points at the gateway's own copy, which downloads the
same bytes (with a working ``Range``), on the filesystem store and on an S3 protocol server.
"""

from __future__ import annotations

import hashlib
from collections import deque
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from gateway.testing.stack import LiveStack, live_stack
from gateway.testing.waiting import wait_for
from mock_upstream.files import SAMPLE_MP4
from tests.outputs.conftest import S3Server

LINK_TTL_S = 2.0  # the mock's links die this long after the job completes
SAMPLE_SHA256 = hashlib.sha256(SAMPLE_MP4.read_bytes()).hexdigest()
DOWN = 4  # the receiver answers 503 this many times first


def _store_settings(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    if kind == "local":
        return {"output_store": str(tmp_path / "outputs")}
    s3: S3Server = request.getfixturevalue("s3_server")
    return {
        "output_store": f"s3://{s3.new_bucket()}/kept",
        "output_s3_endpoint": s3.endpoint,
        "output_s3_region": "us-east-1",
        "output_s3_access_key_id": "test",
        "output_s3_secret_access_key": "test",
        "output_store_allow_http": True,
        "output_staging_dir": str(tmp_path / "staging"),
    }


def _delivered(stack: LiveStack, count: int) -> list[dict[str, Any]]:
    """The bodies the receiver answered 200 to, once there are ``count``."""

    def bodies() -> list[dict[str, Any]] | None:
        with stack.receiver.lock:
            received = [msgspec.json.decode(r.body) for r in stack.receiver.received]
        ok = received[DOWN:]
        return ok if len(ok) >= count else None

    found = wait_for(bodies, timeout_s=60, what=f"{count} webhook(s) answered 200")
    assert found is not None
    return found


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_a_receiver_down_past_the_links_death_still_gets_a_working_video(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The upstream's link dies 2 s after completion; the receiver answers 503 four times
    first. The webhook it gets names the kept copy: same SHA-256 as the mock's file, a Range
    request answers 206 with those bytes, and a redelivery afterwards points at a working URL."""
    with live_stack(
        tmp_path / "gw.db",
        mock_config={"video_ttl_s": LINK_TTL_S},
        outputs="keep",
        delivery_schedule=(0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
        delivery_jitter=0.0,
        **_store_settings(kind, tmp_path, request),
    ) as stack:
        stack.receiver.answers = deque([503] * DOWN)
        job_id = stack.submit()
        (event,) = _delivered(stack, 1)

        data = event["data"]
        video = data["video"]
        assert "video.generation.completed" == event["type"]
        assert (True, "kept") == (video["kept"], video["state"])
        assert video["url"] == data["video_url"]
        assert video["url"].startswith(f"{stack.url}/v1/outputs/{job_id}/video.mp4?expires=")
        assert SAMPLE_SHA256 == video["sha256"]
        assert SAMPLE_MP4.stat().st_size == video["bytes"]
        assert "video/mp4" == video["content_type"]
        # The upstream's own link is dead by now: only the kept copy is left.
        wait_for(
            lambda: httpx.get(video["upstream_url"], timeout=10).status_code == 403,
            timeout_s=10,
            what="the mock's link to die",
        )

        with httpx.Client(follow_redirects=True, timeout=30) as http:
            whole = http.get(video["url"])  # no Authorization header: the link is enough
            assert 200 == whole.status_code
            assert SAMPLE_SHA256 == hashlib.sha256(whole.content).hexdigest()
            part = http.get(video["url"], headers={"Range": "bytes=100-199"})
            assert 206 == part.status_code
            assert SAMPLE_MP4.read_bytes()[100:200] == part.content

            redone = httpx.post(
                f"{stack.url}/v1/jobs/{job_id}/redeliver", headers=stack.auth(), timeout=10
            )
            assert 202 == redone.status_code, redone.text
            _, again = _delivered(stack, 2)
            assert video["url"] == again["data"]["video"]["url"]
            assert SAMPLE_SHA256 == hashlib.sha256(http.get(video["url"]).content).hexdigest()

        view = stack.job(job_id)
        assert ("completed", video["url"]) == (view["status"], view["video"]["url"])
        history = httpx.get(
            f"{stack.url}/v1/jobs/{job_id}/events", headers=stack.auth(), timeout=10
        ).text
        assert "event: keeping" in history
