"""Every request leaves one access-log line and one count, refused ones included; no secret."""

from __future__ import annotations

import structlog
from structlog.testing import capture_logs

from tests.http.conftest import ADMIN_KEY, BOOTSTRAP_KEY, Api


def count(metrics: str, route: str, method: str, status: int) -> float:
    prefix = f'gateway_http_requests_total{{method="{method}",route="{route}",status="{status}"}} '
    lines = [line for line in metrics.splitlines() if line.startswith(prefix)]
    return float(lines[0].split()[-1]) if lines else 0.0


async def test_refused_and_accepted_requests_are_logged_and_counted(api: Api) -> None:
    """400, 401, 404 (unrouted), a bad media type (415) and a 202: one ``http_request`` line
    each with request id, client id once known, the accepted job's id (on its line only, and
    no other line for it), method, route template, status and latency;
    the same in ``gateway_http_requests_total``; the key never appears."""
    with capture_logs() as logs:
        bad_key = await api.http.post("/v1/jobs", json={}, headers=api.auth("gw_wrong_key_123456"))
        bad_body = await api.http.post("/v1/jobs", content=b"{", headers=api.auth())
        bad_media = await api.http.post(
            "/v1/jobs", content=b"x", headers={**api.auth(), "content-type": "text/plain"}
        )
        unrouted = await api.http.get("/nowhere", headers={"X-Request-Id": "trace-42"})
        accepted = await api.submit()
        job_id = accepted.json()["id"]
        read = await api.http.get(f"/v1/jobs/{job_id}", headers=api.auth())
    metrics = (await api.http.get("/metrics")).text

    access = [entry for entry in logs if entry["event"] == "http_request"]
    assert [
        (401, "/v1/jobs", "POST"),
        (400, "/v1/jobs", "POST"),
        (415, "/v1/jobs", "POST"),
        (404, "unmatched", "GET"),
        (202, "/v1/jobs", "POST"),
        (200, "/v1/jobs/{job_id}", "GET"),
    ] == [(e["status"], e["route"], e["method"]) for e in access]
    assert [401, 400, 415, 404, 202, 200] == [
        r.status_code for r in (bad_key, bad_body, bad_media, unrouted, accepted, read)
    ]
    assert "trace-42" == access[3]["request_id"] == unrouted.headers["x-request-id"]
    assert len({e["request_id"] for e in access}) == len(access)
    client_ids = [e["client_id"] for e in access]
    known = "cl_bootstrap"
    assert [None, known, known, None, known, known] == client_ids
    assert [None, None, None, None, job_id, None] == [e.get("job_id") for e in access]
    assert [] == [e for e in logs if e["event"] == "job_accepted"]  # one line per request
    assert all(isinstance(e["latency_ms"], float) for e in access)
    assert 1.0 == count(metrics, "/v1/jobs", "POST", 401)
    assert 1.0 == count(metrics, "unmatched", "GET", 404)
    assert 1.0 == count(metrics, "/v1/jobs/{job_id}", "GET", 200)
    for secret in (BOOTSTRAP_KEY, ADMIN_KEY, "gw_wrong_key_123456"):
        assert secret not in repr(logs)
        assert secret not in metrics
    assert {} == structlog.contextvars.get_contextvars()
