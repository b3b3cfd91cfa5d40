"""The job event stream (SSE) across replicas on PostgreSQL: read from an API-only replica,
disconnected mid-job, resumed with ``Last-Event-ID`` on the other replica — every history row
arrives exactly once, in order, and the stream ends after the terminal event."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.testing.processes import api_and_worker
from gateway.testing.receiver import Receiver
from gateway.testing.waiting import wait_for
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import MockServer
from tests.chaos.harness import KEY, gateway_env
from tests.pg import fresh_database_sync, require_pg
from tests.sse import read_events

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
AUTH = {"Authorization": f"Bearer {KEY}"}


def test_a_stream_resumed_after_a_disconnect_on_another_replica_loses_nothing(
    tmp_path: Path,
) -> None:
    require_pg()
    receiver = Receiver()
    mock_app = create_mock(MockConfig.fast(queued_s=1.0, generating_s=2.0, spread_s=0.1))
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database_sync())
        upstream = stack.enter_context(MockServer(mock_app))
        hooks = stack.enter_context(MockServer(receiver.app()))
        base = gateway_env(url, upstream.url, GATEWAY_EVENT_STREAM_POLL_S="0.2")
        api_only, worker = api_and_worker(base, tmp_path, stack)

        job = httpx.post(
            f"{api_only.url}/v1/jobs",
            json={"prompt": "a horse", "callback_url": f"{hooks.url}/hook"},
            headers=AUTH,
            timeout=10,
        ).json()
        first, ended = read_events(api_only.url, job["id"], AUTH, stop_after=2)
        assert (["accepted", "submitting"], False) == ([e["kind"] for e in first], ended)
        rest, ended = read_events(worker.url, job["id"], AUTH, last_event_id=first[-1]["id"])
        assert ended  # the server closed it after the terminal event
        kinds = [e["kind"] for e in rest]
        assert "completed" in kinds
        assert all(k == "delivery_attempted" for k in kinds[kinds.index("completed") + 1 :])

        # Once the webhook is recorded, a fresh stream replays the whole history: the two
        # connections above saw exactly its rows up to the terminal one, in order, once.
        wait_for(lambda: receiver.received, timeout_s=20, what="the webhook")

        def recorded() -> list[dict[str, Any]] | None:
            events, _ = read_events(api_only.url, job["id"], AUTH)
            return events if events[-1]["kind"] == "delivery_attempted" else None

        full = wait_for(recorded, timeout_s=20, what="the delivery attempt in the history")
        seen = first + rest
        assert [e["id"] for e in full[: len(seen)]] == [e["id"] for e in seen]
        assert [e["id"] for e in seen] == sorted({e["id"] for e in seen})
        assert all(e["job_id"] == job["id"] for e in full)
