"""A crash in the middle of keeping a video (issue 26): ``gateway serve`` is SIGKILLed while it
downloads a finished video (the mock trickles it out over seconds). While it is down no object
is under the video's key (only a staging file, never served); after the restart the copy is
taken up again once the lease expires, completes, and the receiver gets exactly one completion
event, whose link downloads the mock's file whole. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
from contextlib import ExitStack
from pathlib import Path

import httpx
import msgspec
import pytest

from gateway.testing.processes import GatewayProcess
from gateway.testing.receiver import Receiver
from gateway.testing.waiting import wait_for
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.files import SAMPLE_MP4
from mock_upstream.testing import MockServer
from tests.chaos.harness import KEY, gateway_env
from tests.pg import fresh_database_sync, require_pg

pytestmark = pytest.mark.slow

SLOW_S = 8  # the mock trickles each video out in 8 pieces over this many seconds


def _job(gateway: GatewayProcess, job_id: str) -> dict[str, object]:
    response = httpx.get(
        f"{gateway.url}/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {KEY}"}, timeout=10
    )
    body: dict[str, object] = response.json()
    return body


def run(tmp_path: Path, database_url: str) -> None:
    outputs = tmp_path / "outputs"
    receiver = Receiver()
    with ExitStack() as stack:
        mock = stack.enter_context(
            MockServer(create_mock(MockConfig.fast(default_scenario=f"video_slow_{SLOW_S}")))
        )
        hooks = stack.enter_context(MockServer(receiver.app()))
        env = gateway_env(
            database_url,
            mock.url,
            GATEWAY_OUTPUTS="keep",
            GATEWAY_OUTPUT_STORE=str(outputs),
            GATEWAY_OUTPUT_STORE_SHARED="true",  # one directory, for PostgreSQL's check
            GATEWAY_OUTPUT_SOURCE_ALLOWLIST="127.0.0.1/32",
        )
        gateway = GatewayProcess(env, log_path=tmp_path / "gateway.log")
        gateway.start()
        stack.callback(gateway.kill)
        created = httpx.post(
            f"{gateway.url}/v1/jobs",
            json={"prompt": "keep me", "duration": "5", "callback_url": f"{hooks.url}/hook"},
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=10,
        )
        assert 202 == created.status_code, created.text
        job_id = created.json()["id"]

        # Mid-copy: the job is keeping and its download has a staging file (the mock sends the
        # rest over seconds).
        wait_for(
            lambda: (
                _job(gateway, job_id)["status"] == "keeping" and any(outputs.glob("staging/*.part"))
            ),
            timeout_s=60,
            what="the copy to be under way",
        )
        gateway.kill()
        final = outputs / "videos" / job_id / "video.mp4"
        assert not final.exists()  # nothing partial under the key a link would serve
        assert [] == receiver.ids()  # no completion event before the copy ended

        gateway.start()  # the lease (2 s) runs out; the copy starts again from the beginning
        wait_for(lambda: receiver.ids(), timeout_s=90, what="the completion webhook")
        view = wait_for(
            lambda: (body := _job(gateway, job_id))["status"] == "completed" and body,
            timeout_s=30,
            what="the job to complete",
        )
        assert isinstance(view, dict)
        video = view["video"]
        assert isinstance(video, dict)
        assert (True, "kept") == (video["kept"], video["state"])
        kept = httpx.get(str(video["url"]), timeout=30)
        expected = hashlib.sha256(SAMPLE_MP4.read_bytes()).hexdigest()
        assert (200, expected) == (kept.status_code, hashlib.sha256(kept.content).hexdigest())
        assert expected == video["sha256"]
        gateway.stop()

    with receiver.lock:
        bodies = [msgspec.json.decode(r.body) for r in receiver.received]
    completed = {
        r.headers["webhook-id"]
        for r, body in zip(receiver.received, bodies, strict=True)
        if body["type"] == "video.generation.completed"
    }
    assert 1 == len(completed)  # one completion event for the one destination
    assert all(body["data"]["video"]["kept"] for body in bodies)


def test_sigkill_mid_copy_on_sqlite(tmp_path: Path) -> None:
    run(tmp_path, f"sqlite:///{tmp_path / 'keep.db'}")


@pytest.mark.postgres
def test_sigkill_mid_copy_on_postgres(tmp_path: Path) -> None:
    require_pg()
    with fresh_database_sync() as url:
        run(tmp_path, url)
