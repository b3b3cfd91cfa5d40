"""``Prefer: wait`` across replicas: a request held by an API-only replica is answered 200 as
soon as another replica (the only one with a worker) finishes the job — woken by PostgreSQL
NOTIFY, not by the fallback check (set to a minute here)."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from gateway.testing.processes import api_and_worker
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import MockServer
from tests.chaos.harness import KEY, gateway_env
from tests.pg import fresh_database_sync, require_pg

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_a_wait_on_one_replica_is_answered_by_a_job_run_on_another(tmp_path: Path) -> None:
    require_pg()
    mock_app = create_mock(MockConfig.fast(queued_s=0.3, generating_s=1.0, spread_s=0.1))
    with ExitStack() as stack:
        url = stack.enter_context(fresh_database_sync())
        upstream = stack.enter_context(MockServer(mock_app))
        base = gateway_env(url, upstream.url, GATEWAY_WAIT_CHECK_INTERVAL_S="60")
        api_only, _ = api_and_worker(base, tmp_path, stack)

        started = time.monotonic()
        response = httpx.post(
            f"{api_only.url}/v1/jobs",
            json={"prompt": "a horse", "duration": "5"},
            headers={"Authorization": f"Bearer {KEY}", "Prefer": "wait=25"},
            timeout=40,
        )
        held_s = time.monotonic() - started
        print(f"\nheld {held_s:.2f} s on the API-only replica")
        assert (200, "completed", "wait=25") == (
            response.status_code,
            response.json()["status"],
            response.headers["preference-applied"],
        )
        # The mock takes about 1.3 s; the fallback check would only run after 60 s.
        assert held_s < 20
        polls = [
            e
            for e in mock_app.state.mock.journal
            if e["method"] == "GET" and "(worker)" in e["headers"].get("user-agent", "")
        ]
        assert polls  # the other replica did the work
