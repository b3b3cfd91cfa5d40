"""A job's life through the worker: submit, poll, finish, deliver — and every way it can fail.

The upstream and the receiver are scripted fakes; the clock only moves when a test moves it.
"""

from __future__ import annotations

import json

import pytest

from gateway.domain.jobs import ErrorCode, JobStatus
from gateway.domain.upstream import FailureKind, Generation
from gateway.service.clients import rotate_secret
from gateway.store.records import JobChange
from gateway.testing.fakes import failure
from tests.harness import Harness
from tests.webhooks import verify_at_its_timestamp

COMPLETED = Generation(
    id="gen_scripted_000000001",
    status="completed",
    video_url="https://cdn.test/v.mp4",
    usage={"credits_used": 120, "usd_spent": 0.06},
)


async def test_happy_path_submits_once_polls_and_delivers_a_signed_webhook(
    harness: Harness,
) -> None:
    """accepted → queued → generating → completed, then one verified webhook with metadata."""
    job = await harness.accept(duration="7", metadata={"order": "42"})
    harness.upstream.poll_script.extend(
        [Generation(id="gen_scripted_000000001", status="generating"), COMPLETED]
    )
    await harness.run()
    queued = await harness.job(job.id)
    assert (JobStatus.QUEUED, "gen_scripted_000000001") == (queued.status, queued.generation_id)
    assert [({"model": "alibaba/happyhorse-1-0", "prompt": "a horse", "duration": 7})] == [
        json.loads(body) for body, _ in harness.upstream.submitted
    ]
    await harness.run(advance_s=15)
    assert JobStatus.GENERATING == (await harness.job(job.id)).status
    await harness.run(advance_s=15)
    done = await harness.job(job.id)
    assert (JobStatus.COMPLETED, "https://cdn.test/v.mp4") == (done.status, done.video_url)

    assert 1 == len(harness.sender.sent)
    url, body, headers = harness.sender.sent[0]
    event = verify_at_its_timestamp(harness.webhook_secret, body, headers)
    assert ("https://hooks.test/in", "video.generation.completed") == (url, event["type"])
    assert (job.id, "completed", {"order": "42"}, "https://cdn.test/v.mp4") == (
        event["data"]["id"],
        event["data"]["status"],
        event["data"]["metadata"],
        event["data"]["video_url"],
    )
    deliveries = await harness.store.deliveries.for_job(job.id)
    assert [("delivered", 1)] == [(d.state, d.attempts) for d in deliveries]


async def test_request_ids_correlate_every_upstream_call(harness: Harness) -> None:
    """Each upstream call carries X-Client-Request-Id naming the job, the step and its number."""
    job = await harness.accept()
    harness.upstream.poll_script.append(COMPLETED)
    await harness.run()
    await harness.run(advance_s=15)
    assert [f"{job.id}.submit.1"] == [rid for _, rid in harness.upstream.submitted]
    assert [f"{job.id}.poll.1"] == [rid for _, rid in harness.upstream.polled]


async def test_rejected_submission_fails_with_the_upstreams_message(harness: Harness) -> None:
    """A 403 (out of credits) fails the job at once, and the failed webhook carries why."""
    harness.upstream.submit_script.append(
        failure(FailureKind.REJECTED, 403, error={"status": 403, "message": "You've run out"})
    )
    job = await harness.accept()
    await harness.run()
    failed = await harness.job(job.id)
    assert (JobStatus.FAILED, ErrorCode.UPSTREAM_REJECTED.value) == (
        failed.status,
        failed.error and failed.error["code"],
    )
    event = json.loads(harness.sender.sent[0][1])
    assert ("video.generation.failed", "upstream_rejected", 403) == (
        event["type"],
        event["data"]["error"]["code"],
        event["data"]["error"]["upstream"]["status"],
    )


async def test_retryable_refusals_are_retried_with_backoff(harness: Harness) -> None:
    """503 and 429 mean nothing started: the job is submitted again later, then succeeds."""
    harness.upstream.submit_script.extend(
        [failure(FailureKind.RETRYABLE, 503), failure(FailureKind.RETRYABLE, 429, retry_after_s=30)]
    )
    job = await harness.accept()
    await harness.run()
    first = await harness.job(job.id)
    assert (JobStatus.ACCEPTED, 1) == (first.status, first.submit_attempts)
    assert first.next_run_at is not None
    assert first.next_run_at > harness.clock()
    await harness.run(advance_s=first.next_run_at - harness.clock())
    second = await harness.job(job.id)
    assert second.next_run_at is not None
    assert second.next_run_at - harness.clock() >= 30  # Retry-After honoured
    await harness.run(advance_s=second.next_run_at - harness.clock())
    third = await harness.job(job.id)
    assert (JobStatus.QUEUED, 3) == (third.status, third.submit_attempts)
    assert 3 == len(harness.upstream.submitted)


async def test_retryable_refusals_are_bounded(harness: Harness) -> None:
    """After GATEWAY_SUBMIT_MAX_ATTEMPTS refusals the job fails as upstream_unavailable."""
    harness.runtime.settings = harness.runtime.settings.with_(submit_max_attempts=2)
    harness.upstream.submit_script.extend([failure(FailureKind.RETRYABLE, 502)] * 2)
    job = await harness.accept()
    await harness.run()
    await harness.run(advance_s=600)
    failed = await harness.job(job.id)
    assert (JobStatus.FAILED, "upstream_unavailable") == (
        failed.status,
        failed.error and failed.error["code"],
    )


async def test_unknown_outcome_is_never_resubmitted_by_default(harness: Harness) -> None:
    """A 500 on submit may have started a generation: fail clearly, do not pay twice."""
    harness.upstream.submit_script.append(failure(FailureKind.UNKNOWN, 500))
    job = await harness.accept()
    await harness.run()
    await harness.run(advance_s=600)
    failed = await harness.job(job.id)
    assert (JobStatus.FAILED, "submission_outcome_unknown", 1) == (
        failed.status,
        failed.error and failed.error["code"],
        len(harness.upstream.submitted),
    )


async def test_unknown_outcome_is_resubmitted_when_the_operator_opts_in(harness: Harness) -> None:
    """With GATEWAY_RESUBMIT_UNKNOWN the same read timeout leads to a second submission."""
    harness.runtime.settings = harness.runtime.settings.with_(resubmit_unknown=True)
    harness.upstream.submit_script.append(failure(FailureKind.UNKNOWN, None))
    job = await harness.accept()
    await harness.run()
    await harness.run(advance_s=600)
    assert (JobStatus.QUEUED, 2) == (
        (await harness.job(job.id)).status,
        len(harness.upstream.submitted),
    )


async def _crash_mid_submission(harness: Harness) -> str:
    """Leave a job as a crash would: marked submitting, lease held by a dead worker."""
    job = await harness.accept()
    claimed = await harness.store.jobs.claim_jobs(
        now=harness.clock(), limit=1, token="dead-worker", lease_until=harness.clock() + 60
    )
    assert [job.id] == [j.id for j in claimed]
    assert await harness.store.jobs.update_job(
        job.id,
        "dead-worker",
        JobChange(status=JobStatus.SUBMITTING),
        now=harness.clock(),
        release=False,
    )
    return job.id


async def test_a_job_found_submitting_after_a_crash_fails_as_outcome_unknown(
    harness: Harness,
) -> None:
    """After the lease expires, the job fails with submission_outcome_unknown, unsent again."""
    job_id = await _crash_mid_submission(harness)
    await harness.run(advance_s=30)
    assert JobStatus.SUBMITTING == (await harness.job(job_id)).status  # lease still held
    await harness.run(advance_s=61)
    failed = await harness.job(job_id)
    assert (JobStatus.FAILED, "submission_outcome_unknown", []) == (
        failed.status,
        failed.error and failed.error["code"],
        harness.upstream.submitted,
    )
    assert "video.generation.failed" == json.loads(harness.sender.sent[0][1])["type"]


async def test_a_job_found_submitting_is_resubmitted_with_the_opt_in(harness: Harness) -> None:
    """The operator's opt-in turns the same situation into one more submission."""
    harness.runtime.settings = harness.runtime.settings.with_(resubmit_unknown=True)
    job_id = await _crash_mid_submission(harness)
    await harness.run(advance_s=61)
    assert (JobStatus.QUEUED, 1) == (
        (await harness.job(job_id)).status,
        len(harness.upstream.submitted),
    )


async def test_failed_generation_carries_both_upstream_error_shapes(harness: Harness) -> None:
    """A job that ends in `error` fails with the upstream's error, {name,message} or {detail}."""
    harness.upstream.poll_script.append(
        Generation(
            id="g",
            status="error",
            error={"detail": [{"loc": ["x"], "msg": "bad frame", "type": "v"}]},
        )
    )
    job = await harness.accept()
    await harness.run()
    await harness.run(advance_s=15)
    failed = await harness.job(job.id)
    assert failed.error is not None
    assert ("generation_failed", "bad frame") == (
        failed.error["code"],
        failed.error["upstream"]["detail"][0]["msg"],
    )
    assert "bad frame" in failed.error["message"]


async def test_poll_errors_back_off_and_recover(harness: Harness) -> None:
    """5xx, timeouts and invalid answers while polling are retried later, then the job finishes."""
    harness.upstream.poll_script.extend(
        [
            failure(FailureKind.UNKNOWN, 500),
            failure(FailureKind.RETRYABLE, 429, retry_after_s=40),
            COMPLETED,
        ]
    )
    job = await harness.accept()
    await harness.run()
    await harness.run(advance_s=15)
    after_error = await harness.job(job.id)
    assert 1 == after_error.poll_errors
    assert after_error.next_run_at is not None
    await harness.run(advance_s=after_error.next_run_at - harness.clock())
    after_429 = await harness.job(job.id)
    assert after_429.next_run_at is not None
    assert after_429.next_run_at - harness.clock() >= 40
    await harness.run(advance_s=after_429.next_run_at - harness.clock())
    assert JobStatus.COMPLETED == (await harness.job(job.id)).status


async def test_a_forgotten_generation_fails_after_repeated_404s(harness: Harness) -> None:
    """404 on every poll ends as generation_not_found, not as an endless loop."""
    harness.upstream.poll_script.extend([failure(FailureKind.NOT_FOUND, 404)] * 10)
    job = await harness.accept()
    await harness.run()
    for _ in range(10):
        current = await harness.job(job.id)
        if current.status.is_terminal:
            break
        assert current.next_run_at is not None
        await harness.run(advance_s=current.next_run_at - harness.clock())
    failed = await harness.job(job.id)
    assert (JobStatus.FAILED, "generation_not_found", 5) == (
        failed.status,
        failed.error and failed.error["code"],
        len(harness.upstream.polled),
    )


async def test_404s_are_counted_apart_from_other_poll_errors(harness: Harness) -> None:
    """Four timeouts then one 404 do not fail the job; the fifth 404 does, whatever came
    between them; an answer in between starts the count again."""
    timeout = failure(FailureKind.UNKNOWN)
    not_found = failure(FailureKind.NOT_FOUND, 404)
    harness.upstream.poll_script.extend(
        [timeout] * 4
        + [not_found]
        + [Generation(id="gen_scripted_000000001", status="generating")]
        + [not_found, timeout] * 4
        + [not_found]
    )
    job = await harness.accept()
    await harness.run()
    seen: list[tuple[int, JobStatus]] = []
    for _ in range(20):
        current = await harness.job(job.id)
        if current.status.is_terminal:
            break
        assert current.next_run_at is not None
        await harness.run(advance_s=current.next_run_at - harness.clock())
        seen.append((len(harness.upstream.polled), (await harness.job(job.id)).status))
    failed = await harness.job(job.id)
    assert JobStatus.QUEUED == dict(seen)[5]  # four timeouts and a 404: still polling
    assert (JobStatus.FAILED, "generation_not_found", 15) == (
        failed.status,
        failed.error and failed.error["code"],
        len(harness.upstream.polled),
    )


async def test_a_stuck_generation_ends_at_the_deadline(harness: Harness) -> None:
    """A generation stuck in `generating` fails with deadline_exceeded and a failed webhook."""
    harness.runtime.settings = harness.runtime.settings.with_(job_deadline_s=100)
    job = await harness.accept()
    await harness.run()
    for _ in range(20):
        current = await harness.job(job.id)
        if current.status.is_terminal:
            break
        assert current.next_run_at is not None
        assert current.next_run_at <= current.deadline_at
        await harness.run(advance_s=current.next_run_at - harness.clock())
    failed = await harness.job(job.id)
    assert (JobStatus.FAILED, "deadline_exceeded") == (
        failed.status,
        failed.error and failed.error["code"],
    )
    assert "generating" in (failed.error or {})["message"]


async def test_progress_events_are_sent_only_when_asked_for(harness: Harness) -> None:
    """events=[queued, generating, completed] sends three webhooks in order; default sends one."""
    harness.upstream.poll_script.extend([Generation(id="g", status="generating"), COMPLETED])
    await harness.accept(events=["queued", "generating", "completed"])
    await harness.run()
    await harness.run(advance_s=15)
    await harness.run(advance_s=15)
    types = [json.loads(body)["type"] for _, body, _ in harness.sender.sent]
    assert [
        "video.generation.queued",
        "video.generation.generating",
        "video.generation.completed",
    ] == types


async def test_no_callback_means_no_delivery(harness: Harness) -> None:
    """Without callback_url the caller polls the gateway; nothing is sent anywhere."""
    harness.upstream.poll_script.append(COMPLETED)
    job = await harness.accept(callback_url=None)
    await harness.run()
    await harness.run(advance_s=15)
    assert (JobStatus.COMPLETED, []) == ((await harness.job(job.id)).status, harness.sender.sent)


async def test_webhook_retries_keep_the_event_id_and_sign_afresh(harness: Harness) -> None:
    """500, 500, then 200: delivered on the third attempt, one event id, fresh timestamps."""
    harness.sender.script.extend([500, 500])
    harness.upstream.poll_script.append(COMPLETED)
    job = await harness.accept()
    await harness.run()
    await harness.run(advance_s=15)
    await harness.run(advance_s=5)
    await harness.run(advance_s=300)
    ids = {headers["webhook-id"] for _, _, headers in harness.sender.sent}
    stamps = [headers["webhook-timestamp"] for _, _, headers in harness.sender.sent]
    assert (3, 1, 3) == (len(harness.sender.sent), len(ids), len(set(stamps)))
    for _, body, headers in harness.sender.sent:
        verify_at_its_timestamp(harness.webhook_secret, body, headers)
    attempts = await harness.store.deliveries.attempts_for_job(job.id)
    assert [500, 500, 200] == [a.status_code for a in attempts]
    (delivery,) = await harness.store.deliveries.for_job(job.id)
    assert ("delivered", 3) == (delivery.state, delivery.attempts)


async def test_410_gone_stops_delivery(harness: Harness) -> None:
    """A receiver answering 410 wants no more: one attempt, state `gone`."""
    harness.sender.script.append(410)
    harness.upstream.poll_script.append(COMPLETED)
    job = await harness.accept()
    await harness.run()
    await harness.run(advance_s=15)
    await harness.run(advance_s=10_000)
    (delivery,) = await harness.store.deliveries.for_job(job.id)
    assert ("gone", 1) == (delivery.state, len(harness.sender.sent))


async def test_a_receiver_down_for_the_whole_schedule_ends_dead_then_replays(
    harness: Harness,
) -> None:
    """Every attempt refused → dead after the schedule; a replay delivers it with the same id."""
    harness.sender.script.extend([None, None, None])
    harness.upstream.poll_script.append(COMPLETED)
    job = await harness.accept()
    await harness.run()
    await harness.run(advance_s=15)
    for _ in range(5):
        await harness.run(advance_s=400)
    (delivery,) = await harness.store.deliveries.for_job(job.id)
    assert "dead" == delivery.state
    replayed = await harness.store.deliveries.replay_dead(
        client_id=harness.client.id, since=0, until=harness.clock() + 1, now=harness.clock()
    )
    assert 1 == replayed
    await harness.run()
    (delivery,) = await harness.store.deliveries.for_job(job.id)
    last_headers = harness.sender.sent[-1][2]
    assert ("delivered", delivery.id) == (delivery.state, last_headers["webhook-id"])


async def test_a_stalled_worker_cannot_write_after_its_lease_was_taken_over(
    harness: Harness,
) -> None:
    """Fencing: the late write of a worker whose lease expired and was re-claimed is refused."""
    job = await harness.accept()
    (stale,) = await harness.store.jobs.claim_jobs(
        now=harness.clock(), limit=1, token="stalled", lease_until=harness.clock() + 60
    )
    harness.clock.advance(61)
    await harness.worker.run_until_idle()  # another worker takes over and submits
    assert JobStatus.QUEUED == (await harness.job(job.id)).status
    landed = await harness.store.jobs.update_job(
        stale.id, "stalled", JobChange(status=JobStatus.FAILED), now=harness.clock()
    )
    assert (False, JobStatus.QUEUED) == (landed, (await harness.job(job.id)).status)
    assert 1 == (await harness.job(job.id)).takeovers


async def test_secret_rotation_signs_with_both_secrets_during_the_grace_then_only_the_new(
    harness: Harness,
) -> None:
    """After a rotation the webhook carries two signatures, the new secret's first; each verifies
    with its own secret. Once the grace period has passed only the new secret signs."""
    old_secret = harness.webhook_secret
    rotated = await rotate_secret(
        harness.store, harness.client.id, now=harness.clock(), grace_s=3600.0
    )
    assert rotated is not None
    assert rotated.webhook_secret != old_secret
    harness.upstream.poll_script.extend([COMPLETED, COMPLETED])
    await harness.accept()
    await harness.run()
    await harness.run(advance_s=15)
    ((_, body, headers),) = harness.sender.sent
    new_signature, old_signature = headers["webhook-signature"].split(" ")
    verify_at_its_timestamp(
        rotated.webhook_secret, body, {**headers, "webhook-signature": new_signature}
    )
    verify_at_its_timestamp(old_secret, body, {**headers, "webhook-signature": old_signature})

    harness.clock.advance(3600.0)
    await harness.accept()
    await harness.run()
    await harness.run(advance_s=15)
    (_, late_body, late_headers) = harness.sender.sent[-1]
    assert 1 == len(late_headers["webhook-signature"].split(" "))
    verify_at_its_timestamp(rotated.webhook_secret, late_body, late_headers)
    with pytest.raises(AssertionError):
        verify_at_its_timestamp(old_secret, late_body, late_headers)


async def test_lateness_from_due_to_claim_is_measured_per_kind(harness: Harness) -> None:
    """The submission was due at acceptance and claimed 3 s later; the poll due 15 s after the
    submission is claimed 2 s late: the histogram holds exactly those waits."""
    harness.upstream.poll_script.append(COMPLETED)
    await harness.accept()
    await harness.run(advance_s=3)
    await harness.run(advance_s=17)
    registry = harness.runtime.metrics.registry

    def waited(kind: str) -> tuple[float | None, float | None]:
        labels = {"kind": kind}
        return (
            registry.get_sample_value("gateway_work_lateness_seconds_count", labels),
            registry.get_sample_value("gateway_work_lateness_seconds_sum", labels),
        )

    assert ((1.0, 3.0), (1.0, 2.0)) == (waited("submit"), waited("poll"))


async def test_a_status_reported_backwards_keeps_the_job_moving(harness: Harness) -> None:
    """generating, then queued again: the job stays generating, its next poll is scheduled as
    usual (not left to a lease expiry), and it completes."""
    harness.upstream.poll_script.extend(
        [
            Generation(id="gen_scripted_000000001", status="generating"),
            Generation(id="gen_scripted_000000001", status="queued"),
            COMPLETED,
        ]
    )
    job = await harness.accept()
    await harness.run()
    await harness.run(advance_s=15)
    await harness.run(advance_s=15)
    backwards = await harness.job(job.id)
    assert (JobStatus.GENERATING, "queued", 2) == (
        backwards.status,
        backwards.upstream_status,
        backwards.poll_count,
    )
    assert backwards.lease_token is None
    await harness.run(advance_s=15)
    assert JobStatus.COMPLETED == (await harness.job(job.id)).status


async def test_words_outside_the_documented_enum_keep_the_job_running_then_succeeded_completes(
    harness: Harness,
) -> None:
    """`waiting` and `active` (some models' words) mean still running; `succeeded` completes.
    The job shows the upstream's raw word."""
    job = await harness.accept(duration="7")
    harness.upstream.poll_script.extend(
        [
            Generation(id="gen_scripted_000000001", status="waiting"),
            Generation(id="gen_scripted_000000001", status="active"),
            Generation(
                id="gen_scripted_000000001", status="succeeded", video_url="https://cdn.test/v.mp4"
            ),
        ]
    )
    await harness.run()
    await harness.run(advance_s=15)
    waiting = await harness.job(job.id)
    assert (JobStatus.GENERATING, "waiting") == (waiting.status, waiting.upstream_status)
    await harness.run(advance_s=15)
    assert "active" == (await harness.job(job.id)).upstream_status
    await harness.run(advance_s=15)
    done = await harness.job(job.id)
    assert (JobStatus.COMPLETED, "succeeded") == (done.status, done.upstream_status)


async def test_a_rotated_secret_signs_the_next_webhook_although_the_client_was_cached(
    harness: Harness,
) -> None:
    """The worker reads the signing client from memory (``ClientKeys.by_id``); a rotation on
    this replica drops the cached record at once, so the next webhook is signed with the new
    secret (no grace: only it)."""
    harness.upstream.poll_script.extend([COMPLETED, COMPLETED])
    await harness.accept()
    await harness.run()
    await harness.run(advance_s=15)  # signed with the first secret, which is now cached
    rotated = await rotate_secret(
        harness.store,
        harness.client.id,
        now=harness.clock(),
        grace_s=0.0,
        keys=harness.runtime.client_keys,
    )
    assert rotated is not None
    await harness.accept()
    await harness.run()
    await harness.run(advance_s=15)
    (_, body, headers) = harness.sender.sent[-1]
    verify_at_its_timestamp(rotated.webhook_secret, body, headers)
