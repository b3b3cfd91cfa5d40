"""Done-when of the drop-in: the documentation's own Python and JavaScript examples, unchanged but
for the base URL and key (and http for https on loopback), run against a live gateway in front of
the mock and see ``completed``. Real sockets, the real ticker and clock; the examples' 15-s waits
are shortened by the harness (a patched ``time.sleep``, a ``setTimeout`` preload), never edited."""

from __future__ import annotations

import os
import shutil
import subprocess
import types
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from gateway.testing.waiting import wait_for
from mock_upstream.app import create_app as create_mock
from mock_upstream.config import MockConfig
from mock_upstream.testing import FakeClock, Journal, MockServer

KEY = "gw_seed_examples_key_0123456789ab"
FIXTURES = Path(__file__).parents[1] / "fixtures"


class LiveGateway:
    def __init__(self, url: str, mock_url: str) -> None:
        self.url = url
        self.mock_url = mock_url

    def jobs(self) -> list[dict[str, object]]:
        response = httpx.get(
            f"{self.url}/v1/jobs", headers={"Authorization": f"Bearer {KEY}"}, timeout=5
        )
        response.raise_for_status()
        jobs: list[dict[str, object]] = response.json()["data"]
        return jobs


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveGateway]:
    """The gateway on a loopback port, the fast strict mock behind it on another."""
    mock_app = create_mock(MockConfig.fast(strict=True, expected_key="upstream-key"))
    with MockServer(mock_app) as mock:
        settings = Settings(
            database_url=f"sqlite:///{tmp_path / 'seed.db'}",
            upstream_url=mock.url,
            aimlapi_key="upstream-key",
            client_api_key=KEY,
            client_webhook_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            poll_policy="fixed",
            poll_interval_s=0.5,
            poll_floor_s=0.2,
            tick_interval_s=0.1,
        )
        with MockServer(create_app(settings)) as gateway:
            yield LiveGateway(gateway.url, mock.url)
        Journal(mock.url).assert_no_violations()  # what the gateway sent met the contract


def test_the_seeds_python_example_sees_completed(
    live: LiveGateway, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """queued → generating → completed through the gateway; the example's ``time.sleep(15)``
    waits (bounded) until the job moves on instead, and its own 1000-s timeout runs on a fake
    clock that each sleep advances."""
    from tests.fixtures import seed_example

    clock = FakeClock(1000.0)

    def status() -> object:
        jobs = live.jobs()
        return jobs[0]["status"] if jobs else None

    def sleep(seconds: float) -> None:
        clock.advance(seconds)
        before = status()
        wait_for(lambda: status() != before, timeout_s=30, what=f"the job to leave {before}")

    monkeypatch.setattr(seed_example, "base_url", f"{live.url}/v2")
    monkeypatch.setattr(seed_example, "api_key", KEY)
    monkeypatch.setattr(seed_example, "time", types.SimpleNamespace(sleep=sleep, time=clock))
    result = seed_example.main()
    out = capsys.readouterr().out
    assert "completed" == result["status"]
    assert result["video"]["url"].startswith(f"{live.mock_url}/files/")
    assert "Status: queued" in out
    assert "Status: generating" in out
    jobs = live.jobs()
    assert ([result["id"]], "completed") == ([job["id"] for job in jobs], jobs[0]["status"])


def test_the_seeds_javascript_example_sees_completed(live: LiveGateway) -> None:
    """The JavaScript example under Node, its setTimeout shortened by a preload."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("CI=true but node is missing (.ci/run installs nodejs)")
        pytest.skip("node is not installed: the JavaScript example cannot run here")
    run = subprocess.run(  # noqa: S603 (node and the fixture, fixed arguments)
        [node, "-r", "./shorten-timers.js", "seed_example.js"],
        cwd=FIXTURES,
        env={
            "PATH": os.environ.get("PATH", ""),
            "SEED_BASE_URL": f"{live.url}/v2",
            "SEED_API_KEY": KEY,
            "SEED_WAIT_MS": "100",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (0, "") == (run.returncode, run.stderr)
    assert "Status: queued" in run.stdout
    assert "status: 'completed'" in run.stdout
    assert f"url: '{live.mock_url}/files/" in run.stdout
    assert ["completed"] == [job["status"] for job in live.jobs()]
