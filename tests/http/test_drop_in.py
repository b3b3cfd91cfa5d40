"""The drop-in ``/v2/video/generations``: the upstream's answers and errors, over the same intake
and views as ``/v1/jobs`` (a /v2 request is an ordinary job), with the gateway's client keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import get
from litestar.testing import AsyncTestClient

from gateway import errors
from gateway.domain.jobs import ErrorCode
from gateway.domain.upstream import FailureKind, Generation
from gateway.errors import GatewayError
from gateway.http.errors import UPSTREAM_MESSAGES
from gateway.testing.fakes import failure
from tests.http.conftest import Api, api_settings, gateway_app

PATH = "/v2/video/generations"
BODY = {
    "model": "alibaba/happyhorse-1-0",
    "prompt": "Mona Lisa puts on glasses with her hands.",
    "image_url": "https://example.com/mona_lisa.jpg",
    "duration": "7",
}


def assert_upstream_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The upstream's plain error shape: statusCode a string, the path, a request id, a time."""
    body: dict[str, Any] = response.json()
    assert status == response.status_code
    assert {"message", "path", "requestId", "statusCode", "timestamp"} <= set(body)
    assert (str(status), PATH) == (body["statusCode"], body["path"])
    assert "error" not in body  # not the gateway's own shape
    return body


async def submit(api: Api, key: str | None = None, **fields: Any) -> httpx.Response:
    headers = api.auth(key) if key else api.auth()
    return await api.http.post(PATH, json={**BODY, **fields}, headers=headers)


async def poll(api: Api, generation_id: str, key: str | None = None) -> httpx.Response:
    headers = api.auth(key) if key else api.auth()
    return await api.http.get(PATH, params={"generation_id": generation_id}, headers=headers)


async def run_work(api: Api, seconds: float = 0.0) -> None:
    api.clock.advance(seconds)
    assert api.gateway.worker is not None
    await api.gateway.worker.run_until_idle()


async def test_submit_answers_id_and_queued_and_makes_an_ordinary_job(api: Api) -> None:
    """200 {id, status: queued}; the id is a job in /v1/jobs with the upstream body, coerced."""
    response = await submit(api)
    assert (200, ["id", "status"], "queued") == (
        response.status_code,
        sorted(response.json()),
        response.json()["status"],
    )
    job_id = response.json()["id"]
    assert job_id == response.headers["x-inference-id"]
    job = (await api.http.get(f"/v1/jobs/{job_id}", headers=api.auth())).json()
    assert ("accepted", 7, None) == (job["status"], job["request"]["duration"], job["callback_url"])


async def test_gateway_fields_ride_along_and_a_webhook_is_sent(api: Api) -> None:
    """callback_url, metadata and events are accepted on /v2; the finished job is delivered."""
    api.upstream.poll_script.append(Generation(id="g", status="completed", video_url="https://v"))
    response = await submit(
        api, callback_url="https://hooks.test/in", metadata={"order": "42"}, events=["completed"]
    )
    job_id = response.json()["id"]
    await run_work(api)
    await run_work(api, 15)
    job = (await api.http.get(f"/v1/jobs/{job_id}", headers=api.auth())).json()
    assert ({"order": "42"}, ["completed"], "delivered") == (
        job["metadata"],
        job["events"],
        job["delivery"]["state"],
    )
    assert ["https://hooks.test/in"] == [url for url, _, _ in api.sender.sent]


async def test_poll_follows_the_job_in_the_upstreams_words(api: Api) -> None:
    """accepted and queued read as queued, then generating, then completed with video and usage."""
    usage = {"credits_used": 176400, "usd_spent": 0.084}
    api.upstream.poll_script.extend(
        [
            Generation(id="g", status="generating"),
            Generation(id="g", status="completed", video_url="https://cdn.test/v.mp4", usage=usage),
        ]
    )
    job_id = (await submit(api)).json()["id"]
    seen = [(await poll(api, job_id)).json()]
    await run_work(api)  # submitted: queued upstream
    seen.append((await poll(api, job_id)).json())
    await run_work(api, 15)
    seen.append((await poll(api, job_id)).json())
    await run_work(api, 15)
    seen.append((await poll(api, job_id)).json())
    assert [
        {"id": job_id, "status": "queued"},
        {"id": job_id, "status": "queued"},
        {"id": job_id, "status": "generating"},
        {
            "id": job_id,
            "status": "completed",
            "video": {"url": "https://cdn.test/v.mp4"},
            "meta": {"usage": usage},
        },
    ] == seen


@pytest.mark.parametrize(
    ("upstream_error", "expected"),
    [
        (
            {"name": "GenerationError", "message": "content policy"},
            {"name": "GenerationError", "message": "content policy"},
        ),
        (
            {"detail": [{"loc": ["body"], "msg": "bad image", "type": "value_error"}]},
            {
                "name": "generation_failed",
                "message": "The upstream reported that the generation failed: bad image",
                "detail": [{"loc": ["body"], "msg": "bad image", "type": "value_error"}],
            },
        ),
    ],
)
async def test_a_failed_generation_reads_as_error_with_the_upstreams_words(
    api: Api, upstream_error: dict[str, Any], expected: dict[str, Any]
) -> None:
    """status error; error {name, message} as the upstream said it (its detail kept too)."""
    api.upstream.poll_script.append(Generation(id="g", status="error", error=upstream_error))
    job_id = (await submit(api)).json()["id"]
    await run_work(api)
    await run_work(api, 15)
    assert {"id": job_id, "status": "error", "error": expected} == (await poll(api, job_id)).json()


async def test_a_failure_of_the_gateways_own_names_its_code(api: Api) -> None:
    """A refusal at submission fails the job; error.name is the gateway's stable error code."""
    api.upstream.submit_script.append(failure(FailureKind.REJECTED, 403))
    job_id = (await submit(api)).json()["id"]
    await run_work(api)
    answer = (await poll(api, job_id)).json()
    assert ("error", ErrorCode.UPSTREAM_REJECTED.value) == (
        answer["status"],
        answer["error"]["name"],
    )
    assert answer["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"duration": 20}, "duration"),
        ({"resolution": "8k"}, "resolution"),
        ({"model": "someone/else"}, "model"),
        ({"model": None}, "model"),
        ({"prompt": None}, "prompt"),
        ({"unknown_field": 1}, "unknown_field"),
    ],
)
async def test_invalid_bodies_are_the_upstreams_400(
    api: Api, fields: dict[str, Any], path: str
) -> None:
    """400 "Body validation error!" with errors naming the field; no job is made."""
    body = {k: v for k, v in {**BODY, **fields}.items() if v is not None}
    response = await api.http.post(PATH, json=body, headers=api.auth())
    error = assert_upstream_error(response, 400)
    assert ("Body validation error!", [path]) == (
        error["message"],
        [e["path"] for e in error["errors"]],
    )
    assert [] == await api.gateway.runtime.store.jobs.list_jobs(client_id="cl_bootstrap")


async def test_broken_json_and_missing_generation_id_are_400(api: Api) -> None:
    """Bytes that are not JSON, and a poll without generation_id, as the upstream answers them."""
    broken = await api.http.post(
        PATH, content=b"{nope", headers={**api.auth(), "Content-Type": "application/json"}
    )
    missing = await api.http.get(PATH, headers=api.auth())
    assert [
        {"path": "$", "message": "The body is not valid JSON (at byte 1)"}
    ] == assert_upstream_error(broken, 400)["errors"]
    assert [{"path": "generation_id", "message": "is required"}] == assert_upstream_error(
        missing, 400
    )["errors"]


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
async def test_missing_or_wrong_keys_are_the_upstreams_401(api: Api, header: str | None) -> None:
    """401 with the upstream's "requires a valid API key" wording, on submit and on poll."""
    headers = {} if header is None else {"Authorization": header}
    posted = await api.http.post(PATH, json=BODY, headers=headers)
    polled = await api.http.get(PATH, params={"generation_id": "x"}, headers=headers)
    for response in (posted, polled):
        body = assert_upstream_error(response, 401)
        assert body["message"].startswith("This request requires a valid API key.")
    assert UPSTREAM_MESSAGES[401] == posted.json()["message"]


async def test_unknown_and_other_clients_generations_are_404(api: Api) -> None:
    """Another client's job id reads exactly like an unknown one; an empty id too."""
    other = await api.new_client()
    theirs = (await submit(api, other["api_key"])).json()["id"]
    for generation_id in (theirs, "job_unknown", ""):
        body = assert_upstream_error(await poll(api, generation_id), 404)
        assert "Not Found" == body["message"]
    assert 200 == (await poll(api, theirs, other["api_key"])).status_code


async def test_unknown_routes_and_methods_under_v2_use_the_upstream_shape(api: Api) -> None:
    """Framework-made 404 and 405 under /v2/ are in the upstream's shape; /v1 keeps its own."""
    route = await api.http.get("/v2/video/nothing", headers=api.auth())
    method = await api.http.delete(PATH, headers=api.auth())
    ours = await api.http.get("/v1/nothing", headers=api.auth())
    assert [("404", "Not Found"), ("405", "Method Not Allowed")] == [
        (r.json()["statusCode"], r.json()["message"]) for r in (route, method)
    ]
    assert {"error"} == set(ours.json())


async def test_idempotency_key_replays_and_a_reused_key_is_409(api: Api) -> None:
    """The same key and body returns the same id (submitted once); another body is a 409."""
    headers = {**api.auth(), "Idempotency-Key": "order-42"}
    first = await api.http.post(PATH, json=BODY, headers=headers)
    again = await api.http.post(PATH, json=BODY, headers=headers)
    other = await api.http.post(PATH, json={**BODY, "prompt": "else"}, headers=headers)
    replayed = again.headers["idempotent-replayed"]
    assert (first.json()["id"], "true") == (again.json()["id"], replayed)
    assert "Idempotency-Key" in assert_upstream_error(other, 409)["message"]
    await run_work(api)
    assert 1 == len(api.upstream.submitted)


async def test_rate_limit_is_the_upstreams_429_with_retry_after(api: Api) -> None:
    """Past the per-client rate limit: 429 "Too Many Requests" and a Retry-After."""
    api.gateway.runtime.settings = api.gateway.runtime.settings.with_(rate_limit_per_minute=1)
    assert 200 == (await submit(api)).status_code
    response = await submit(api)
    assert "Too Many Requests" == assert_upstream_error(response, 429)["message"]
    assert 1 <= int(response.headers["retry-after"]) <= 60


async def test_body_size_limit_is_the_upstreams_413(tmp_path: Path) -> None:
    """A body over GATEWAY_MAX_BODY_BYTES: 413 "Payload Too Large" in the upstream's shape."""
    settings = api_settings(tmp_path, max_body_bytes=1000)
    async with AsyncTestClient(app=gateway_app(settings)) as http:
        response = await http.post(
            PATH,
            json={**BODY, "prompt": "x" * 2000},
            headers={"Authorization": f"Bearer {settings.client_api_key}"},
        )
    assert "Payload Too Large" == assert_upstream_error(response, 413)["message"]


def error_tree(root: type[GatewayError] = GatewayError) -> set[type[GatewayError]]:
    found = set()
    for cls in root.__subclasses__():
        found |= {cls} | error_tree(cls)
    return found


# Each error of the service's tree as /v2 answers it: (status, the upstream's word for it).
UPSTREAM_WORDS: dict[type[Exception], tuple[int, str | None]] = {
    errors.InvalidRequest: (400, "Body validation error!"),
    errors.CallbackRejected: (400, "Body validation error!"),
    errors.BrokerTargetRefused: (400, "Body validation error!"),
    errors.NothingToRedeliver: (400, "Body validation error!"),
    errors.TooManySubscriptions: (400, "Body validation error!"),
    errors.UnsupportedMediaType: (415, None),  # the upstream has no word for it: ours is kept
    errors.Unauthorized: (401, UPSTREAM_MESSAGES[401]),
    errors.NotFound: (404, "Not Found"),
    errors.MethodNotAllowed: (405, "Method Not Allowed"),
    errors.IdempotencyKeyReused: (409, None),
    errors.PayloadTooLarge: (413, "Payload Too Large"),
    errors.RateLimited: (429, "Too Many Requests"),
    errors.TooManyJobsInFlight: (429, "Too Many Requests"),
    errors.ServiceUnavailable: (503, "Service unavailable"),
    errors.StoreUnavailable: (503, "Service unavailable"),
    RuntimeError: (500, "Internal server error"),  # anything unexpected
}


def test_every_error_of_the_tree_has_an_upstream_answer() -> None:
    """A new class in the error tree must be added here (and so looked at for /v2)."""
    assert error_tree() <= set(UPSTREAM_WORDS)


@pytest.mark.parametrize("error", list(UPSTREAM_WORDS), ids=lambda cls: cls.__name__)
async def test_the_error_tree_maps_to_the_upstreams_shape_under_v2(
    tmp_path: Path, error: type[Exception]
) -> None:
    """Raised under /v2/: the upstream's shape, status and word (ours where it has none), and
    Retry-After when the error carries one; the same error under /v1/ keeps the gateway's shape."""
    status, word = UPSTREAM_WORDS[error]

    def failing() -> None:
        if issubclass(error, GatewayError):
            raise error("the gateway's own words", retry_after_s=7)
        raise error("an unexpected failure")

    handlers = [get(path, sync_to_thread=False)(failing) for path in ("/v2/boom", "/v1/boom")]
    async with AsyncTestClient(
        app=gateway_app(api_settings(tmp_path), extra_route_handlers=handlers)
    ) as http:
        drop_in = await http.get("/v2/boom")
        ours = await http.get("/v1/boom")
    body = drop_in.json()
    assert (status, str(status), "/v2/boom") == (
        drop_in.status_code,
        body["statusCode"],
        body["path"],
    )
    expected = word or "the gateway's own words"
    assert expected == body["message"]
    if issubclass(error, GatewayError):
        assert "7" == drop_in.headers["retry-after"]
    assert (status, {"error"}) == (ours.status_code, set(ours.json()))


async def test_an_unreachable_store_is_the_upstreams_503(tmp_path: Path) -> None:
    """The database down: 503 "Service unavailable" in the upstream's shape, never a 500."""
    from gateway.store import Database, Store

    unreachable = Store(Database.connect("postgresql://postgres@127.0.0.1:1/none"))
    app = gateway_app(api_settings(tmp_path, client_api_key=""), store=unreachable)
    async with AsyncTestClient(app=app) as http:
        response = await http.get(
            PATH, params={"generation_id": "x"}, headers={"Authorization": "Bearer some-key"}
        )
    await unreachable.close()
    assert "Service unavailable" == assert_upstream_error(response, 503)["message"]


def test_the_openapi_document_marks_v2s_own_error_shape() -> None:
    """/v2's operations need a client key and document every error in the upstream's shape."""
    import json

    document = json.loads(
        (Path(__file__).parents[2] / "contracts" / "gateway.openapi.json").read_text()
    )
    operations = document["paths"][PATH]
    refs = {
        answer["content"]["application/json"]["schema"]["$ref"]
        for operation in operations.values()
        for code, answer in operation["responses"].items()
        if int(code) >= 400
    }
    assert ({"get", "post"}, {"#/components/schemas/UpstreamErrorResponse"}) == (
        set(operations),
        refs,
    )
    assert [True, True] == [{"ClientKey": []} in op["security"] for op in operations.values()]
    assert "UpstreamErrorResponse" in document["info"]["description"]
