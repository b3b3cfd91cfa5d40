"""``gateway serve`` freezes the heap once the app has started: what start-up built is out of
every later garbage collection's scan, what requests build later is not."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from litestar.testing import AsyncTestClient

from gateway import cli
from gateway.app import create_app
from gateway.heap import freeze_startup_heap
from gateway.testing.fakes import AllowAllGuard, RecordingSender, ScriptedUpstream
from tests.http.conftest import api_settings


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Each test starts and ends with nothing frozen (the test process carries on)."""
    gc.unfreeze()
    yield
    gc.unfreeze()


def _tracked(thing: object) -> bool:
    """Whether the collector's generations hold ``thing`` (frozen objects are outside them)."""
    return any(candidate is thing for candidate in gc.get_objects())


@pytest.mark.usefixtures("unfrozen")
def test_what_exists_at_the_freeze_is_frozen_and_what_comes_later_is_not() -> None:
    built_at_start_up = {"routes": ["/v1/jobs"]}
    assert _tracked(built_at_start_up)
    freeze_startup_heap()
    assert gc.get_freeze_count() > 0
    assert not _tracked(built_at_start_up)
    built_by_a_request = {"job": ["job_1"]}
    assert _tracked(built_by_a_request)


async def test_start_up_functions_run_once_the_runtime_is_open(tmp_path: Path) -> None:
    seen: list[object] = []

    def note_the_store() -> None:
        seen.append(app.state.gateway.runtime.store)

    app = create_app(
        api_settings(tmp_path),
        upstream=ScriptedUpstream(),
        sender=RecordingSender(),
        guard=AllowAllGuard(),
        run_worker=False,
        on_startup=[note_the_store],
    )
    async with AsyncTestClient(app=app) as http:
        assert 200 == (await http.get("/healthz")).status_code
        assert [app.state.gateway.runtime.store] == seen


def test_serve_freezes_the_heap_once_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[Any] = []
    monkeypatch.setattr(cli, "configure_logging", lambda **_: None)  # the test run's logging
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    assert 0 == cli.serve(api_settings(tmp_path))
    (app,) = served
    assert [freeze_startup_heap] == list(app.on_startup)
