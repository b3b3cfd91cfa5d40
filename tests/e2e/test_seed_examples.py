"""The documentation's own examples — image-to-video (#1) and video-to-video (#2), in Python and
JavaScript — unchanged but for the base URL and key (and http for https on loopback), run
against the bundled mock as ``mock-upstream`` and ``gateway dev`` serve it, and against a live
gateway in front of the strict mock; every one sees ``completed``. Real sockets, the real ticker
and clock; the examples' 15-s waits are shortened by the harness (a patched ``time.sleep``, a
``setTimeout`` preload), never edited.

Example #2's JavaScript sends ``reference_image_url`` where its schema and its Python twin say
``reference_image_urls``: the gateway takes the documentation's other name and sends the
schema's (``gateway.domain.model_rules``), so the strict mock behind it sees no deviation; the
mock, lenient by default like the real API, takes it too and journals the deviation."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
EXAMPLES = {1: "seed_example", 2: "seed_example_2"}
REFERENCE_IMAGE = (
    "https://raw.githubusercontent.com/aimlapi/api-docs/main/reference-files/t-rex.png"
)


@dataclass
class Target:
    """Where an example is pointed: its base URL and key, the job's status as seen there, and
    the journal of the mock that received the generation."""

    name: str
    base_url: str
    key: str
    mock_url: str
    status: Callable[[], object]

    @property
    def journal(self) -> Journal:
        return Journal(self.mock_url)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Target]:
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
            # The harness waits for the job's status to change after each of the example's
            # sleeps; a kept video's short "keeping" step between the example's read and the
            # harness's would race it. Keeping has its own end-to-end tests (tests/outputs).
            outputs="link",
        )
        with MockServer(create_app(settings)) as served:

            def status() -> object:
                response = httpx.get(
                    f"{served.url}/v1/jobs", headers={"Authorization": f"Bearer {KEY}"}, timeout=5
                )
                jobs = response.json()["data"]
                return jobs[0]["status"] if jobs else None

            yield Target("gateway", f"{served.url}/v2", KEY, mock.url, status)
        Journal(mock.url).assert_no_violations()  # what the gateway sent met the contract


@pytest.fixture
def mock() -> Iterator[Target]:
    """The mock alone, as ``mock-upstream --timings fast`` (and ``gateway dev``) serve it."""
    with MockServer(create_mock(MockConfig.fast())) as served:

        def status() -> object:
            posts = Journal(served.url).submissions()
            if not posts:
                return None
            response = httpx.get(
                f"{served.url}/v2/video/generations",
                params={"generation_id": posts[0]["generation_id"]},
                headers={"Authorization": "Bearer any-key"},
                timeout=5,
            )
            return response.json()["status"]

        yield Target("mock", f"{served.url}/v2", "any-key", served.url, status)


@pytest.fixture(params=["gateway", "mock"])
def target(request: pytest.FixtureRequest) -> Target:
    chosen: Target = request.getfixturevalue(request.param)
    return chosen


def _example(number: int) -> types.ModuleType:
    return importlib.import_module(f"tests.fixtures.{EXAMPLES[number]}")


@pytest.mark.parametrize("number", sorted(EXAMPLES))
def test_the_python_example_sees_completed(
    number: int,
    target: Target,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """queued → generating → completed; the example's ``time.sleep(15)`` waits (bounded) until
    the job moves on instead, and its own 1000-s timeout runs on a fake clock that each sleep
    advances."""
    example = _example(number)
    clock = FakeClock(1000.0)

    def sleep(seconds: float) -> None:
        clock.advance(seconds)
        before = target.status()
        wait_for(lambda: target.status() != before, timeout_s=30, what=f"the job to leave {before}")

    monkeypatch.setattr(example, "base_url", target.base_url)
    monkeypatch.setattr(example, "api_key", target.key)
    monkeypatch.setattr(example, "time", types.SimpleNamespace(sleep=sleep, time=clock))
    result = example.main()
    out = capsys.readouterr().out
    assert "completed" == result["status"], out
    assert result["video"]["url"].startswith(f"{target.mock_url}/files/")
    assert "Status: queued" in out
    if number == 2:
        sent = target.journal.submissions()[0]["body"]
        assert [REFERENCE_IMAGE] == sent["reference_image_urls"]


@pytest.mark.parametrize("number", sorted(EXAMPLES))
def test_the_javascript_example_sees_completed(number: int, target: Target) -> None:
    """The JavaScript example under Node, its setTimeout shortened by a preload."""
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI"):
            pytest.fail("CI=true but node is missing (.ci/run installs nodejs)")
        pytest.skip("node is not installed: the JavaScript example cannot run here")
    run = subprocess.run(  # noqa: S603 (node and the fixture, fixed arguments)
        [node, "-r", "./shorten-timers.js", f"{EXAMPLES[number]}.js"],
        cwd=FIXTURES,
        env={
            "PATH": os.environ.get("PATH", ""),
            "SEED_BASE_URL": target.base_url,
            "SEED_API_KEY": target.key,
            "SEED_WAIT_MS": "100",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (0, "") == (run.returncode, run.stderr), run.stdout
    assert "Status: queued" in run.stdout
    assert "status: 'completed'" in run.stdout
    assert f"url: '{target.mock_url}/files/" in run.stdout
    if number == 2:
        received = target.journal.submissions()[0]
        sent: dict[str, Any] = received["body"]
        if target.name == "gateway":  # the schema's name, under which the mock checks it
            assert ([REFERENCE_IMAGE], False) == (
                sent.get("reference_image_urls"),
                "reference_image_url" in sent,
            )
        else:  # taken as the real API takes its documentation's example, and journaled
            assert [{"path": "reference_image_url", "message": "is not a field of this model"}] == [
                v for v in received["violations"] if v["path"] == "reference_image_url"
            ]
