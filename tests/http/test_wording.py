"""Every refusal in the product's words, on every endpoint that takes input: the field, what
was expected, what was given — never msgspec's (``Expected `int`, got `str```, ``Invalid enum
value``, ``Object missing required field``, ``JSON is malformed``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.conftest import ADMIN_KEY, Api

# The words of the library underneath, which must never reach a caller.
LIBRARY_WORDS = (
    "Expected `",
    "Invalid enum value",
    "Object missing required field",
    "Object contains unknown field",
    "JSON is malformed",
    "Input data was truncated",
    "Invalid RFC3339",
    "Validation failed for",
)

SUBSCRIPTION = "https://hooks.test/in"


async def _refusal(api: Api, method: str, path: str, body: Any, *, admin: bool = False) -> Any:
    headers = api.auth(ADMIN_KEY) if admin else api.auth()
    if isinstance(body, bytes):
        response = await api.http.request(
            method, path, content=body, headers={**headers, "Content-Type": "application/json"}
        )
    else:
        response = await api.http.request(method, path, json=body, headers=headers)
    assert 400 == response.status_code, response.text
    return response.json()


def _pairs(answer: Any) -> list[tuple[str, str]]:
    return [(d["field"], d["message"]) for d in answer["error"]["details"]]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"prompt": "p", "duration": "abc"},
            ("duration", 'must be an integer, got "abc"'),
            id="wrong type",
        ),
        pytest.param(
            {"prompt": "p", "resolution": "8k"},
            ("resolution", 'must be one of "720p", "1080p", got "8k"'),
            id="enum",
        ),
        pytest.param(
            {"prompt": "p", "events": ["done"]},
            (
                "events[0]",
                'must be one of "completed", "failed", "generating", "queued", got "done"',
            ),
            id="enum of the gateway's own field",
        ),
        pytest.param(
            {"prompt": "p", "callback_url": 5},
            ("callback_url", "must be a string of 1 to 2048 characters, got 5"),
            id="wrong type of the gateway's own field",
        ),
        pytest.param(
            {"prompt": "p", "metadata": {"order": "x" * 501}},
            ("metadata.order", "must be at most 500 characters, got 501 characters"),
            id="length",
        ),
        pytest.param(
            {"prompt": "p", "events": []},
            ("events", "must hold at least 1 item, got 0"),
            id="too few items",
        ),
        pytest.param(
            {"prompt": "p", "promt": "typo"},
            ("promt", "is not a field of this model; did you mean prompt?"),
            id="unknown field",
        ),
    ],
)
async def test_a_job_refused_names_the_field_the_expectation_and_what_was_given(
    api: Api, body: dict[str, Any], expected: tuple[str, str]
) -> None:
    """``POST /v1/jobs``: the model's rules and the gateway's own fields speak alike."""
    answer = await _refusal(api, "POST", "/v1/jobs", body)
    assert [expected] == _pairs(answer)
    field, message = expected
    assert f"The job request is invalid: {field} {message}" == answer["error"]["message"]


async def test_a_range_names_its_bounds_and_the_number_given(api: Api) -> None:
    """A model's ``minimum``/``maximum`` said with the number sent (a string coerced first)."""
    model = "alibaba/wan2.2-vace-fun-a14b-depth"
    body = {"model": model, "prompt": "p", "video_url": "https://x.test/v.mp4"}
    answer = await _refusal(api, "POST", "/v1/jobs", {**body, "frames_per_second": "2"})
    assert [("frames_per_second", "must be from 5 to 30, got 2")] == _pairs(answer)


@pytest.mark.parametrize(
    ("path", "body", "expected", "admin"),
    [
        pytest.param(
            "/v1/subscriptions",
            {"target_url": 5},
            ("target_url", "must be a string of 1 to 2048 characters, got 5"),
            False,
            id="subscription: wrong type",
        ),
        pytest.param(
            "/v1/subscriptions",
            {},
            ("target_url", "is required"),
            False,
            id="subscription: missing",
        ),
        pytest.param(
            "/v1/subscriptions",
            {"target_url": SUBSCRIPTION, "hook": 1},
            (
                "hook",
                "is not a field here (the fields are events, filter, headers, models, "
                "target_url, throttle)",
            ),
            False,
            id="subscription: unknown field",
        ),
        pytest.param(
            "/v1/subscriptions",
            {"target_url": SUBSCRIPTION, "events": ["done"]},
            (
                "events",
                'must be one of "queued", "generating", "completed", "failed" '
                '(or their full types), "subscription.disabled", "delivery.exhausted", '
                'got "done"',
            ),
            False,
            id="subscription: enum",
        ),
        pytest.param(
            "/v1/deliveries/replay",
            {"since": "yesterday"},
            (
                "since",
                "must be a date and time with its time zone (RFC 3339, such as "
                '2026-01-31T12:00:00Z), got "yesterday"',
            ),
            False,
            id="replay: format",
        ),
        pytest.param(
            "/v1/deliveries/replay",
            {},
            ("since", "is required"),
            False,
            id="replay: missing",
        ),
        pytest.param(
            "/v1/admin/clients",
            {"name": ""},
            ("name", "is required"),  # a blank field is one not given
            True,
            id="admin: blank",
        ),
        pytest.param(
            "/v1/admin/clients",
            {"name": 42},
            ("name", "must be a name of 1 to 200 characters without control characters, got 42"),
            True,
            id="admin: wrong type",
        ),
    ],
)
async def test_other_bodies_are_refused_in_the_same_words(
    api: Api, path: str, body: dict[str, Any], expected: tuple[str, str], admin: bool
) -> None:
    """Subscriptions, replay and the admin API: the bodies ``gateway.http.bodies`` converts
    are worded by the same module, with what was given read from the request."""
    answer = await _refusal(api, "POST", path, body, admin=admin)
    assert [expected] == _pairs(answer)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("limit=abc", ("limit", 'must be an integer from 1 to 200, got "abc"')),
        ("limit=500", ("limit", "must be an integer from 1 to 200, got 500")),
        (
            "status=done",
            (
                "status",
                'must be one of "accepted", "submitting", "queued", "generating", '
                '"keeping", "completed", "failed", got "done"',
            ),
        ),
    ],
)
async def test_query_parameters_are_refused_in_the_same_words(
    api: Api, query: str, expected: tuple[str, str]
) -> None:
    answer = await _refusal(api, "GET", f"/v1/jobs?{query}", None)
    assert [expected] == _pairs(answer)
    assert f"The request is invalid: {expected[0]} {expected[1]}" == answer["error"]["message"]


@pytest.mark.parametrize(
    ("path", "admin"),
    [
        ("/v1/jobs", False),
        ("/v1/subscriptions", False),
        ("/v1/deliveries/replay", False),
        ("/v1/admin/clients", True),
    ],
)
@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"prompt": "p",', "The body is not valid JSON (it ends too early)"),
        (b'{"a" 1}', "The body is not valid JSON (at byte 5)"),
    ],
)
async def test_malformed_json_is_said_the_same_everywhere(
    api: Api, path: str, admin: bool, raw: bytes, message: str
) -> None:
    answer = await _refusal(api, "POST", path, raw, admin=admin)
    assert (message, []) == (answer["error"]["message"], answer["error"]["details"])


async def test_the_drop_in_lists_the_same_words_in_the_upstreams_shape(api: Api) -> None:
    """``/v2`` answers in the upstream's shape; its ``errors[]`` carry our words."""
    response = await api.http.post(
        "/v2/video/generations",
        json={"model": "alibaba/happyhorse-1-0", "prompt": "p", "duration": "abc"},
        headers=api.auth(),
    )
    assert 400 == response.status_code
    assert [{"path": "duration", "message": 'must be an integer, got "abc"'}] == response.json()[
        "errors"
    ]


async def test_no_library_words_reach_a_caller(api: Api) -> None:
    """A sweep of bad requests over every endpoint that takes input: not one message or
    detail carries msgspec's or Litestar's words."""
    bad: list[tuple[str, str, Any, bool]] = [
        ("POST", "/v1/jobs", {"prompt": 5, "duration": [1], "events": "x", "metadata": 3}, False),
        ("POST", "/v1/jobs", {"prompt": "p", "metadata": {"": "empty key"}}, False),
        ("POST", "/v1/jobs", {"prompt": "p", "metadata": {"k" * 65: "long key"}}, False),
        ("POST", "/v1/jobs", {"prompt": "p", "events": ["queued", 5]}, False),
        ("POST", "/v1/jobs", [1, 2], False),
        ("POST", "/v1/subscriptions", {"target_url": "", "models": [""] * 60}, False),
        ("POST", "/v1/subscriptions", {"target_url": SUBSCRIPTION, "models": 5}, False),
        ("POST", "/v1/deliveries/replay", {"since": "2026-01-01T00:00:00"}, False),
        ("POST", "/v1/deliveries/replay", {"since": [1]}, False),
        ("POST", "/v1/admin/clients", {"name": "a\x01b"}, True),
        ("POST", "/v2/video/generations", {"prompt": "p", "model": 5}, False),
        ("GET", "/v1/jobs?limit=0", None, False),
        ("GET", "/v1/subscriptions/sample?events=nope", None, False),
    ]
    said: list[str] = []
    for method, path, body, admin in bad:
        headers = api.auth(ADMIN_KEY) if admin else api.auth()
        response = await api.http.request(method, path, json=body, headers=headers)
        assert 400 == response.status_code, (path, body, response.text)
        said.append(response.text)
    assert [] == [(text, w) for text in said for w in LIBRARY_WORDS if w in text]
