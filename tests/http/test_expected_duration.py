"""``expected_duration_s`` in ``GET /v1/jobs/{id}``: what the poll policy has learned."""

from __future__ import annotations

from gateway.domain.upstream import Generation
from tests.http.conftest import Api


async def test_the_job_view_shows_the_learned_duration_of_its_kind(api: Api) -> None:
    """None before any job of the model ended; then what the poll policy expects: with fewer than
    five generations seen, the unseen-model prior (120 s, worth 3) pooled with them, for the
    exact kind and for other kinds of the same model alike."""
    api.upstream.poll_script.append(Generation(id="g", status="completed", video_url="https://v"))
    first = (await api.submit(duration="5")).json()["id"]
    worker = api.gateway.worker
    assert worker is not None
    await worker.run_until_idle()  # submitted now
    before = (await api.http.get(f"/v1/jobs/{first}", headers=api.auth())).json()
    api.clock.advance(15)
    await worker.run_until_idle()  # polled: completed 15 s after submission
    await worker.refresh_durations()
    second = (await api.submit(duration="5")).json()["id"]
    other_kind = (await api.submit(duration="9")).json()["id"]
    seen = [
        (await api.http.get(f"/v1/jobs/{job_id}", headers=api.auth())).json()
        for job_id in (first, second, other_kind)
    ]
    pooled = round((3 * 120.0 + 15.0) / 4, 1)
    assert [None, pooled, pooled, pooled] == [
        before["expected_duration_s"],
        *(job["expected_duration_s"] for job in seen),
    ]
