"""``removes_at`` in ``GET /v1/jobs/{id}``: when the job's records will be removed."""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.domain.upstream import Generation
from tests.http.conftest import Api


def parsed(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


async def test_the_job_view_says_when_the_job_will_be_removed(api: Api) -> None:
    """Null while the job runs, and while its webhook is owed; once delivered, 30 days (the
    default retention) after it finished."""
    api.upstream.poll_script.append(Generation(id="g", status="completed", video_url="https://v"))
    api.sender.script.append(500)  # the first attempt fails: the webhook is still owed
    job_id = (await api.submit()).json()["id"]
    worker = api.gateway.worker
    assert worker is not None

    async def view() -> dict[str, str | None]:
        body: dict[str, str | None] = (
            await api.http.get(f"/v1/jobs/{job_id}", headers=api.auth())
        ).json()
        return body

    await worker.run_until_idle()  # submitted
    running = await view()
    api.clock.advance(15)
    await worker.run_until_idle()  # completed; its webhook failed once
    owed = await view()
    api.clock.advance(10)  # past the retry (5 s, give or take the jitter)
    await worker.run_until_idle()  # delivered at the retry
    delivered = await view()

    assert [None, "completed", None] == [running["removes_at"], owed["status"], owed["removes_at"]]
    finished_at, removes_at = delivered["finished_at"], delivered["removes_at"]
    assert finished_at is not None
    assert removes_at is not None
    assert timedelta(days=30) == parsed(removes_at) - parsed(finished_at)
