"""GET /v1/jobs/{id}/events over a real socket on SQLite: one event per change, ending after the
terminal one; a stream cut mid-job and resumed with Last-Event-ID loses and repeats nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from gateway.app import create_app
from gateway.settings import Settings
from gateway.testing.receiver import Receiver
from gateway.testing.waiting import wait_for
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import MockServer
from tests.sse import read_events

KEY = "gw_stream_key_0123456789abcdef"
AUTH = {"Authorization": f"Bearer {KEY}"}


@contextmanager
def running(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The gateway over the mock, and a receiver URL for callbacks."""
    receiver = Receiver()
    mock_app = create_mock(MockConfig.fast(queued_s=0.8, generating_s=1.5, spread_s=0.1))
    with MockServer(mock_app) as mock, MockServer(receiver.app()) as hooks:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'stream.db'}",
            upstream_url=mock.url,
            aimlapi_key="upstream-key",
            client_api_key=KEY,
            admin_key="admin-key-0123456789",
            callback_allowlist=("127.0.0.0/8",),
            poll_policy="fixed",
            poll_interval_s=0.3,
            poll_floor_s=0.1,
            tick_interval_s=0.1,
            event_stream_poll_s=0.1,
        )
        with MockServer(create_app(settings)) as gateway:
            yield gateway.url, f"{hooks.url}/hook"


def test_a_stream_cut_mid_job_resumes_without_loss(tmp_path: Path) -> None:
    with running(tmp_path) as (url, callback):
        job = httpx.post(
            f"{url}/v1/jobs", json={"prompt": "p", "callback_url": callback}, headers=AUTH
        ).json()
        first, ended = read_events(url, job["id"], AUTH, stop_after=1)
        assert (["accepted"], False) == ([e["kind"] for e in first], ended)
        rest, ended = read_events(url, job["id"], AUTH, last_event_id=first[-1]["id"])
        assert ended
        kinds = [e["kind"] for e in first + rest]
        assert ["accepted", "submitting", "submitted"] == kinds[:3]
        assert "completed" in kinds
        completed = next(e for e in rest if e["kind"] == "completed")
        assert ("completed", job["id"]) == (completed["status"], completed["job_id"])

        def with_attempt() -> list[str] | None:
            events, _ = read_events(url, job["id"], AUTH)
            names = [e["kind"] for e in events]
            return names if names[-1] == "delivery_attempted" else None

        full = wait_for(with_attempt, timeout_s=20, what="the attempt in the history")
        assert kinds == full[: len(kinds)]
        # A finished job's stream from after its last id: nothing, and it ends at once.
        everything, _ = read_events(url, job["id"], AUTH)
        assert ([], True) == read_events(url, job["id"], AUTH, last_event_id=everything[-1]["id"])


def test_stream_errors_are_4xx_in_the_error_shape(tmp_path: Path) -> None:
    with running(tmp_path) as (url, _):
        job = httpx.post(f"{url}/v1/jobs", json={"prompt": "p"}, headers=AUTH).json()
        other = httpx.post(
            f"{url}/v1/admin/clients",
            json={"name": "other"},
            headers={"Authorization": "Bearer admin-key-0123456789"},
        ).json()
        theirs = httpx.get(
            f"{url}/v1/jobs/{job['id']}/events",
            headers={"Authorization": f"Bearer {other['api_key']}"},
        )
        bad_id = httpx.get(
            f"{url}/v1/jobs/{job['id']}/events", headers={**AUTH, "Last-Event-ID": "abc"}
        )
        anonymous = httpx.get(f"{url}/v1/jobs/{job['id']}/events")
        assert (404, 400, 401) == (theirs.status_code, bad_id.status_code, anonymous.status_code)
        assert "Last-Event-ID" == bad_id.json()["error"]["details"][0]["field"]
