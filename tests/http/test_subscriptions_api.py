"""``/v1/subscriptions``: subscribe (201 + id), list, unsubscribe; the sample list's shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.domain.upstream import Generation
from gateway.settings import Settings
from gateway.store import Store
from gateway.testing.fakes import Clock, RecordingSender, ScriptedUpstream
from tests.http.conftest import BOOTSTRAP_KEY, Api, api_settings
from tests.http.test_api import assert_error_shape

HOOK = "https://hooks.zapier.test/hooks/standard/1/abc"


async def test_subscribe_list_and_unsubscribe(api: Api) -> None:
    """POST → 201 with an id (what Zapier stores); GET lists it; DELETE → 204, then 404."""
    created = await api.http.post(
        "/v1/subscriptions",
        json={"target_url": HOOK, "events": ["video.generation.completed", "failed"]},
        headers=api.auth(),
    )
    assert 201 == created.status_code, created.text
    sub = created.json()
    assert (HOOK, ["completed", "failed"], None, True) == (
        sub["target_url"],
        sub["events"],
        sub["models"],
        sub["active"],
    )
    assert sub["id"].startswith("sub_")
    listed = (await api.http.get("/v1/subscriptions", headers=api.auth())).json()["data"]
    assert [sub["id"]] == [s["id"] for s in listed]
    gone = await api.http.delete(f"/v1/subscriptions/{sub['id']}", headers=api.auth())
    assert 204 == gone.status_code
    again = await api.http.delete(f"/v1/subscriptions/{sub['id']}", headers=api.auth())
    assert 404 == again.status_code
    assert_error_shape(again.json(), "not_found")


async def test_another_clients_subscription_is_a_404(api: Api) -> None:
    other = await api.new_client()
    theirs = (
        await api.http.post(
            "/v1/subscriptions", json={"target_url": HOOK}, headers=api.auth(other["api_key"])
        )
    ).json()
    response = await api.http.delete(f"/v1/subscriptions/{theirs['id']}", headers=api.auth())
    assert 404 == response.status_code
    assert [] == (await api.http.get("/v1/subscriptions", headers=api.auth())).json()["data"]
    mine = await api.http.get("/v1/subscriptions", headers=api.auth(other["api_key"]))
    assert [theirs["id"]] == [s["id"] for s in mine.json()["data"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target_url": HOOK, "events": ["finished"]}, "events"),
        ({"target_url": HOOK, "colour": "red"}, "colour"),
        ({"events": ["completed"]}, "target_url"),
        ({"target_url": HOOK, "models": 5}, "models"),
    ],
)
async def test_bad_subscriptions_are_named_400s(
    api: Api, body: dict[str, object], field: str
) -> None:
    """Unknown events, unknown fields, missing or mistyped fields: a 400 naming the field."""
    response = await api.http.post("/v1/subscriptions", json=body, headers=api.auth())
    assert 400 == response.status_code, response.text
    assert_error_shape(response.json(), "invalid_request")
    error = response.json()["error"]
    assert field in [d["field"] for d in error["details"]]
    assert field in error["message"]


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1/hook",
        "http://169.254.169.254/latest",
        "http://10.0.0.1/x",
        "ftp://a.test/",
    ],
)
async def test_the_ssrf_guard_applies_to_target_url(tmp_path: Path, target: str) -> None:
    """With the real address guard (no allow-list): private targets are refused at subscribe."""
    settings: Settings = api_settings(tmp_path)
    store = await Store.open(settings.database_url)
    app = create_app(
        settings,
        store=store,
        upstream=ScriptedUpstream(),
        sender=RecordingSender(),
        clock=Clock(start=1_800_000_000.0),
        run_worker=False,
    )
    try:
        async with AsyncTestClient(app=app) as http:
            response = await http.post(
                "/v1/subscriptions",
                json={"target_url": target},
                headers={"Authorization": f"Bearer {BOOTSTRAP_KEY}"},
            )
    finally:
        await store.close()
    assert 400 == response.status_code
    assert_error_shape(response.json(), "callback_url_rejected")
    assert "target_url" == response.json()["error"]["details"][0]["field"]


async def test_the_sample_is_an_example_until_real_events_exist(api: Api) -> None:
    """No finished job: one documented example in the webhook's shape; then the real events."""
    example = (await api.http.get("/v1/subscriptions/sample", headers=api.auth())).json()
    assert 1 == len(example)
    assert {"type", "timestamp", "data"} == set(example[0])
    assert "video.generation.completed" == example[0]["type"]

    job = (await api.submit()).json()
    api.upstream.poll_script.append(
        Generation(id="gen_scripted_000000001", status="completed", video_url="https://cdn.test/v")
    )
    worker = api.gateway.worker
    assert worker is not None
    await worker.run_until_idle()
    api.clock.advance(15)
    await worker.run_until_idle()
    sample = (await api.http.get("/v1/subscriptions/sample", headers=api.auth())).json()
    assert [job["id"]] == [event["data"]["id"] for event in sample]
    # Exactly the shape of the webhook the same job produced.
    _, body, _ = api.sender.sent[0]
    sent = json.loads(body)
    assert set(sent) == set(sample[0])
    assert set(sent["data"]) == set(sample[0]["data"])
    assert set(example[0]["data"]) == set(sent["data"])
    assert sent["type"] == sample[0]["type"]
    failed_only = await api.http.get("/v1/subscriptions/sample?events=failed", headers=api.auth())
    assert "video.generation.failed" == failed_only.json()[0]["type"]  # an example, of its kind
    assert "job_example" in failed_only.json()[0]["data"]["id"]
