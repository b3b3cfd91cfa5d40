"""The mock's behaviour: lifecycle on its clock, auth, strict vs lenient, scenarios, journal,
framework errors in the upstream's shape, and the seed's own client running against it."""

from __future__ import annotations

import types
from typing import Any

import httpx
import pytest

from mock_upstream.app import create_app
from mock_upstream.config import MockConfig
from mock_upstream.messages import MESSAGES
from mock_upstream.testing import FakeClock, Journal, MockServer

PATH = "/v2/video/generations"
AUTH = {"Authorization": "Bearer test-key"}
SEED_BODY = {
    "model": "alibaba/happyhorse-1-0",
    "prompt": "Mona Lisa puts on glasses with her hands.",
    "image_url": "https://raw.githubusercontent.com/aimlapi/api-docs/main/reference-files/mona_lisa_extended.jpg",
    "duration": "7",
}


def client_for(config: MockConfig) -> tuple[httpx.AsyncClient, Any]:
    app = create_app(config)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock"), app


async def test_lifecycle_follows_the_clock() -> None:
    """queued → generating → completed as the injected clock moves; then a real MP4."""
    clock = FakeClock(1000.0)
    http, _ = client_for(MockConfig.realistic(clock=clock, spread_s=0.0))
    created = await http.post(PATH, json=SEED_BODY, headers=AUTH)
    job_id = created.json()["id"]
    seen = []
    for _ in range(20):
        seen.append((await http.get(PATH, params={"generation_id": job_id}, headers=AUTH)).json())
        clock.advance(15)
    statuses = [s["status"] for s in seen]
    assert ["queued", "generating", "completed"] == list(dict.fromkeys(statuses))
    done = seen[-1]
    assert done["meta"]["usage"]["credits_used"] > 0
    video = await http.get(done["video"]["url"].replace("http://mock", ""))
    assert (200, "video/mp4", b"ftyp") == (
        video.status_code,
        video.headers["content-type"],
        video.content[4:8],
    )
    assert (21, job_id) == (len(job_id), created.headers["x-inference-id"])


async def test_auth_is_required_with_the_verbatim_message() -> None:
    """No key → 401 with the upstream's words; a configured key refuses any other."""
    http, _ = client_for(MockConfig.fast(expected_key="test-key"))
    missing = await http.post(PATH, json=SEED_BODY)
    wrong = await http.post(PATH, json=SEED_BODY, headers={"Authorization": "Bearer nope"})
    assert (401, 401, MESSAGES[401]) == (
        missing.status_code,
        wrong.status_code,
        missing.json()["message"],
    )


async def test_lenient_records_violations_and_strict_refuses_them() -> None:
    """`"duration": "7"` is accepted by default but journalled; --strict answers 400."""
    lenient, lenient_app = client_for(MockConfig.fast())
    strict, _ = client_for(MockConfig.fast(strict=True))
    ok = await lenient.post(PATH, json=SEED_BODY, headers=AUTH)
    refused = await strict.post(PATH, json=SEED_BODY, headers=AUTH)
    assert (200, 400, "Body validation error!") == (
        ok.status_code,
        refused.status_code,
        refused.json()["message"],
    )
    [violations] = [e["violations"] for e in Journal(lenient_app).submissions()]
    assert {"duration"} == {v["path"] for v in violations}
    assert "'7' is not of type 'integer'" in [v["message"] for v in violations]


async def test_journal_never_holds_the_key_and_reset_forgets() -> None:
    """The Authorization value is redacted; /__mock/reset empties the journal."""
    http, _ = client_for(MockConfig.fast())
    await http.post(
        PATH,
        json=SEED_BODY,
        headers={"Authorization": "Bearer sk-secret-123", "X-Client-Request-Id": "job.1"},
    )
    entries = (await http.get("/__mock/requests")).json()
    assert "sk-secret-123" not in str(entries)
    assert ("Bearer [redacted]", "job.1") == (
        entries[0]["headers"]["authorization"],
        entries[0]["headers"]["x-client-request-id"],
    )
    await http.post("/__mock/reset")
    assert [] == (await http.get("/__mock/requests")).json()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 502, 503, 504])
async def test_submit_error_scenarios_in_both_shapes(status: int) -> None:
    """submit_NNN in the plain shape (statusCode a string); submit_NNN_problem as problem+json."""
    http, _ = client_for(MockConfig.fast())
    plain = await http.post(
        PATH, json=SEED_BODY, headers={**AUTH, "X-Mock-Scenario": f"submit_{status}"}
    )
    problem = await http.post(
        PATH, json={**SEED_BODY, "prompt": f"[mock:submit_{status}_problem] x"}, headers=AUTH
    )
    assert (status, str(status), status, "application/problem+json") == (
        plain.status_code,
        plain.json()["statusCode"],
        problem.json()["status"],
        problem.headers["content-type"],
    )
    assert problem.json()["error"]["name"]


async def test_job_scenarios() -> None:
    """job_error / job_error_detail fail in both shapes; stuck_generating never completes;
    poll_fail_2 fails twice then recovers; poll_404 forgets the job."""
    clock = FakeClock(0.0)
    http, _ = client_for(MockConfig.fast(clock=clock))

    async def job(scenario: str) -> str:
        response = await http.post(
            PATH, json=SEED_BODY, headers={**AUTH, "X-Mock-Scenario": scenario}
        )
        job_id: str = response.json()["id"]
        return job_id

    ids = {
        name: await job(name)
        for name in ("job_error", "job_error_detail", "stuck_generating", "poll_fail_2", "poll_404")
    }
    clock.advance(1000)

    async def poll(name: str) -> httpx.Response:
        return await http.get(PATH, params={"generation_id": ids[name]}, headers=AUTH)

    assert {"name", "message"} == set((await poll("job_error")).json()["error"])
    assert "detail" in (await poll("job_error_detail")).json()["error"]
    assert "generating" == (await poll("stuck_generating")).json()["status"]
    assert [500, 500, 200] == [(await poll("poll_fail_2")).status_code for _ in range(3)]
    assert 404 == (await poll("poll_404")).status_code


async def test_unknown_ids_and_framework_errors_use_the_upstream_shape() -> None:
    """Unknown generation → 404; unknown route 404 and wrong method 405 in the same shape."""
    http, _ = client_for(MockConfig.fast())
    unknown = await http.get(PATH, params={"generation_id": "nope"}, headers=AUTH)
    route = await http.get("/v3/nothing")
    method = await http.delete(PATH, headers=AUTH)
    assert [(404, "404"), (404, "404"), (405, "405")] == [
        (r.status_code, r.json()["statusCode"]) for r in (unknown, route, method)
    ]


def test_transport_faults_over_a_real_socket() -> None:
    """reset drops the connection mid-answer (the job exists); invalid_json answers HTML."""
    app = create_app(MockConfig.fast())
    with MockServer(app) as server:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(
                f"{server.url}{PATH}",
                json=SEED_BODY,
                headers={**AUTH, "X-Mock-Scenario": "reset"},
                timeout=5,
            )
        broken = httpx.post(
            f"{server.url}{PATH}",
            json=SEED_BODY,
            headers={**AUTH, "X-Mock-Scenario": "invalid_json"},
            timeout=5,
        )
        assert (200, "text/html") == (broken.status_code, broken.headers["content-type"])
        assert 1 == len(app.state.mock.jobs)  # the reset job was created before the drop


def test_the_seeds_own_python_example_runs_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    """The documentation's submit-then-poll-every-15-s client, pointed at the mock, sees
    queued → generating → completed; its sleeps move a fake clock shared with the mock."""
    from tests.fixtures import seed_example

    clock = FakeClock(1000.0)
    app = create_app(MockConfig.realistic(clock=clock))
    with MockServer(app) as server:
        seed_example.base_url = f"{server.url}/v2"  # type: ignore[attr-defined]
        seed_example.api_key = "test-key"  # type: ignore[attr-defined]
        seed_example.time = types.SimpleNamespace(sleep=clock.advance, time=clock)  # type: ignore[attr-defined]
        result = seed_example.main()
    out = capsys.readouterr().out
    assert "completed" == result["status"]
    assert result["video"]["url"].startswith(server.url)
    assert "Status: queued" in out
    assert "Status: generating" in out
