"""The ticker: an APScheduler interval job that claims due work in batches and runs it.

Each tick claims as many due items (submissions, polls, webhook deliveries) as there are free
slots, under a lease, and starts one task per item; while more is due than there is room for, it
claims again each time a quarter of the job slots (or a delivery slot) has freed up, for at most
about one tick interval, then returns (``max_instances=1``, coalescing). On PostgreSQL the time
it claims and leases by is the database's (``gateway.service.runtime.lease_time``).
A second job renews the leases of work still running. ``stop()`` stops claiming, lets in-flight
work finish within the grace period, cancels what is left and gives its leases back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from gateway.clock import CorrectedClock
from gateway.domain.circuit import BreakerPolicy
from gateway.domain.delivery import AttemptResult
from gateway.domain.fair_share import destination
from gateway.domain.jobs import JobStatus
from gateway.ids import new_lease_token
from gateway.service.delivery import process_delivery
from gateway.service.polling import process_poll
from gateway.service.runtime import Runtime, lease_time
from gateway.service.submission import process_submission
from gateway.settings import Settings
from gateway.store.records import DeliveryRecord, JobChange, JobRecord
from gateway.worker.circuits import Circuits
from gateway.worker.delivery_slots import DeliverySlots
from gateway.worker.notifications import WorkListener

T = TypeVar("T")

_TICK_JOB = "tick"
# The ticker wakes early for work due before its next regular tick, but never sooner than this
# after a tick: 10,000 polls spread over 15 s would otherwise claim one row per query.
_MIN_TICK_GAP_S = 0.05


def _step_kind(status: JobStatus) -> str | None:
    """What a claimed job's next step is: ``submit``, ``poll``, or None (it has ended)."""
    if status in (JobStatus.ACCEPTED, JobStatus.SUBMITTING):
        return "submit"
    if status in (JobStatus.QUEUED, JobStatus.GENERATING):
        return "poll"
    return None


# The longest a destination's circuit stays open before a probe.
_MAX_OPEN_S = 3600.0


def breaker_policy(schedule: tuple[float, ...], settings: Settings) -> BreakerPolicy:
    """Circuits stay open on the delivery retry schedule (after its first attempt), at most an
    hour at a time, so a destination that recovers is tried again within the hour."""
    steps = tuple(min(step, _MAX_OPEN_S) for step in schedule[1:] if step > 0)
    return BreakerPolicy(
        failures_to_open=settings.delivery_breaker_failures,
        open_for_s=steps or BreakerPolicy().open_for_s,
    )


class Worker:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._tasks: dict[asyncio.Task[None], str] = {}  # task → the lease token it works under
        self._job_tasks: set[asyncio.Task[None]] = set()
        # Deliveries out here, by client, destination and URL (the fairness caps).
        self.slots = DeliverySlots(
            capacity=rt.settings.delivery_concurrency,
            client_share=rt.settings.delivery_client_share,
            per_destination=rt.settings.delivery_per_destination,
        )
        self.circuits = Circuits(breaker_policy(rt.settings.delivery_schedule, rt.settings))
        self._stopping = False
        # Whether the last claim of each kind may have left more due (jobs: it filled its room;
        # deliveries: it let some out and held others back), whether the free delivery slots
        # held deliveries back (crowded: jobs make room), and an event set whenever a task
        # finishes or a wake asks for a claim (a running tick waits on it).
        self._jobs_backlog = False
        self._deliveries_backlog = False
        self._deliveries_crowded = False
        self._claim_signal = asyncio.Event()
        self._scheduler: AsyncIOScheduler | None = None
        self._replan: asyncio.Task[None] | None = None
        # While a tick runs, a wake cannot bring the next tick forward (the scheduler skips a
        # job still running): it asks the running tick to claim again at this time (runtime
        # clock), no sooner than a gap after its last claim.
        self._tick_ended = asyncio.Event()  # set while no tick claims (stop waits for it)
        self._tick_ended.set()
        self._last_claim_at = 0.0
        self._claim_again_at: float | None = None
        self.listener: WorkListener | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start ticking in the running event loop."""
        settings = self.rt.settings
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self.tick,
            "interval",
            seconds=settings.tick_interval_s,
            id=_TICK_JOB,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
        )
        scheduler.add_job(
            self.renew_leases,
            "interval",
            seconds=max(1.0, settings.lease_s / 3),
            id="renew_leases",
            max_instances=1,
            coalesce=True,
        )
        scheduler.add_job(
            self.refresh_durations,
            "interval",
            seconds=30,
            id="refresh_durations",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        scheduler.start()
        self._scheduler = scheduler
        if not self.rt.store.db.is_sqlite:  # other replicas' intake wakes this one at once
            self.listener = WorkListener(self.rt.store.db.driver_url(), self.wake)
            self.listener.start()

    def wake(self) -> None:
        """Tick as soon as possible (new work was accepted here, or another replica said so)."""
        self._tick_no_later_than(self.rt.clock())

    @property
    def _ticking(self) -> bool:
        return not self._tick_ended.is_set()

    def _tick_no_later_than(self, at: float) -> None:
        """Bring the next tick forward to ``at`` (Unix time); never postpone it. While a tick
        runs, that tick claims again at ``at`` instead."""
        if self._ticking:
            at = max(at, self._last_claim_at + _MIN_TICK_GAP_S)
            if self._claim_again_at is None or at < self._claim_again_at:
                self._claim_again_at = at
                self._claim_signal.set()  # a tick waiting for room re-plans its wait
            return
        if isinstance(self.rt.clock, CorrectedClock):  # the scheduler keeps the local time
            at = self.rt.clock.to_local(at)
        planned = self.next_tick_at
        if self._stopping or self._scheduler is None or (planned is not None and planned <= at):
            return
        with contextlib.suppress(Exception):  # the scheduler may be shutting down
            self._scheduler.modify_job(_TICK_JOB, next_run_time=datetime.fromtimestamp(at, UTC))

    async def stop(self, grace_s: float | None = None) -> None:
        """Stop claiming; give running work ``grace_s`` to finish; release the rest's leases."""
        self._stopping = True
        self._claim_signal.set()  # a tick waiting for room to claim gives up at once
        if self.listener is not None:
            await self.listener.stop()
        if self._replan is not None:
            self._replan.cancel()
            await asyncio.gather(self._replan, return_exceptions=True)
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        grace = self.rt.settings.shutdown_grace_s if grace_s is None else grace_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        # A tick in the middle of a claim has leased rows it has not started yet: let it start
        # them (it claims no more once stopping), so their leases are waited for or released.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                await self._tick_ended.wait()
        pending = set(self._tasks)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=max(0.0, deadline - loop.time()))
        tokens = {self._tasks[task] for task in pending}
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        await self.rt.store.work.release_leases(sorted(tokens))
        self.rt.log.info("worker_stopped", unfinished=len(pending))

    @property
    def next_tick_at(self) -> float | None:
        """When the ticker runs next (Unix time); None when it is not running."""
        tick = self._scheduler.get_job(_TICK_JOB) if self._scheduler is not None else None
        return tick.next_run_time.timestamp() if tick and tick.next_run_time else None

    # --- ticking ------------------------------------------------------------------------

    async def tick(self) -> int:
        """Claim and start due work for about one tick interval; returns how many were started."""
        started = 0
        loop = asyncio.get_running_loop()
        # Stop claiming before the next tick is due, so ticks do not pile up behind this one.
        until = loop.time() + 0.8 * self.rt.settings.tick_interval_s
        self._tick_ended.clear()
        try:
            jobs, deliveries = True, True
            while not self._stopping:
                claimed, filled = await self._claim_round(jobs=jobs, deliveries=deliveries)
                started += claimed
                if not filled or loop.time() >= until:
                    break
                # More is due than there was room for: claim again once a claim is worth its
                # query (a quarter of the job slots free, or a delivery slot), not per finish,
                # and only the kinds that have that room; or, both kinds, when a wake asked.
                if not await self._wait_for_capacity(until):
                    break
                woken = self._wake_due()
                if woken:
                    self._claim_again_at = None
                jobs = woken or self._jobs_ready()
                deliveries = woken or self._deliveries_ready()
            self._end_claiming()
            await self._tick_again_when_work_is_due()
        except Exception:
            # A database hiccup must not kill the ticker: the next tick tries again.
            self.rt.log.exception("tick_failed")
        finally:
            self._end_claiming()
        return started

    def _end_claiming(self) -> None:
        """This tick claims no more: a wake brings the next tick forward again."""
        self._claim_again_at = None
        self._tick_ended.set()

    async def _tick_again_when_work_is_due(self) -> None:
        """Bring the next tick forward to when the earliest unclaimed item falls due, so a poll
        due between two ticks waits milliseconds, not up to a whole tick interval."""
        if self._stopping or self._scheduler is None:
            return
        now = self.rt.clock()
        interval = self.rt.settings.tick_interval_s
        due = await self.rt.store.work.earliest_due(now=now, until=now + interval)
        if due is not None:
            self._tick_no_later_than(max(due, now + _MIN_TICK_GAP_S))

    async def run_until_idle(self, *, max_rounds: int = 1000) -> int:
        """Tests and tools: claim and finish everything due now (by the runtime's clock)."""
        total = 0
        for _ in range(max_rounds):
            started = await self._claim(self.rt.settings.claim_batch)
            if self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)
            total += started
            if started == 0:
                return total
        raise RuntimeError("work kept becoming due; is the clock standing still at a retry?")

    def _capacity_to_claim(self) -> bool:
        """Whether a kind that had more due than room now has room worth a claim: a quarter of
        the job slots (claiming per finished task cost a query per poll), any delivery slot;
        or a wake asked for a claim by now."""
        return self._wake_due() or self._jobs_ready() or self._deliveries_ready()

    def _wake_due(self) -> bool:
        """Whether a wake during this tick asked for a claim by now."""
        return self._claim_again_at is not None and self._claim_again_at <= self.rt.clock()

    def _jobs_ready(self) -> bool:
        # A claim is worth its query once a quarter of the room jobs may use is free.
        worth = self._job_claim_min() // 4 if self._deliveries_crowded else self._job_claim_min()
        return self._jobs_backlog and self._job_room() >= max(1, worth)

    def _job_room(self) -> int:
        """Free job slots; while more deliveries are due than their slots hold, jobs use a quarter
        of their slots."""
        if self._deliveries_crowded:
            return min(self._job_slots(), self._job_claim_min() - len(self._job_tasks))
        return self._job_slots()

    def _deliveries_ready(self) -> bool:
        # Held back by a share or a cap, a claim is worth repeating only once one of the
        # deliveries in flight has freed its slot (a busy loop of claims otherwise).
        freed = self.slots.freed_since_claim
        return self._deliveries_backlog and self.slots.free() > 0 and freed

    async def _wait_for_capacity(self, until: float) -> bool:
        """Wait (until loop time ``until``) for room worth a claim; False if none came."""
        loop = asyncio.get_running_loop()
        while not self._capacity_to_claim():
            remaining = until - loop.time()
            if remaining <= 0 or self._stopping:
                return False
            if self._claim_again_at is not None:  # a wake's time comes first
                remaining = min(remaining, self._claim_again_at - self.rt.clock())
            self._claim_signal.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):  # no extra task: wakes with the event
                    await self._claim_signal.wait()
        return True

    def _job_claim_min(self) -> int:
        return max(1, self.rt.settings.max_concurrency // 4)

    def _job_slots(self) -> int:
        return self.rt.settings.max_concurrency - len(self._job_tasks)

    async def _claim(self, limit: int) -> int:
        """One claiming round with at most ``limit`` of each kind; how many were started."""
        claimed, _ = await self._claim_round(limit)
        return claimed

    async def _claim_round(
        self, limit: int | None = None, *, jobs: bool = True, deliveries: bool = True
    ) -> tuple[int, bool]:
        """Claim deliveries into their slots (first: a webhook late is what a user waits for),
        each client at most its share, and submissions and polls into theirs (one kind never
        waits for the other); ``jobs``/``deliveries`` False skips that kind's query. Returns
        how many were started and whether a kind filled its batch (more may be due)."""
        rt = self.rt
        batch = rt.settings.claim_batch if limit is None else limit
        # The database's time on PostgreSQL (skewed replicas agree on leases and due times).
        now = await lease_time(rt)
        lease_until = now + rt.settings.lease_s
        token = new_lease_token()
        self._last_claim_at = rt.clock()
        started = 0
        if deliveries:
            started += await self._claim_deliveries(batch, now, token, lease_until)
        if jobs:
            started += await self._claim_jobs(batch, now, token, lease_until)
        return started, self._jobs_backlog or self._deliveries_backlog

    async def _claim_jobs(self, batch: int, now: float, token: str, lease_until: float) -> int:
        # As many as there are free slots (up to claim_batch): all of this tick's due work that
        # fits, in one query. While more deliveries are due than their slots hold, jobs keep
        # only a quarter of their slots: a poll a second late costs a GET, a webhook a second
        # late is what a user waits for (and both share one event loop and, on SQLite, one
        # writer). Claimed after the deliveries, so this round's delivery claim decides.
        job_limit = min(self._job_room(), batch)
        if job_limit <= 0:
            self._jobs_backlog = True  # full: assume more is due
            return 0
        claimed = await self.rt.store.jobs.claim_jobs(
            now=now, limit=job_limit, token=token, lease_until=lease_until
        )
        lateness = self.rt.metrics.work_lateness
        for job in claimed:
            kind = _step_kind(job.status)
            if job.next_run_at is not None and kind is not None:
                lateness.labels(kind=kind).observe(max(0.0, now - job.next_run_at))
            self._job_tasks.add(self._spawn(self._run_job(job, token), token))
        self._jobs_backlog = len(claimed) == job_limit
        return len(claimed)

    async def _claim_deliveries(
        self, batch: int, now: float, token: str, lease_until: float
    ) -> int:
        rt = self.rt
        delivery_limit = min(self.slots.free(), batch)
        if delivery_limit <= 0:
            self._deliveries_backlog = self._deliveries_crowded = True  # full: more may be due
            return 0
        self.slots.claiming()
        claim = await rt.store.deliveries.claim(
            now=now,
            limit=delivery_limit,
            token=token,
            lease_until=lease_until,
            rooms=self.slots.rooms(),
        )
        claimed = claim.deliveries
        started = 0
        deferrals: list[tuple[str, float]] = []
        for delivery in claimed:
            target = destination(delivery.url)
            deferred_until = self._deferred_until(target, now)
            if deferred_until is not None:
                # Open circuit: give it back without an attempt or a slot.
                deferrals.append((delivery.id, deferred_until))
                continue
            if delivery.next_run_at is not None:
                self.rt.metrics.work_lateness.labels(kind="delivery").observe(
                    max(0.0, now - delivery.next_run_at)
                )
            task = self._spawn(self._run_delivery(delivery, token, target), token)
            self.slots.take(task, delivery.client_id, target)
            started += 1
        await rt.store.deliveries.defer(deferrals, token, now=now)
        # More is due than the rooms let out (the free slots, a client's share, a destination's
        # cap): claim again once a slot frees. A claim that left nothing due behind, or let
        # nothing out (every due one waits on a share or a cap), ends it: the tick ends and the
        # next comes when work is due, so polls falling due meanwhile are not left waiting.
        self._deliveries_backlog = claim.held_back and bool(claimed)
        # More is due than the free slots held: polls make room meanwhile. (Held back only by
        # a share or a cap, more slots would not send more: polls keep theirs.)
        self._deliveries_crowded = claim.filled
        return started

    def _deferred_until(self, target: str, now: float) -> float | None:
        """When a delivery to ``target`` claimed now should come back instead of being sent
        (its circuit is open, or half-open with its probe out): None to send it now. The claim
        already kept to the destination's cap, so a probe only goes out with a slot."""
        admission = self.circuits.admit(target, now)
        self.rt.metrics.circuits_open.set(self.circuits.open_count())
        if admission.verdict == "defer":
            self.rt.metrics.deliveries_deferred.labels(reason="circuit_open").inc()
            return admission.until
        return None

    def _spawn(self, work: Awaitable[None], token: str) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._tasks[task] = token
        self.rt.metrics.worker_busy.set(len(self._tasks))
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)
        self._job_tasks.discard(task)
        self._free_delivery_slot(task)
        self.rt.metrics.worker_busy.set(len(self._tasks))
        self._claim_signal.set()
        # The finished work wrote its item's next due time (a poll in 15 s, a retry in 5 s):
        # look again, at most once per gap however many tasks finish.
        idle = self._replan is None or self._replan.done()
        if self._scheduler is not None and not self._stopping and idle:
            self._replan = asyncio.ensure_future(self._replan_soon())

    def _free_delivery_slot(self, task: asyncio.Task[None]) -> None:
        """Give back ``task``'s delivery slot (once: when the answer is in, or when the task
        ends without one) and wake a ticker waiting for room."""
        if self.slots.give_back(task):
            self._claim_signal.set()

    async def _replan_soon(self) -> None:
        await asyncio.sleep(_MIN_TICK_GAP_S)  # gathers the completions of one burst
        try:
            await self._tick_again_when_work_is_due()
        except Exception as exc:  # the regular tick still comes; say why, briefly
            self.rt.log.warning("replan_failed", error=type(exc).__name__)

    async def _run_job(self, job: JobRecord, token: str) -> None:
        # Every log line of this work item names its job and client (each task has its own
        # copy of the context, so the binding ends with the task).
        structlog.contextvars.bind_contextvars(job_id=job.id, client_id=job.client_id)
        kind = _step_kind(job.status)
        step: Callable[[Runtime, JobRecord, str], Awaitable[None]]
        if kind == "submit":
            step = process_submission
        elif kind == "poll":
            step = process_poll
        else:  # a terminal job with a stray due time: clear it
            await self.rt.store.jobs.update_job(
                job.id, token, JobChange(next_run_at=None), now=self.rt.clock()
            )
            return
        await self._guarded(step(self.rt, job, token))

    async def _run_delivery(self, delivery: DeliveryRecord, token: str, target: str) -> None:
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
            self.circuits.record(target, result, self.rt.clock())
            self.rt.metrics.circuits_open.set(self.circuits.open_count())
            if task is not None:
                self._free_delivery_slot(task)

        try:
            await self._guarded(process_delivery(self.rt, delivery, token, on_answer=on_answer))
        finally:
            if not answered:
                self.circuits.abandon(target)
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

    # --- housekeeping -------------------------------------------------------------------

    async def renew_leases(self) -> None:
        tokens = sorted(set(self._tasks.values()))
        if tokens:
            until = await lease_time(self.rt) + self.rt.settings.lease_s
            await self.rt.store.work.renew_leases(tokens, until)

    async def refresh_durations(self) -> None:
        self.rt.durations.replace(await self.rt.store.counters.durations())
