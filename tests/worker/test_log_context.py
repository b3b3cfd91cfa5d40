"""Every log line of a work item names its job and client, bound once per item (structlog's
contextvars), and the binding ends with the item."""

from __future__ import annotations

import structlog

from gateway.domain.upstream import FailureKind, Generation
from gateway.testing.fakes import failure
from tests.harness import Harness


async def test_work_items_bind_their_job_and_client_to_every_log_line(harness: Harness) -> None:
    job = await harness.accept()
    harness.upstream.poll_script.extend(
        [failure(FailureKind.RETRYABLE, 503), Generation(id="gen_x", status="completed")]
    )
    with structlog.testing.capture_logs(
        processors=[structlog.contextvars.merge_contextvars]
    ) as lines:
        await harness.run()
        await harness.run(advance_s=15)
        await harness.run(advance_s=15)
    events = {line["event"]: line for line in lines}

    for name in ("job_submitted", "poll_failed", "job_finished", "delivery_attempted"):
        assert (job.id, harness.client.id) == (events[name]["job_id"], events[name]["client_id"])
    assert events["delivery_attempted"]["event_id"].startswith("msg_")
    # The binding lived in the work item's task, not in the caller's context.
    assert "job_id" not in structlog.contextvars.get_contextvars()


async def test_work_items_never_carry_the_context_of_whoever_started_them(
    harness: Harness,
) -> None:
    """A wake comes from inside a request, whose id is bound in its context: the work items
    started afterwards log their own job's ids and no request id (each starts in a fresh
    context)."""
    job = await harness.accept()
    harness.upstream.poll_script.append(Generation(id="gen_x", status="completed"))
    with (
        structlog.contextvars.bound_contextvars(request_id="req-of-another-job"),
        structlog.testing.capture_logs(
            processors=[structlog.contextvars.merge_contextvars]
        ) as lines,
    ):
        await harness.run()
        await harness.run(advance_s=15)
    worked = [
        line
        for line in lines
        if line["event"] in ("job_submitted", "job_finished", "delivery_attempted")
    ]
    assert {"job_submitted", "job_finished", "delivery_attempted"} == {
        line["event"] for line in worked
    }
    for line in worked:
        assert (job.id, None) == (line["job_id"], line.get("request_id"))
