"""Retries and error mapping, with ``httpx.MockTransport`` instead of a network and a recording
sleep instead of time."""

from __future__ import annotations

import json

import httpx
import pytest

import gateway_client
from gateway_client import (
    AsyncClient,
    Client,
    ConnectionFailed,
    PollingBackoff,
    RateLimited,
    RetryPolicy,
    ServerError,
    Unavailable,
)

JOB = {"id": "job_1", "status": "accepted", "model": "m", "request": {}, "metadata": {}}


def error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"error": {"code": code, "message": f"{code} happened", "details": []}}
    return httpx.Response(status, json=body, headers=headers)


class Script:
    """Answers requests in order: a Response, or an exception to raise; records each request."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def client(self, **options: object) -> Client:
        return Client(
            "http://gateway.test",
            "key",
            transport=httpx.MockTransport(self),
            sleep=self.sleeps.append,
            **options,  # type: ignore[arg-type]
        )


def test_a_create_is_retried_with_one_idempotency_key() -> None:
    """Connection refused, 503, 429 with Retry-After: three resends, each with the same key."""
    script = Script(
        httpx.ConnectError("refused"),
        error(503, "service_unavailable"),
        error(429, "rate_limited", {"Retry-After": "7"}),
        httpx.Response(202, json=JOB),
    )
    with script.client() as client:
        job = client.create_job("m", prompt="p", seed=3)
    keys = {r.headers["idempotency-key"] for r in script.requests}
    assert ("job_1", 4, 1) == (job.id, len(script.requests), len(keys))
    assert [0.5, 1.0, 7.0] == script.sleeps
    assert {"model": "m", "prompt": "p", "seed": 3} == json.loads(script.requests[0].content)
    assert "Bearer key" == script.requests[0].headers["authorization"]


def test_each_create_call_has_its_own_key() -> None:
    script = Script(httpx.Response(202, json=JOB), httpx.Response(202, json=JOB))
    with script.client() as client:
        client.create_job(prompt="a")
        client.create_job(prompt="a")
    assert 2 == len({r.headers["idempotency-key"] for r in script.requests})


def test_a_create_is_resent_after_a_read_timeout_but_a_redeliver_is_not() -> None:
    """A create may be resent when the answer was lost (its key makes it one job); a redeliver
    that may have arrived is not."""
    script = Script(httpx.ReadTimeout("slow"), httpx.Response(202, json=JOB))
    with script.client() as client:
        assert "job_1" == client.create_job(prompt="p").id
    script = Script(httpx.ReadTimeout("slow"))
    with script.client() as client, pytest.raises(ConnectionFailed):
        client.redeliver("job_1")
    assert 1 == len(script.requests)


def test_a_429_without_retry_after_is_raised_at_once() -> None:
    script = Script(error(429, "in_flight_limit"))
    with script.client() as client, pytest.raises(RateLimited) as raised:
        client.get_job("job_1")
    assert ("in_flight_limit", None, []) == (
        raised.value.code,
        raised.value.retry_after,
        script.sleeps,
    )


def test_a_retry_after_longer_than_the_policy_allows_is_raised() -> None:
    script = Script(error(503, "service_unavailable", {"Retry-After": "3600"}))
    with script.client() as client, pytest.raises(Unavailable) as raised:
        client.get_job("job_1")
    assert (3600.0, []) == (raised.value.retry_after, script.sleeps)


def test_retries_end_after_max_attempts() -> None:
    script = Script(*(error(503, "service_unavailable") for _ in range(3)))
    with (
        script.client(retries=RetryPolicy(max_attempts=3)) as client,
        pytest.raises(Unavailable),
    ):
        client.list_jobs()
    assert (3, [0.5, 1.0]) == (len(script.requests), script.sleeps)


@pytest.mark.parametrize(
    ("response", "kind", "code"),
    [
        (error(500, "internal_error"), ServerError, "internal_error"),
        (httpx.Response(502, text="<html>bad gateway</html>"), ServerError, "internal_error"),
        (error(418, "teapot"), gateway_client.ClientError, "teapot"),
        (error(409, "idempotency_key_reused"), gateway_client.Conflict, "idempotency_key_reused"),
    ],
)
def test_error_answers_become_the_matching_exception(
    response: httpx.Response, kind: type[Exception], code: str
) -> None:
    script = Script(response)
    with script.client() as client, pytest.raises(kind) as raised:
        client.get_job("job_1")
    assert isinstance(raised.value, gateway_client.HTTPError)
    assert (response.status_code, code) == (raised.value.status_code, raised.value.code)


def test_a_success_that_is_not_json_is_an_error_not_a_crash() -> None:
    script = Script(httpx.Response(200, text="hello"))
    with script.client() as client, pytest.raises(gateway_client.GatewayError):
        client.get_job("job_1")


def test_job_ids_are_escaped_in_paths() -> None:
    script = Script(error(404, "not_found"))
    with script.client() as client, pytest.raises(gateway_client.NotFound):
        client.get_job("../admin")
    assert "/v1/jobs/..%2Fadmin" == script.requests[0].url.raw_path.decode()


def test_polling_backs_off_and_aims_at_the_expected_end() -> None:
    """Delays grow by the factor up to the cap; a known duration pulls the next poll in."""
    policy = PollingBackoff(initial_s=1.0, factor=2.0, max_s=5.0)
    job = gateway_client.Job.from_json({**JOB, "expected_duration_s": 10.0})
    unknown = gateway_client.Job.from_json(JOB)
    assert [1.0, 2.0, 4.0, 5.0, 5.0] == [policy.delay(n, unknown, None) for n in range(1, 6)]
    assert [5.0, 2.0, 1.0, 5.0] == [
        policy.delay(9, job, 0.0),
        policy.delay(9, job, 8.0),
        policy.delay(9, job, 9.9),
        policy.delay(9, job, 11.0),
    ]


async def test_the_async_client_retries_the_same_way() -> None:
    sleeps: list[float] = []
    script = Script(httpx.ConnectError("refused"), httpx.Response(202, json=JOB))

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with AsyncClient(
        "http://gateway.test", "key", transport=httpx.MockTransport(script), sleep=sleep
    ) as client:
        job = await client.create_job(prompt="p")
    assert ("job_1", [0.5], 1) == (
        job.id,
        sleeps,
        len({r.headers["idempotency-key"] for r in script.requests}),
    )


def test_a_url_without_a_scheme_fails_at_once() -> None:
    """Nothing to retry: the request can never be sent."""
    sleeps: list[float] = []
    with (
        Client("127.0.0.1:8000", "key", sleep=sleeps.append) as client,
        pytest.raises(ConnectionFailed) as raised,
    ):
        client.get_job("job_1")
    assert ([], True) == (sleeps, "UnsupportedProtocol" in str(raised.value))
