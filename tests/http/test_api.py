"""The HTTP API: status codes, one error shape, authentication, isolation, idempotency, limits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.http.conftest import ADMIN_KEY, Api, api_settings, gateway_app


def assert_error_shape(body: Any, code: str) -> None:
    assert {"error"} == set(body)
    assert code == body["error"]["code"]
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]
    assert isinstance(body["error"]["details"], list)


async def test_accept_returns_202_with_the_committed_job(api: Api) -> None:
    """POST /v1/jobs answers 202 with the stored job, a Location, and the defaults filled in."""
    response = await api.submit(duration="7", metadata={"order": "42"})
    assert 202 == response.status_code
    job = response.json()
    assert ("accepted", "alibaba/happyhorse-1-0", {"order": "42"}, ["completed", "failed"]) == (
        job["status"],
        job["model"],
        job["metadata"],
        job["events"],
    )
    assert f"/v1/jobs/{job['id']}" == response.headers["location"]
    stored = await api.gateway.runtime.store.jobs.get_job(job["id"])
    assert stored is not None
    assert 7 == stored.request["duration"]


async def test_form_encoded_jobs_are_accepted(api: Api) -> None:
    """Zapier's form posts work: strings coerced, metadata[key] read."""
    response = await api.http.post(
        "/v1/jobs",
        content=b"prompt=hi&duration=5&metadata%5Bzap%5D=1&callback_url=https%3A%2F%2Fh.test%2F",
        headers={**api.auth(), "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert 202 == response.status_code, response.text
    assert ({"zap": "1"}, "https://h.test/") == (
        response.json()["metadata"],
        response.json()["callback_url"],
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "p", "duration": 20}, "duration"),
        ({"prompt": "p", "resolution": "8k"}, "resolution"),
        ({"prompt": "p", "model": "someone/else"}, "model"),
        ({"prompt": "p", "image_url": "file:///etc/passwd"}, "image_url"),
        ({"prompt": "p", "metadata": {"k": "v" * 501}}, "metadata.k"),
    ],
)
async def test_invalid_jobs_are_400_in_the_error_shape(
    api: Api, body: dict[str, Any], field: str
) -> None:
    """Breaking an upstream rule is a 400 naming the field; nothing is stored or submitted."""
    response = await api.http.post("/v1/jobs", json=body, headers=api.auth())
    assert 400 == response.status_code
    assert_error_shape(response.json(), "invalid_request")
    assert field == response.json()["error"]["details"][0]["field"]
    assert [] == await api.gateway.runtime.store.jobs.list_jobs(client_id="cl_bootstrap")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1/nowhere", 404, "not_found"),
        ("DELETE", "/v1/jobs", 405, "method_not_allowed"),
        ("GET", "/v1/jobs/job_unknown", 404, "not_found"),
        ("GET", "/v1/jobs?limit=0", 400, "invalid_request"),
        ("GET", "/v1/jobs?status=nonsense", 400, "invalid_request"),
        ("GET", "/v1/jobs?cursor=%%%", 400, "invalid_request"),
    ],
)
async def test_framework_errors_share_the_shape(
    api: Api, method: str, path: str, status: int, code: str
) -> None:
    """Routing and parameter errors made by Litestar use the gateway's error shape too."""
    response = await api.http.request(method, path, headers=api.auth())
    assert status == response.status_code
    assert_error_shape(response.json(), code)


async def test_bad_json_and_media_types(api: Api) -> None:
    """Broken JSON is a 400, XML a 415: never a 500."""
    broken = await api.http.post(
        "/v1/jobs", content=b"{nope", headers={**api.auth(), "Content-Type": "application/json"}
    )
    xml = await api.http.post(
        "/v1/jobs", content=b"<a/>", headers={**api.auth(), "Content-Type": "application/xml"}
    )
    assert (400, 415) == (broken.status_code, xml.status_code)
    assert_error_shape(xml.json(), "unsupported_media_type")


async def test_body_size_limit_is_413(tmp_path: Path) -> None:
    """A body over GATEWAY_MAX_BODY_BYTES is refused with 413 in the error shape."""
    from litestar.testing import AsyncTestClient

    settings = api_settings(tmp_path, max_body_bytes=1000)
    async with AsyncTestClient(app=gateway_app(settings)) as http:
        response = await http.post(
            "/v1/jobs",
            json={"prompt": "x" * 2000},
            headers={"Authorization": f"Bearer {settings.client_api_key}"},
        )
    assert 413 == response.status_code
    assert_error_shape(response.json(), "payload_too_large")


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
async def test_missing_or_wrong_keys_are_401(api: Api, header: str | None) -> None:
    """No key, an unknown key or another scheme: 401 in the error shape."""
    headers = {} if header is None else {"Authorization": header}
    response = await api.http.get("/v1/jobs", headers=headers)
    assert 401 == response.status_code
    assert_error_shape(response.json(), "unauthorized")


async def test_clients_see_only_their_own_jobs(api: Api) -> None:
    """Another client's job id is a 404 on every endpoint, and never listed."""
    other = await api.new_client()
    mine = (await api.submit()).json()["id"]
    theirs = (await api.submit(key=other["api_key"])).json()["id"]
    for method, path in [
        ("GET", f"/v1/jobs/{theirs}"),
        ("GET", f"/v1/jobs/{theirs}/deliveries"),
        ("POST", f"/v1/jobs/{theirs}/redeliver"),
    ]:
        response = await api.http.request(method, path, headers=api.auth())
        assert 404 == response.status_code, path
        assert_error_shape(response.json(), "not_found")
    listed = (await api.http.get("/v1/jobs", headers=api.auth())).json()["data"]
    assert [mine] == [job["id"] for job in listed]


async def test_revoked_keys_stop_working_at_once(api: Api) -> None:
    """Revocation through the admin API takes effect on the very next request."""
    other = await api.new_client()
    assert 200 == (await api.http.get("/v1/jobs", headers=api.auth(other["api_key"]))).status_code
    revoked = await api.http.post(
        f"/v1/admin/clients/{other['id']}/revoke", headers=api.auth(ADMIN_KEY)
    )
    assert (200, True) == (revoked.status_code, revoked.json()["revoked"])
    assert 401 == (await api.http.get("/v1/jobs", headers=api.auth(other["api_key"]))).status_code


async def test_admin_api_needs_the_admin_key(api: Api) -> None:
    """A client key is not an admin key; listing clients never shows keys or secrets."""
    refused = await api.http.get("/v1/admin/clients", headers=api.auth())
    assert 401 == refused.status_code
    created = await api.new_client("zapier")
    listed = await api.http.get("/v1/admin/clients", headers=api.auth(ADMIN_KEY))
    text = listed.text
    assert created["api_key"] not in text
    assert created["webhook_secret"] not in text
    assert {"bootstrap", "zapier"} == {c["name"] for c in listed.json()}


async def test_idempotency_key_replays_the_original_job(api: Api) -> None:
    """Same key, same body: the same job again (replayed), stored and submitted once."""
    headers = {**api.auth(), "Idempotency-Key": "zap-1"}
    body = {"prompt": "p", "duration": "7"}
    first = await api.http.post("/v1/jobs", json=body, headers=headers)
    second = await api.http.post("/v1/jobs", json={"prompt": "p", "duration": 7}, headers=headers)
    assert (202, 202) == (first.status_code, second.status_code)
    assert first.json()["id"] == second.json()["id"]
    assert "true" == second.headers["idempotent-replayed"]
    await api.gateway.worker.run_until_idle()  # type: ignore[union-attr]
    assert 1 == len(api.upstream.submitted)


async def test_idempotency_key_with_another_body_is_409(api: Api) -> None:
    """Reusing a key for a different request is a 409 that says why."""
    headers = {**api.auth(), "Idempotency-Key": "k"}
    await api.http.post("/v1/jobs", json={"prompt": "one"}, headers=headers)
    response = await api.http.post("/v1/jobs", json={"prompt": "two"}, headers=headers)
    assert 409 == response.status_code
    assert_error_shape(response.json(), "idempotency_key_reused")
    assert "different request body" in response.json()["error"]["message"]


async def test_concurrent_duplicates_make_one_job(api: Api) -> None:
    """Ten simultaneous requests with one key: one job, ten answers naming it."""
    headers = {**api.auth(), "Idempotency-Key": "burst"}
    responses = await asyncio.gather(
        *[api.http.post("/v1/jobs", json={"prompt": "p"}, headers=headers) for _ in range(10)]
    )
    assert {202} == {r.status_code for r in responses}
    assert 1 == len({r.json()["id"] for r in responses})
    assert 1 == len(await api.gateway.runtime.store.jobs.list_jobs(client_id="cl_bootstrap"))


async def test_rate_limit_is_429_with_retry_after(tmp_path: Path, api: Api) -> None:
    """Past GATEWAY_RATE_LIMIT_PER_MINUTE a client gets 429 and a Retry-After."""
    api.gateway.runtime.settings = api.gateway.runtime.settings.with_(rate_limit_per_minute=2)
    codes = [(await api.submit()).status_code for _ in range(3)]
    response = await api.submit()
    assert [202, 202, 429] == codes
    assert_error_shape(response.json(), "rate_limited")
    assert 1 <= int(response.headers["retry-after"]) <= 60


async def test_jobs_in_flight_are_capped_per_client(api: Api) -> None:
    """At most GATEWAY_MAX_IN_FLIGHT_PER_CLIENT unfinished jobs; the next one is a 429."""
    api.gateway.runtime.settings = api.gateway.runtime.settings.with_(max_in_flight_per_client=1)
    assert 202 == (await api.submit()).status_code
    response = await api.submit()
    assert 429 == response.status_code
    assert_error_shape(response.json(), "too_many_jobs_in_flight")
    assert "30" == response.headers["retry-after"]


async def test_list_paginates_with_a_cursor(api: Api) -> None:
    """Five jobs, pages of two: all five, newest first, no repeats, then no cursor."""
    ids = []
    for _ in range(5):
        ids.append((await api.submit()).json()["id"])
        api.clock.advance(1)
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await api.http.get("/v1/jobs", params=params, headers=api.auth())).json()
        seen += [job["id"] for job in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert list(reversed(ids)) == seen


async def test_status_filter(api: Api) -> None:
    """?status=failed lists only failed jobs."""
    from gateway.domain.upstream import FailureKind
    from gateway.testing.fakes import failure

    api.upstream.submit_script.append(failure(FailureKind.REJECTED, 400))
    failed = (await api.submit()).json()["id"]
    await api.gateway.worker.run_until_idle()  # type: ignore[union-attr]
    await api.submit()
    page = (await api.http.get("/v1/jobs?status=failed", headers=api.auth())).json()
    assert [failed] == [job["id"] for job in page["data"]]


async def test_deliveries_and_redelivery(api: Api) -> None:
    """The attempt log lists each attempt; redeliver sends the same event id again."""
    from gateway.domain.upstream import Generation

    api.upstream.poll_script.append(Generation(id="g", status="completed", video_url="https://v"))
    job_id = (await api.submit()).json()["id"]
    worker = api.gateway.worker
    assert worker is not None
    await worker.run_until_idle()
    api.clock.advance(15)
    await worker.run_until_idle()
    log = (await api.http.get(f"/v1/jobs/{job_id}/deliveries", headers=api.auth())).json()
    assert (["delivered"], [200]) == (
        [e["state"] for e in log["events"]],
        [a["status_code"] for a in log["attempts"]],
    )
    job = (await api.http.get(f"/v1/jobs/{job_id}", headers=api.auth())).json()
    assert ("completed", "delivered") == (job["status"], job["delivery"]["state"])
    again = await api.http.post(f"/v1/jobs/{job_id}/redeliver", headers=api.auth())
    assert (202, "pending") == (again.status_code, again.json()["events"][0]["state"])
    await worker.run_until_idle()
    ids = [headers["webhook-id"] for _, _, headers in api.sender.sent]
    assert 2 == len(ids)
    assert ids[0] == ids[1]


async def test_redeliver_without_events_is_a_clear_400(api: Api) -> None:
    """A job that has nothing to send (not finished) answers 400 nothing_to_redeliver."""
    job_id = (await api.submit()).json()["id"]
    response = await api.http.post(f"/v1/jobs/{job_id}/redeliver", headers=api.auth())
    assert 400 == response.status_code
    assert_error_shape(response.json(), "nothing_to_redeliver")


async def test_bulk_replay_of_dead_deliveries(api: Api) -> None:
    """POST /v1/deliveries/replay makes a window's dead deliveries due again."""
    from gateway.domain.upstream import Generation

    api.sender.script.extend([None] * 8)
    api.upstream.poll_script.append(Generation(id="g", status="completed", video_url="https://v"))
    job_id = (await api.submit()).json()["id"]
    worker = api.gateway.worker
    assert worker is not None
    await worker.run_until_idle()
    for _ in range(10):
        api.clock.advance(40_000)
        await worker.run_until_idle()
    job = (await api.http.get(f"/v1/jobs/{job_id}", headers=api.auth())).json()
    assert "dead" == job["delivery"]["state"]
    response = await api.http.post(
        "/v1/deliveries/replay", json={"since": "2020-01-01T00:00:00Z"}, headers=api.auth()
    )
    assert (202, 1) == (response.status_code, response.json()["replayed"])
    await worker.run_until_idle()
    job = (await api.http.get(f"/v1/jobs/{job_id}", headers=api.auth())).json()
    assert "delivered" == job["delivery"]["state"]


async def test_health_and_readiness(api: Api) -> None:
    """/healthz is alive; /readyz answers when the database does; /metrics is Prometheus text."""
    assert 200 == (await api.http.get("/healthz")).status_code
    assert "ready" == (await api.http.get("/readyz")).json()["status"]
    metrics = await api.http.get("/metrics")
    assert 200 == metrics.status_code
    assert "gateway_jobs_accepted_total" in metrics.text


async def test_readyz_fails_when_the_database_is_unreachable(tmp_path: Path) -> None:
    """A store whose server refuses connections makes /readyz a 503; /healthz stays 200."""
    from litestar.testing import AsyncTestClient

    from gateway.store import Database, Store

    unreachable = Store(Database.connect("postgresql://postgres@127.0.0.1:1/none"))
    app = gateway_app(api_settings(tmp_path, client_api_key=""), store=unreachable)
    async with AsyncTestClient(app=app) as http:
        ready = await http.get("/readyz")
        alive = await http.get("/healthz")
    await unreachable.close()
    assert (503, 200) == (ready.status_code, alive.status_code)
    assert_error_shape(ready.json(), "store_unavailable")
