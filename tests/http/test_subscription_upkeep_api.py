"""``/v1/subscriptions/{id}``: read, edit (checked as on create), disable, enable, test send;
header values masked in every view, forbidden headers and bad filters a 400 naming the field,
another client's subscription a 404. On both databases."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.conftest import Api
from tests.http.test_api import assert_error_shape

HOOK = "https://hooks.zapier.test/hooks/standard/1/abc"
SECRET_VALUE = "Bearer very-secret-token-0123"


async def create(api: Api, key: str | None = None, **fields: Any) -> dict[str, Any]:
    headers = api.auth(key) if key else api.auth()
    response = await api.http.post(
        "/v1/subscriptions", json={"target_url": HOOK, **fields}, headers=headers
    )
    assert 201 == response.status_code, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_header_values_are_masked_in_every_view(stored_api: Api) -> None:
    api = stored_api
    sub = await create(api, headers={"Authorization": SECRET_VALUE, "X-Team": "ops"})
    one = await api.http.get(f"/v1/subscriptions/{sub['id']}", headers=api.auth())
    listed = await api.http.get("/v1/subscriptions", headers=api.auth())
    patched = await api.http.patch(
        f"/v1/subscriptions/{sub['id']}", json={"events": ["failed"]}, headers=api.auth()
    )
    for response in (one, listed, patched):
        assert 200 == response.status_code, response.text
        assert SECRET_VALUE not in response.text
    assert {"Authorization": "********", "X-Team": "********"} == sub["headers"]
    assert sub["headers"] == one.json()["headers"] == patched.json()["headers"]
    assert ["failed"] == patched.json()["events"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"headers": {"webhook-signature": "v1,forged"}}, "headers.webhook-signature"),
        ({"headers": {"Host": "elsewhere.test"}}, "headers.Host"),
        ({"headers": {"X-Ok": "a\r\nX-Injected: 1"}}, "headers.X-Ok"),
        ({"headers": {f"X-{n}": "v" for n in range(21)}}, "headers"),
        ({"filter": {"prompt": "x"}}, "filter.prompt"),
        ({"throttle": -1}, "throttle"),
        ({"events": ["finished"]}, "events"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_settings_are_a_400_naming_the_field_on_create_and_edit(
    stored_api: Api, body: dict[str, Any], field: str
) -> None:
    api = stored_api
    sub = await create(api)
    created = await api.http.post(
        "/v1/subscriptions", json={"target_url": HOOK, **body}, headers=api.auth()
    )
    edited = await api.http.patch(f"/v1/subscriptions/{sub['id']}", json=body, headers=api.auth())
    for response in (created, edited):
        assert 400 == response.status_code, response.text
        assert_error_shape(response.json(), "invalid_request")
        assert field in [d["field"] for d in response.json()["error"]["details"]]
    unchanged = await api.http.get(f"/v1/subscriptions/{sub['id']}", headers=api.auth())
    assert sub == unchanged.json()


async def test_edit_disable_enable_and_test(stored_api: Api) -> None:
    api = stored_api
    sub = await create(api, events=["completed"])
    path = f"/v1/subscriptions/{sub['id']}"
    patched = await api.http.patch(
        path,
        json={
            "target_url": "https://hooks.test/new",
            "models": ["kling/v2"],
            "filter": {"metadata.env": "prod"},
            "throttle": 5,
        },
        headers=api.auth(),
    )
    assert 200 == patched.status_code, patched.text
    body = patched.json()
    assert ("https://hooks.test/new", ["kling/v2"], {"metadata.env": ["prod"]}, 5.0) == (
        body["target_url"],
        body["models"],
        body["filter"],
        body["throttle"],
    )
    cleared = await api.http.patch(
        path, json={"models": [], "filter": {}, "throttle": 0}, headers=api.auth()
    )
    assert (None, None, None) == (
        cleared.json()["models"],
        cleared.json()["filter"],
        cleared.json()["throttle"],
    )

    disabled = await api.http.post(f"{path}/disable", headers=api.auth())
    assert 200 == disabled.status_code, disabled.text
    assert (False, "disabled") == (disabled.json()["active"], disabled.json()["deactivated_reason"])
    enabled = await api.http.post(f"{path}/enable", headers=api.auth())
    assert (True, None) == (enabled.json()["active"], enabled.json()["deactivated_reason"])

    sent = await api.http.post(f"{path}/test", headers=api.auth())
    assert 202 == sent.status_code, sent.text
    assert ("video.generation.completed", sub["id"], "https://hooks.test/new") == (
        sent.json()["event_type"],
        sent.json()["subscription_id"],
        sent.json()["target_url"],
    )
    assert sent.json()["event_id"].startswith("msg_")


async def test_another_clients_subscription_is_a_404_everywhere(stored_api: Api) -> None:
    api = stored_api
    other = await api.new_client()
    theirs = await create(api, key=other["api_key"])
    path = f"/v1/subscriptions/{theirs['id']}"
    answers = [
        await api.http.get(path, headers=api.auth()),
        await api.http.patch(path, json={"events": ["failed"]}, headers=api.auth()),
        await api.http.post(f"{path}/disable", headers=api.auth()),
        await api.http.post(f"{path}/enable", headers=api.auth()),
        await api.http.post(f"{path}/test", headers=api.auth()),
        await api.http.get("/v1/subscriptions/sub_unknown", headers=api.auth()),
    ]
    for response in answers:
        assert 404 == response.status_code, response.text
        assert_error_shape(response.json(), "not_found")
    still = await api.http.get(path, headers=api.auth(other["api_key"]))
    assert (True, ["completed", "failed"]) == (still.json()["active"], still.json()["events"])


async def test_the_sample_route_is_not_taken_for_an_id(stored_api: Api) -> None:
    """``GET /v1/subscriptions/sample`` stays the sample list; operational events have one."""
    api = stored_api
    response = await api.http.get(
        "/v1/subscriptions/sample?events=subscription.disabled", headers=api.auth()
    )
    assert 200 == response.status_code, response.text
    assert ["subscription.disabled"] == [e["type"] for e in response.json()]
