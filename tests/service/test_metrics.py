"""Gauges read the store with every label (zeros too); labels stay a bounded set."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from gateway.domain.upstream import FailureKind, Generation
from gateway.service.gauges import refresh_gauges
from gateway.store.records import JobChange
from gateway.testing.fakes import failure
from tests.harness import Harness


def samples(harness: Harness, name: str) -> dict[str, float]:
    text = harness.runtime.metrics.render().decode()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))] = sample.value
    return found


async def test_gauges_follow_the_store_including_zeros(harness: Harness) -> None:
    """A job moves accepted → queued → completed: each scrape shows every status, the emptied
    ones at 0 (no stale 'submitting 1'), and every delivery state."""
    metrics, store = harness.runtime.metrics, harness.store
    harness.upstream.poll_script.append(
        Generation(id="gen_scripted_000000001", status="completed", video_url="https://v.test/v")
    )
    await harness.accept()
    await refresh_gauges(metrics, store, now=harness.clock())
    before = samples(harness, "gateway_jobs")
    await harness.run()
    await harness.run(advance_s=15)
    await refresh_gauges(metrics, store, now=harness.clock())
    after = samples(harness, "gateway_jobs")
    events = samples(harness, "gateway_webhook_events")

    statuses = ["accepted", "completed", "failed", "generating", "keeping", "queued", "submitting"]
    assert [f"status={s}" for s in statuses] == sorted(before)
    assert 1.0 == before["status=accepted"]
    assert {f"status={s}": float(s == "completed") for s in statuses} == after
    assert {"state=dead": 0.0, "state=delivered": 1.0, "state=gone": 0.0, "state=pending": 0.0} == (
        events
    )


async def test_poll_and_submission_outcomes_are_bounded(harness: Harness) -> None:
    """An unexpected upstream word counts as 'other'; a crash mid-submit and an unknown answer
    count under the one name 'unknown'."""
    harness.upstream.poll_script.append(Generation(id="gen_scripted_000000001", status="rendering"))
    harness.upstream.submit_script.append(failure(FailureKind.UNKNOWN, 504))
    first = await harness.accept(callback_url=None)
    await harness.run()  # the first job's submission is answered with an unknown outcome
    second = await harness.accept(callback_url=None)
    await harness.run()
    await harness.run(advance_s=15)
    crashed = await harness.accept(callback_url=None)
    await harness.store.jobs.claim_jobs(
        now=harness.clock(), limit=10, token="dead_worker", lease_until=harness.clock() + 1
    )
    # a worker died mid-submit: its job is found 'submitting'
    await harness.store.jobs.update_job(
        crashed.id,
        "dead_worker",
        JobChange(status="submitting"),
        now=harness.clock(),
        release=False,
    )
    await harness.run(advance_s=70)

    polls = samples(harness, "gateway_polls_total")
    submissions = samples(harness, "gateway_submissions_total")

    assert 1.0 == polls["outcome=other"]
    assert set(polls) <= {f"outcome={o}" for o in ("queued", "generating", "completed", "other")}
    assert 2.0 == submissions["outcome=unknown"]
    assert "outcome=outcome_unknown" not in submissions
    assert (
        "failed" == (await harness.job(first.id)).status == (await harness.job(crashed.id)).status
    )
    assert "failed" != (await harness.job(second.id)).status
