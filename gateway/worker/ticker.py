"""The ticker: an APScheduler interval job that claims due work in batches and starts it.

Each tick claims as much due work (webhook deliveries, submissions, polls) as there is room
for, under a lease, and starts one task per item (``gateway.worker.work_items``); while more is
due than there is room for, it claims again as room frees up, for at most about one tick
interval, then returns (``max_instances=1``, coalescing). How much to claim and when another
claim is worth its query is the pure claim plan (``gateway.domain.claiming``). On PostgreSQL
the time it claims and leases by is the database's (``gateway.service.runtime.lease_time``).
A second job renews the leases of work still running; another removes finished jobs' records
past their retention (``gateway.worker.sweeper``). ``stop()`` stops claiming, lets in-flight
work finish within the grace period, cancels what is left and gives its leases back.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from gateway.clock import CorrectedClock
from gateway.domain import claiming
from gateway.domain.claiming import Capacity
from gateway.domain.fair_share import destination
from gateway.domain.jobs import JobStatus
from gateway.domain.retention import SWEEP_INTERVAL_S
from gateway.ids import new_lease_token
from gateway.service.kept_videos import sweep_kept_outputs
from gateway.service.runtime import Runtime, lease_time
from gateway.worker.notifications import WorkListener
from gateway.worker.sweeper import Sweeper
from gateway.worker.work_items import WorkItems, step_kind

_TICK_JOB = "tick"
OUTPUT_SWEEP_INTERVAL_S = 60.0


# Claims in a row when a claim gave deliveries back and left others due (``_claim_deliveries``).
_CLAIMS_AFTER_DEFERRALS = 3


class Worker:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.work = WorkItems(rt, on_room=self._room_freed, on_finished=self._item_finished)
        self.sweeper = Sweeper(rt)
        self._stopping = False
        # What the last claims said is still due (the claim plan's input).
        self._backlog = claiming.NO_BACKLOG
        # Set whenever room frees up or a wake asks for a claim (a running tick waits on it).
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
        scheduler.add_job(
            self.sweeper.run,
            "interval",
            seconds=SWEEP_INTERVAL_S,
            id="retention_sweep",  # first one interval after start
            max_instances=1,
            coalesce=True,
        )
        if self.rt.outputs is not None:
            scheduler.add_job(
                self.sweep_outputs,
                "interval",
                seconds=OUTPUT_SWEEP_INTERVAL_S,
                id="sweep_outputs",
                max_instances=1,
                coalesce=True,
                next_run_time=datetime.now(UTC),
            )
        scheduler.start()
        self._scheduler = scheduler
        if not self.rt.store.db.is_sqlite:  # other replicas' intake wakes this one at once
            self.listener = WorkListener(
                self.rt.store.db.driver_url(), self.wake, bounds=self.rt.store.db.bounds
            )
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
            again = claiming.claim_again_at(
                at, last_claim_at=self._last_claim_at, planned=self._claim_again_at
            )
            if again != self._claim_again_at:
                self._claim_again_at = again
                self._claim_signal.set()  # a tick waiting for room re-plans its wait
            return
        if isinstance(self.rt.clock, CorrectedClock):  # the scheduler keeps the local time
            at = self.rt.clock.to_local(at)
        planned = self.next_tick_at
        if self._stopping or self._scheduler is None or (planned is not None and planned <= at):
            return
        with contextlib.suppress(Exception):  # the scheduler may be shutting down
            # In a fresh context: the scheduler's timer keeps the context it was set in, and a
            # wake comes from inside a request (its request id must not follow the tick).
            contextvars.Context().run(
                self._scheduler.modify_job,
                _TICK_JOB,
                next_run_time=datetime.fromtimestamp(at, UTC),
            )

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
        self.sweeper.stop()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(deadline):
                await self._tick_ended.wait()
                await self.sweeper.idle()  # its batch commits before the store closes
        pending = set(self.work.tasks)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=max(0.0, deadline - loop.time()))
        tokens = {self.work.tasks[task] for task in pending}
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
                started += await self._claim_round(jobs=jobs, deliveries=deliveries)
                if not self._backlog.any or loop.time() >= until:
                    break
                # More is due than there was room for: claim again once a claim is worth its
                # query, only the kinds that have that room; or both, when a wake asked.
                if not await self._wait_for_capacity(until):
                    break
                woken = self._wake_due()
                if woken:
                    self._claim_again_at = None
                capacity = self._capacity()
                jobs = woken or claiming.jobs_worth_claiming(capacity, self._backlog)
                deliveries = woken or claiming.deliveries_worth_claiming(capacity, self._backlog)
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
            self._tick_no_later_than(max(due, now + claiming.MIN_CLAIM_GAP_S))

    async def run_until_idle(self, *, max_rounds: int = 1000) -> int:
        """Tests and tools: claim and finish everything due now (by the runtime's clock)."""
        total = 0
        for _ in range(max_rounds):
            started = await self._claim_round(self.rt.settings.claim_batch)
            if self.work.tasks:
                await asyncio.gather(*list(self.work.tasks), return_exceptions=True)
            total += started
            if started == 0:
                return total
        raise RuntimeError("work kept becoming due; is the clock standing still at a retry?")

    def _copies_full(self) -> tuple[str, ...]:
        """``("keeping",)`` while every copy slot is taken: copies due wait in the database
        (where another replica may take them), not behind this replica's cap with a lease."""
        outputs = self.rt.outputs
        if outputs is not None and outputs.copier.slots.free() <= 0:
            return (JobStatus.KEEPING.value,)
        return ()

    def _capacity(self) -> Capacity:
        return Capacity(
            job_slots=self.rt.settings.max_concurrency,
            jobs_running=self.work.jobs_running,
            delivery_free=self.work.slots.free(),
            delivery_freed=self.work.slots.freed_since_claim,
        )

    def _wake_due(self) -> bool:
        """Whether a wake during this tick asked for a claim by now."""
        return self._claim_again_at is not None and self._claim_again_at <= self.rt.clock()

    def _worth_claiming(self) -> bool:
        capacity = self._capacity()
        return (
            self._wake_due()
            or claiming.jobs_worth_claiming(capacity, self._backlog)
            or claiming.deliveries_worth_claiming(capacity, self._backlog)
        )

    async def _wait_for_capacity(self, until: float) -> bool:
        """Wait (until loop time ``until``) for room worth a claim; False if none came."""
        loop = asyncio.get_running_loop()
        while not self._worth_claiming():
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

    async def _claim_round(
        self, batch: int | None = None, *, jobs: bool = True, deliveries: bool = True
    ) -> int:
        """Claim deliveries into their slots (first: a webhook late is what a user waits for),
        each client at most its share, then submissions and polls into theirs (one kind never
        waits for the other); ``jobs``/``deliveries`` False skips that kind's query. Returns
        how many were started; the backlog says whether more may be due."""
        rt = self.rt
        batch = rt.settings.claim_batch if batch is None else batch
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
        return started

    async def _claim_jobs(self, batch: int, now: float, token: str, lease_until: float) -> int:
        # Claimed after the deliveries, so this round's delivery claim decides the room.
        limit = claiming.limits(self._capacity(), self._backlog, batch=batch, deliveries=False)
        claimed = []
        if limit.jobs > 0:
            claimed = await self.rt.store.jobs.claim_jobs(
                now=now,
                limit=limit.jobs,
                token=token,
                lease_until=lease_until,
                skip_statuses=self._copies_full(),
            )
        lateness = self.rt.metrics.work_lateness
        for job in claimed:
            kind = step_kind(job.status)
            if job.next_run_at is not None and kind is not None:
                lateness.labels(kind=kind).observe(max(0.0, now - job.next_run_at))
            self.work.start_job(job, token)
        self._backlog = claiming.after_job_claim(
            self._backlog, limit=limit.jobs, claimed=len(claimed)
        )
        return len(claimed)

    async def _claim_deliveries(
        self, batch: int, now: float, token: str, lease_until: float
    ) -> int:
        """Claim deliveries into their slots; when a claim gave some back (a throttle, an open
        circuit) and left others due for lack of room, claim again at once (a few times): the
        rows given back are no longer due, so the room they took goes to the next ones rather
        than waiting a tick."""
        started = 0
        for _ in range(_CLAIMS_AFTER_DEFERRALS):
            claimed, deferred, held_back = await self._claim_deliveries_once(
                batch, now, token, lease_until
            )
            started += claimed
            if not (deferred and held_back):
                break
        return started

    async def _claim_deliveries_once(
        self, batch: int, now: float, token: str, lease_until: float
    ) -> tuple[int, int, bool]:
        """One claim: (started, given back, whether due deliveries were left for lack of
        room)."""
        rt = self.rt
        slots = self.work.slots
        limit = claiming.limits(self._capacity(), self._backlog, batch=batch, jobs=False)
        if limit.deliveries <= 0:
            self._backlog = claiming.after_delivery_claim(
                self._backlog, limit=0, let_out=0, held_back=True, filled=True
            )
            return 0, 0, True
        slots.claiming()
        claim = await rt.store.deliveries.claim(
            now=now,
            limit=limit.deliveries,
            token=token,
            lease_until=lease_until,
            rooms=slots.rooms(),
        )
        started = 0
        deferrals: list[tuple[str, float]] = []
        # The subscriptions' headers and throttles: one read, only when a claimed one has one.
        subs = await rt.store.subscription_upkeep.delivery_settings(
            [d.subscription_id for d in claim.deliveries if d.subscription_id is not None]
        )
        for delivery in claim.deliveries:
            target = destination(delivery.url)
            sub = subs.get(delivery.subscription_id or "")
            throttle = sub.throttle if sub is not None else None
            deferred_until = self.work.deferred_until(delivery, target, now, throttle=throttle)
            if deferred_until is not None:
                # Throttled or open circuit: give it back without an attempt or a slot.
                deferrals.append((delivery.id, deferred_until))
                continue
            if delivery.next_run_at is not None:
                rt.metrics.work_lateness.labels(kind="delivery").observe(
                    max(0.0, now - delivery.next_run_at)
                )
            self.work.start_delivery(delivery, token, target, sub.headers if sub else None)
            started += 1
        await rt.store.deliveries.defer(deferrals, token, now=now)
        self._backlog = claiming.after_delivery_claim(
            self._backlog,
            limit=limit.deliveries,
            let_out=len(claim.deliveries),
            held_back=claim.held_back,
            filled=claim.filled,
        )
        return started, len(deferrals), claim.held_back

    # --- room freeing up ----------------------------------------------------------------

    def _room_freed(self) -> None:
        self._claim_signal.set()

    def _item_finished(self) -> None:
        self._claim_signal.set()
        # The finished work wrote its item's next due time (a poll in 15 s, a retry in 5 s):
        # look again, at most once per gap however many tasks finish.
        idle = self._replan is None or self._replan.done()
        if self._scheduler is not None and not self._stopping and idle:
            self._replan = asyncio.ensure_future(self._replan_soon())

    async def _replan_soon(self) -> None:
        await asyncio.sleep(claiming.MIN_CLAIM_GAP_S)  # gathers the completions of one burst
        try:
            await self._tick_again_when_work_is_due()
        except Exception as exc:  # the regular tick still comes; say why, briefly
            self.rt.log.warning("replan_failed", error=type(exc).__name__)

    # --- housekeeping -------------------------------------------------------------------

    async def renew_leases(self) -> None:
        tokens = self.work.tokens()
        if tokens:
            until = await lease_time(self.rt) + self.rt.settings.lease_s
            await self.rt.store.work.renew_leases(tokens, until)

    async def sweep_outputs(self) -> None:
        """Remove kept videos whose retention ended, and staging files a crash left behind."""
        try:
            await sweep_kept_outputs(self.rt)
        except Exception as exc:  # the next sweep tries again; say why, briefly
            self.rt.log.warning("output_sweep_failed", error=type(exc).__name__)

    async def refresh_durations(self) -> None:
        self.rt.durations.replace(await self.rt.store.counters.durations())
