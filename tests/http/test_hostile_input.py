"""Input found by review to reach a 500; each must be a 4xx in the error shape."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.testing.fakes import AllowAllGuard, Clock, RecordingSender, ScriptedUpstream
from tests.http.conftest import ADMIN_KEY, Api, api_settings
from tests.http.test_api import assert_error_shape
from tests.pg import fresh_database, require_pg

DEEP = "[" * 5000 + "]" * 5000


async def test_json_nested_too_deeply_is_a_400_everywhere(api: Api) -> None:
    """msgspec raises RecursionError on deep nesting: the job body, form metadata and the
    bodies Litestar parses itself all answer 400."""
    json_headers = {**api.auth(), "Content-Type": "application/json"}
    posts: list[tuple[str, dict[str, str], str]] = [
        ("/v1/jobs", json_headers, DEEP),
        (
            "/v1/jobs",
            {**api.auth(), "Content-Type": "application/x-www-form-urlencoded"},
            "prompt=a&metadata=" + "%5B" * 5000,
        ),
        ("/v1/deliveries/replay", json_headers, DEEP),
        (
            "/v1/admin/clients",
            {**api.auth(ADMIN_KEY), "Content-Type": "application/json"},
            DEEP,
        ),
    ]
    for path, headers, body in posts:
        response = await api.http.post(path, content=body, headers=headers)
        assert 400 == response.status_code, (path, response.text)
        assert_error_shape(response.json(), "invalid_request")


async def test_replay_window_out_of_range_is_a_400(api: Api) -> None:
    """Valid RFC 3339 times that overflow once their offset is applied."""
    for window in (
        {"since": "0001-01-01T00:00:00+14:00"},
        {"since": "2026-01-01T00:00:00Z", "until": "9999-12-31T23:59:59-14:00"},
    ):
        response = await api.http.post("/v1/deliveries/replay", json=window, headers=api.auth())
        assert 400 == response.status_code, (window, response.text)
        assert_error_shape(response.json(), "invalid_request")


async def test_nul_characters_are_a_4xx_on_postgresql(tmp_path: Any) -> None:
    """PostgreSQL refuses NUL in text; a path id, a cursor or a client name holding one is the
    caller's mistake, not a 500."""
    require_pg()
    async with fresh_database() as url:
        settings = api_settings(tmp_path, database_url=url)
        # The app opens its own store: the test client runs it on an event loop of its own.
        app = create_app(
            settings,
            upstream=ScriptedUpstream(),
            sender=RecordingSender(),
            guard=AllowAllGuard(),
            clock=Clock(start=1.8e9),
            run_worker=False,
        )
        async with AsyncTestClient(app=app) as http:
            auth = {"Authorization": f"Bearer {settings.client_api_key}"}
            admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
            answers = [
                await http.get("/v1/jobs/a%00b", headers=auth),
                await http.get("/v1/jobs/a%00b/deliveries", headers=auth),
                await http.get("/v1/jobs?cursor=MXxhAGI", headers=auth),
                await http.post("/v1/admin/clients", json={"name": "a\x00"}, headers=admin),
                await http.post("/v1/admin/clients/a%00/revoke", headers=admin),
                await http.post("/v1/admin/clients/a%00/rotate-secret", headers=admin),
                await http.post("/v1/jobs", json={"prompt": "a", "model": "m\x00"}, headers=auth),
            ]
    for response in answers:
        assert 400 <= response.status_code < 500, response.text
        assert {"error"} == set(response.json())
