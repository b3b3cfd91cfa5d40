"""One way in for every request body (``gateway.http.bodies``): no route lets Litestar parse its
body, every route that takes one takes JSON and forms alike, blanks mean "not given", and no
body at all — bytes that are not UTF-8 included — reaches a 500."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import pytest
from litestar.routes import HTTPRoute

from tests.http.conftest import ADMIN_KEY, Api
from tests.http.test_api import assert_error_shape

FORM = "application/x-www-form-urlencoded"
HOOK = "https://hooks.zapier.test/hooks/standard/1/abc"
BODY_METHODS = {"POST", "PUT", "PATCH"}
NOT_UTF8 = [
    pytest.param(
        "application/json", b'{"target_url": "https://a.test/\xff", "name": "\xc3("}', id="json"
    ),
    pytest.param(FORM, b"target_url=https%3A%2F%2Fa.test%2F&name=%ff%fe&since=\xff", id="form"),
]


def body_routes(api: Api) -> list[tuple[str, str]]:
    """(method, path) of every route that may take a body, path parameters filled in."""
    found = []
    for route in api.http.app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods & BODY_METHODS):
                found.append((method, re.sub(r"\{[^}]+\}", "job_x", route.path)))
    assert len(found) >= 8, found
    return found


async def test_no_route_lets_litestar_parse_its_body(api: Api) -> None:
    """A ``data`` parameter would be parsed by Litestar (JSON only, its own errors): every body
    is read by ``gateway.http.bodies`` instead."""
    parsed = [
        (route.path, handler.handler_name)
        for route in api.http.app.routes
        if isinstance(route, HTTPRoute)
        for handler in route.route_handlers
        if "data" in handler.parsed_fn_signature.parameters
    ]
    assert [] == parsed


@pytest.mark.parametrize(("content_type", "raw"), NOT_UTF8)
async def test_bytes_that_are_not_utf8_are_a_4xx_everywhere(
    api: Api, content_type: str, raw: bytes
) -> None:
    answers = []
    for method, path in body_routes(api):
        key = ADMIN_KEY if path.startswith("/v1/admin") else None
        headers = {**(api.auth(key) if key else api.auth()), "Content-Type": content_type}
        response = await api.http.request(method, path, content=raw, headers=headers)
        answers.append((method, path, response.status_code))
    assert [] == [answer for answer in answers if answer[2] >= 500]
    for method, path in (("POST", "/v1/subscriptions"), ("POST", "/v1/deliveries/replay")):
        response = await api.http.request(
            method, path, content=raw, headers={**api.auth(), "Content-Type": content_type}
        )
        assert 400 == response.status_code, (path, response.text)
        assert_error_shape(response.json(), "invalid_request")
        assert "not valid UTF-8" in response.json()["error"]["message"]
    admin = await api.http.post(
        "/v1/admin/clients",
        content=raw,
        headers={**api.auth(ADMIN_KEY), "Content-Type": content_type},
    )
    assert (400, "invalid_request") == (admin.status_code, admin.json()["error"]["code"])


async def test_a_form_subscription_is_taken_like_json(api: Api) -> None:
    """Zapier's REST hook subscribe as a form: ``event`` is ``events``, a lone ``models``."""
    form = urlencode({"target_url": HOOK, "event": "failed", "models": "google/veo3"})
    response = await api.http.post(
        "/v1/subscriptions", content=form, headers={**api.auth(), "Content-Type": FORM}
    )
    assert 201 == response.status_code, response.text
    created = response.json()
    assert (HOOK, ["failed"], ["google/veo3"]) == (
        created["target_url"],
        created["events"],
        created["models"],
    )


async def test_the_event_field_is_taken_as_events_in_json(api: Api) -> None:
    both = await api.http.post(
        "/v1/subscriptions",
        json={"target_url": HOOK, "event": "video.generation.completed"},
        headers=api.auth(),
    )
    assert (201, ["completed"]) == (both.status_code, both.json()["events"])


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(
            {"target_url": HOOK, "events": "", "models": "", "event": ""}, id="json blanks"
        ),
        pytest.param({"target_url": HOOK, "events": None, "models": None}, id="json nulls"),
        pytest.param(urlencode({"target_url": HOOK, "events": "", "models": ""}), id="form"),
    ],
)
async def test_blank_subscription_fields_are_not_given(api: Api, body: Any) -> None:
    """Zapier sends every unmapped field, blank: the defaults apply."""
    if isinstance(body, str):
        response = await api.http.post(
            "/v1/subscriptions", content=body, headers={**api.auth(), "Content-Type": FORM}
        )
    else:
        response = await api.http.post("/v1/subscriptions", json=body, headers=api.auth())
    assert 201 == response.status_code, response.text
    assert (["completed", "failed"], None) == (response.json()["events"], response.json()["models"])


async def test_a_blank_events_field_in_a_job_form_is_not_given(api: Api) -> None:
    form = urlencode({"prompt": "a horse", "events": "", "callback_url": "https://hooks.test/in"})
    response = await api.http.post(
        "/v1/jobs", content=form, headers={**api.auth(), "Content-Type": FORM}
    )
    assert 202 == response.status_code, response.text
    assert ["completed", "failed"] == response.json()["events"]


async def test_replay_and_the_admin_api_take_forms(api: Api) -> None:
    replay = await api.http.post(
        "/v1/deliveries/replay",
        content=urlencode({"since": "2020-01-01T00:00:00Z", "until": ""}),
        headers={**api.auth(), "Content-Type": FORM},
    )
    assert (202, {"replayed": 0}) == (replay.status_code, replay.json())
    created = await api.http.post(
        "/v1/admin/clients",
        content=urlencode({"name": "from a form"}),
        headers={**api.auth(ADMIN_KEY), "Content-Type": FORM},
    )
    assert (201, "from a form") == (created.status_code, created.json()["name"])


@pytest.mark.parametrize(
    ("query", "event_type", "status", "model"),
    [
        ("events=failed&models=google/veo3", "video.generation.failed", "failed", "google/veo3"),
        ("events=completed", "video.generation.completed", "completed", "alibaba/happyhorse-1-0"),
        ("events=queued&models=a/b,c/d", "video.generation.queued", "queued", "a/b"),
        ("events=&models=", "video.generation.completed", "completed", "alibaba/happyhorse-1-0"),
    ],
)
async def test_the_sample_example_matches_the_filters(
    api: Api, query: str, event_type: str, status: str, model: str
) -> None:
    """No real event yet: the documented example is an event of the kind and model asked for."""
    response = await api.http.get(f"/v1/subscriptions/sample?{query}", headers=api.auth())
    assert 200 == response.status_code, response.text
    [example] = response.json()
    data = example["data"]
    assert (event_type, status, model, model) == (
        example["type"],
        data["status"],
        data["model"],
        data["request"]["model"],
    )
    if status == "failed":
        assert (None, "generation_failed") == (data["video_url"], data["error"]["code"])
    if status == "completed":
        assert data["video_url"]
        assert data["error"] is None
