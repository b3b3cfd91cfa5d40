"""The upstream client with respx: every status, both error shapes, every transport fault.

The client's own transport is aiohttp's pool (which respx cannot see), so these tests inject
``httpx.MockTransport`` over respx's router; ``tests/upstream/test_transport.py`` runs the real
transport against real sockets.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from litestar import Litestar, Request, post

from gateway.domain.upstream import FailureKind, Generation, UpstreamFailure
from gateway.upstream.client import UpstreamClient

BASE = "https://api.upstream.test"
KEY = "sk-upstream-secret-0123456789"
URL = f"{BASE}/v2/video/generations"
MESSAGES = {
    400: "Body validation error!",
    401: (
        "This request requires a valid API key. You can create a new API key on the Billing "
        "page: https://aimlapi.com/app/keys"
    ),
    403: (
        "You've run out of credits. Please top up your balance or update your payment method "
        "to continue: https://aimlapi.com/app/billing/"
    ),
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal server error",
    502: "Bad Gateway",
    503: "Service unavailable",
    504: "Generation timeout",
}
KINDS = {
    400: FailureKind.REJECTED,
    401: FailureKind.REJECTED,
    403: FailureKind.REJECTED,
    404: FailureKind.NOT_FOUND,
    408: FailureKind.RETRYABLE,
    422: FailureKind.REJECTED,
    429: FailureKind.RETRYABLE,
    500: FailureKind.UNKNOWN,
    502: FailureKind.RETRYABLE,
    503: FailureKind.RETRYABLE,
    504: FailureKind.UNKNOWN,
    302: FailureKind.UNKNOWN,
}


def plain_shape(status: int) -> dict[str, object]:
    return {
        "message": MESSAGES.get(status, "x"),
        "path": "/v2/video/generations",
        "requestId": "req-1",
        "statusCode": str(status),
        "timestamp": "2026-11-25T00:00:00Z",
    }


def problem_shape(status: int) -> dict[str, object]:
    return {
        "title": "Error",
        "status": status,
        "message": MESSAGES.get(status, "x"),
        "instance": "/v2/video/generations",
        "requestId": "req-2",
        "timestamp": "2026-11-25T00:00:00Z",
        "error": {"name": "SomeError", "message": MESSAGES.get(status, "x")},
    }


@pytest.fixture
async def client() -> AsyncIterator[UpstreamClient]:
    transport = httpx.MockTransport(respx.mock.async_handler)  # the routes of `@respx.mock`
    client = UpstreamClient(BASE, KEY, clock=lambda: 1445412380.0, transport=transport)
    yield client
    await client.aclose()


def assert_no_key(result: object, client: UpstreamClient) -> None:
    assert KEY not in repr(result)
    assert KEY not in repr(client)


@pytest.mark.parametrize("status", sorted(KINDS))
@pytest.mark.parametrize("shape", [plain_shape, problem_shape])
@respx.mock
async def test_error_statuses_on_submit(client: UpstreamClient, status: int, shape: object) -> None:
    """Each status maps to its kind, the upstream's message kept, in either body shape."""
    body = shape(status)  # type: ignore[operator]
    media = "application/problem+json" if "title" in body else "application/json"
    respx.post(URL).mock(
        return_value=httpx.Response(status, json=body, headers={"content-type": media})
    )
    result = await client.submit(b'{"prompt":"p"}', request_id="job_1.submit.1")
    assert isinstance(result, UpstreamFailure)
    assert (KINDS[status], status, MESSAGES.get(status, "x")) == (
        result.kind,
        result.status_code,
        result.message,
    )
    assert_no_key(result, client)


@pytest.mark.parametrize("status", [404, 429, 500, 502, 503, 504])
@respx.mock
async def test_error_statuses_on_fetch(client: UpstreamClient, status: int) -> None:
    """Polls classify the same way; the request id in the body is kept."""
    respx.get(URL).mock(return_value=httpx.Response(status, json=plain_shape(status)))
    result = await client.fetch("gen_1", request_id="job_1.poll.1")
    assert isinstance(result, UpstreamFailure)
    assert (KINDS[status], "req-1") == (result.kind, (result.error or {})["request_id"])


@respx.mock
async def test_submit_sends_key_request_id_and_the_body_unchanged(client: UpstreamClient) -> None:
    """Bearer key, X-Client-Request-Id, JSON content type, the exact bytes; 200 → Generation."""
    route = respx.post(URL).mock(
        return_value=httpx.Response(200, json={"id": "rLCxsu-1_rTBBGbBC6JFJ", "status": "queued"})
    )
    body = b'{"model":"alibaba/happyhorse-1-0","prompt":"p","duration":7}'
    result = await client.submit(body, request_id="job_1.submit.1")
    request = route.calls.last.request
    assert Generation(id="rLCxsu-1_rTBBGbBC6JFJ", status="queued") == result
    assert (f"Bearer {KEY}", "job_1.submit.1", "application/json", body) == (
        request.headers["authorization"],
        request.headers["x-client-request-id"],
        request.headers["content-type"],
        request.content,
    )


@respx.mock
async def test_fetch_reads_completed_and_both_failed_shapes(client: UpstreamClient) -> None:
    """video.url and meta.usage on completion; error as {name,message} or {detail:[…]}."""
    done = {
        "id": "g",
        "status": "completed",
        "video": {"url": "https://cdn.test/v.mp4"},
        "meta": {"usage": {"credits_used": 120000, "usd_spent": 0.06}},
    }
    failed_named = {"id": "g", "status": "error", "error": {"name": "E", "message": "boom"}}
    failed_detail = {
        "id": "g",
        "status": "error",
        "error": {"detail": [{"loc": ["x"], "msg": "m", "type": "t"}]},
    }
    route = respx.get(URL)
    route.side_effect = [httpx.Response(200, json=b) for b in (done, failed_named, failed_detail)]
    results = [await client.fetch("g", request_id="r") for _ in range(3)]
    assert [
        Generation(
            id="g",
            status="completed",
            video_url="https://cdn.test/v.mp4",
            usage={"credits_used": 120000, "usd_spent": 0.06},
        ),
        Generation(id="g", status="error", error={"name": "E", "message": "boom"}),
        Generation(
            id="g", status="error", error={"detail": [{"loc": ["x"], "msg": "m", "type": "t"}]}
        ),
    ] == results
    assert {"generation_id": "g"} == dict(route.calls.last.request.url.params)


@pytest.mark.parametrize(
    ("response", "expected_message_part"),
    [
        (httpx.Response(200, content=b"{not json"), "unreadable"),
        (httpx.Response(200, json={"status": "queued"}), "unreadable"),
        (httpx.Response(502, content=b"<html>bad gateway</html>"), "HTTP 502"),
        (httpx.Response(500, content=b""), "HTTP 500"),
    ],
)
@respx.mock
async def test_unreadable_answers(
    client: UpstreamClient, response: httpx.Response, expected_message_part: str
) -> None:
    """Broken or missing JSON never raises: a failure value with a clear message."""
    respx.post(URL).mock(return_value=response)
    result = await client.submit(b"{}", request_id="r")
    assert isinstance(result, UpstreamFailure)
    assert expected_message_part in result.message


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ConnectError("refused"), FailureKind.RETRYABLE),
        (httpx.ConnectTimeout("slow"), FailureKind.RETRYABLE),
        (httpx.PoolTimeout("pool"), FailureKind.RETRYABLE),
        (httpx.ReadTimeout("read"), FailureKind.UNKNOWN),
        (httpx.RemoteProtocolError("reset"), FailureKind.UNKNOWN),
        (httpx.ReadError("reset"), FailureKind.UNKNOWN),
    ],
)
@respx.mock
async def test_transport_faults(
    client: UpstreamClient, error: Exception, kind: FailureKind
) -> None:
    """Nothing sent → retryable; anything after sending → the outcome is unknown."""
    respx.post(URL).mock(side_effect=error)
    result = await client.submit(b"{}", request_id="r")
    assert isinstance(result, UpstreamFailure)
    assert (kind, None) == (result.kind, result.status_code)
    assert_no_key(result, client)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("Wed, 21 Oct 2015 07:28:00 GMT", 100.0), (None, None)],
)
@respx.mock
async def test_retry_after_on_429(
    client: UpstreamClient, header: str | None, expected: float | None
) -> None:
    """Retry-After in seconds or as an HTTP date (against the client's clock)."""
    headers = {"retry-after": header} if header else {}
    respx.post(URL).mock(return_value=httpx.Response(429, json=plain_shape(429), headers=headers))
    result = await client.submit(b"{}", request_id="r")
    assert isinstance(result, UpstreamFailure)
    assert expected == result.retry_after_s


async def test_works_in_process_through_asgi_transport() -> None:
    """The gateway can test against an in-process app (the mock) through ASGITransport."""

    @post("/v2/video/generations", status_code=200)
    async def create(request: Request) -> dict[str, str]:  # type: ignore[type-arg]
        assert f"Bearer {KEY}" == request.headers["authorization"]
        assert {"prompt": "p"} == json.loads(await request.body())
        return {"id": "abc", "status": "queued"}

    app = Litestar(route_handlers=[create])
    client = UpstreamClient("http://mock", KEY, transport=httpx.ASGITransport(app=app))
    assert Generation(id="abc", status="queued") == await client.submit(
        b'{"prompt":"p"}', request_id="r"
    )
    await client.aclose()


@respx.mock
async def test_answers_the_store_could_not_keep_are_bounded_or_refused(
    client: UpstreamClient,
) -> None:
    """An over-long status is cut to the column's size, a NUL-bearing video URL dropped, and an
    id no real generation has (too long, or holding NUL) is an unreadable answer."""
    respx.get(URL).mock(
        return_value=httpx.Response(
            200,
            json={
                "id": "g" * 21,
                "status": "generating-" + "x" * 40,
                "video": {"url": "https://cdn.test/\x00.mp4"},
            },
        )
    )
    result = await client.fetch("g" * 21, request_id="r")
    assert isinstance(result, Generation)
    assert ("generating-" + "x" * 9, None) == (result.status, result.video_url)
    for bad_id in ("g" * 101, "a\x00b"):
        respx.get(URL).mock(
            return_value=httpx.Response(200, json={"id": bad_id, "status": "queued"})
        )
        assert isinstance(await client.fetch("g", request_id="r"), UpstreamFailure)


@respx.mock
async def test_a_key_echoed_by_the_upstream_never_reaches_the_failure(
    client: UpstreamClient,
) -> None:
    body = {"message": f"Invalid key {KEY}", "statusCode": "401", "path": "/v2/video/generations"}
    respx.post(URL).mock(return_value=httpx.Response(401, json=body))
    result = await client.submit(b"{}", request_id="r")
    assert isinstance(result, UpstreamFailure)
    assert "Invalid key [redacted]" == result.message
    assert_no_key(result, client)
