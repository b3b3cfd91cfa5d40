"""The work this replica is doing now: one task per claimed item, each under its lease token.

A claimed job runs its next step (submit, poll, or keep: copy its video), a claimed delivery one
webhook attempt. Each
task runs in a context of its own, fresh rather than copied from whoever created it (the
ticker may run inside a request's context after a wake), with its job's and client's ids bound
for every log line it makes. Deliveries hold a slot (the fairness caps of
``gateway.worker.delivery_slots``) until the receiver has answered, and each answer teaches
the destination's circuit breaker.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any, TypeVar

import structlog

from gateway.domain.circuit import BreakerPolicy
from gateway.domain.delivery import AttemptResult
from gateway.domain.fair_share import HostLimits
from gateway.domain.jobs import JobStatus
from gateway.service.delivery import process_delivery
from gateway.service.keeping import process_keep
from gateway.service.polling import process_poll
from gateway.service.runtime import Runtime
from gateway.service.submission import process_submission
from gateway.settings import Settings
from gateway.store.records import DeliveryRecord, JobChange, JobRecord
from gateway.worker.circuits import Circuits
from gateway.worker.delivery_slots import DeliverySlots
from gateway.worker.throttles import Throttles

T = TypeVar("T")

# The longest a destination's circuit stays open before a probe.
_MAX_OPEN_S = 3600.0


def step_kind(status: JobStatus) -> str | None:
    """What a claimed job's next step is: ``submit``, ``poll``, ``keep`` (copy its video), or
    None (it has ended)."""
    if status in (JobStatus.ACCEPTED, JobStatus.SUBMITTING):
        return "submit"
    if status in (JobStatus.QUEUED, JobStatus.GENERATING):
        return "poll"
    if status == JobStatus.KEEPING:
        return "keep"
    return None


def breaker_policy(schedule: tuple[float, ...], settings: Settings) -> BreakerPolicy:
    """Circuits stay open on the delivery retry schedule (after its first attempt), at most an
    hour at a time, so a destination that recovers is tried again within the hour."""
    steps = tuple(min(step, _MAX_OPEN_S) for step in schedule[1:] if step > 0)
    return BreakerPolicy(
        failures_to_open=settings.delivery_breaker_failures,
        clients_to_open=settings.delivery_breaker_clients,
        open_for_s=steps or BreakerPolicy().open_for_s,
    )


class WorkItems:
    """The running tasks, their lease tokens, the delivery slots and the circuit breakers."""

    def __init__(
        self, rt: Runtime, *, on_room: Callable[[], None], on_finished: Callable[[], None]
    ) -> None:
        """``on_room`` is called when a delivery's receiver has answered (its slot is free
        while the attempt is written), ``on_finished`` when a task has ended (its item wrote
        its next due time)."""
        self.rt = rt
        self._on_room = on_room
        self._on_finished = on_finished
        self.tasks: dict[asyncio.Task[None], str] = {}  # task → the lease token it works under
        self._job_tasks: set[asyncio.Task[None]] = set()
        # Deliveries out here, by client, destination and URL (the fairness caps).
        self.slots = DeliverySlots(
            capacity=rt.settings.delivery_concurrency,
            client_share=rt.settings.delivery_client_share,
            per_destination=rt.settings.delivery_per_destination,
            host_limits=HostLimits.parse(rt.settings.delivery_host_limits),
            per_client_destination=rt.settings.delivery_client_host_limit,
        )
        self.circuits = Circuits(breaker_policy(rt.settings.delivery_schedule, rt.settings))
        self.throttles = Throttles()  # subscriptions' attempts per second, on this replica

    @property
    def jobs_running(self) -> int:
        return len(self._job_tasks)

    def tokens(self) -> list[str]:
        """The lease tokens of everything still running (to renew, or to give back)."""
        return sorted(set(self.tasks.values()))

    # --- starting work ------------------------------------------------------------------

    def start_job(self, job: JobRecord, token: str) -> None:
        task = self._spawn(self._run_job(job, token), token)
        # A copy holds one of the copier's slots instead of a job slot: polls keep their room.
        if job.status != JobStatus.KEEPING:
            self._job_tasks.add(task)

    def start_delivery(
        self,
        delivery: DeliveryRecord,
        token: str,
        target: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send it in a task of its own, holding a slot; ``headers``: its subscription's."""
        task = self._spawn(self._run_delivery(delivery, token, target, headers), token)
        self.slots.take(task, delivery.client_id, target)

    def deferred_until(
        self, delivery: DeliveryRecord, target: str, now: float, *, throttle: float | None = None
    ) -> float | None:
        """When a delivery to ``target`` claimed now should come back instead of being sent
        (its subscription's ``throttle`` has no room yet; its client's circuit there is open,
        or half-open with its probe out, or the destination is down for every client): None to
        send it now. The claim already kept to the destination's cap, so a probe only goes out
        with a slot."""
        if throttle and delivery.subscription_id is not None:
            until = self.throttles.deferred_until(delivery.subscription_id, throttle, now)
            if until is not None:
                self.rt.metrics.deliveries_deferred.labels(reason="throttled").inc()
                return until
        admission = self.circuits.admit(delivery.client_id, target, now)
        self.rt.metrics.circuits_open.set(self.circuits.open_count())
        if admission.verdict == "defer":
            self.rt.metrics.deliveries_deferred.labels(reason="circuit_open").inc()
            return admission.until
        return None

    def _spawn(self, work: Coroutine[Any, Any, None], token: str) -> asyncio.Task[None]:
        # A fresh context: nothing of the creator's (a request's id after a wake) leaks in.
        task = asyncio.get_running_loop().create_task(work, context=contextvars.Context())
        self.tasks[task] = token
        self.rt.metrics.worker_busy.set(len(self.tasks))
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.pop(task, None)
        self._job_tasks.discard(task)
        self.slots.give_back(task)
        self.rt.metrics.worker_busy.set(len(self.tasks))
        self._on_finished()

    # --- one item -----------------------------------------------------------------------

    async def _run_job(self, job: JobRecord, token: str) -> None:
        structlog.contextvars.bind_contextvars(job_id=job.id, client_id=job.client_id)
        kind = step_kind(job.status)
        step: Callable[[Runtime, JobRecord, str], Awaitable[None]]
        if kind == "submit":
            step = process_submission
        elif kind == "poll":
            step = process_poll
        elif kind == "keep":
            step = process_keep
        else:  # a terminal job with a stray due time: clear it
            await self.rt.store.jobs.update_job(
                job.id, token, JobChange(next_run_at=None), now=self.rt.clock()
            )
            return
        await self._guarded(step(self.rt, job, token))

    async def _run_delivery(
        self,
        delivery: DeliveryRecord,
        token: str,
        target: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        structlog.contextvars.bind_contextvars(
            job_id=delivery.job_id, client_id=delivery.client_id, event_id=delivery.id
        )
        task = asyncio.current_task()
        answered = False

        def on_answer(result: AttemptResult) -> None:
            # The destination is done with us: its circuit learns the answer, and the slot is
            # free for the next delivery while this one's attempt is written.
            nonlocal answered
            answered = True
            self.circuits.record(delivery.client_id, target, result, self.rt.clock())
            self.rt.metrics.circuits_open.set(self.circuits.open_count())
            if task is not None and self.slots.give_back(task):
                self._on_room()

        try:
            await self._guarded(
                process_delivery(
                    self.rt, delivery, token, on_answer=on_answer, extra_headers=headers
                )
            )
        finally:
            if not answered:
                self.circuits.abandon(delivery.client_id, target)
                self.rt.metrics.circuits_open.set(self.circuits.open_count())

    async def _guarded(self, work: Awaitable[T]) -> T | None:
        try:
            return await work
        except asyncio.CancelledError:
            raise
        except Exception:
            # The row keeps its lease until it expires, then any replica retries it.
            self.rt.log.exception("work_failed")
            return None
