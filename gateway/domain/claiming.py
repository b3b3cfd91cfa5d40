"""The claim plan: how much due work one claim takes, and when another claim is worth its query.

The worker has two pools of slots: submissions and polls share ``job_slots``
(``GATEWAY_MAX_CONCURRENCY``), webhook deliveries have their own (``GATEWAY_DELIVERY_*``; which
deliveries fill them, fairly per client and destination, is ``gateway.domain.fair_share``).
A tick claims as much as there is room for; while more is due than that, it claims again as
room frees up — but only once a claim is worth its query:

- jobs: once a quarter of the job slots is free (claiming per finished poll cost a query per
  poll);
- deliveries: once a delivery slot was given back since the last claim (a busy loop of claims
  otherwise, while every due delivery waits on a share or a cap);
- both, when a wake (new work accepted, another replica's notice) asked for a claim by now.

While more deliveries are due than their slots hold ("crowded"), jobs keep only a quarter of
their slots: a poll a second late costs a GET, a webhook a second late is what a user waits for
(and both share one event loop and, on SQLite, one writer).

Pure: the worker counts what runs and calls these with the figures.
"""

from __future__ import annotations

from dataclasses import dataclass

# A wake during a tick claims no sooner than this after that tick's last claim: 10,000 polls
# spread over 15 s would otherwise claim one row per query.
MIN_CLAIM_GAP_S = 0.05


@dataclass(frozen=True, slots=True)
class Capacity:
    """The worker's room at one moment."""

    job_slots: int  # submissions and polls at once (GATEWAY_MAX_CONCURRENCY)
    jobs_running: int
    delivery_free: int  # free delivery slots
    delivery_freed: bool  # a delivery slot was given back since the last claim


@dataclass(frozen=True, slots=True)
class Backlog:
    """What the last claims said about what is still due."""

    jobs: bool = False  # the job claim filled its room: more may be due
    deliveries: bool = False  # the delivery claim let some out and held others back
    crowded: bool = False  # the free delivery slots held deliveries back: jobs make room

    @property
    def any(self) -> bool:
        return self.jobs or self.deliveries


@dataclass(frozen=True, slots=True)
class Limits:
    """How many of each kind one claim may take (0: skip that kind's query)."""

    jobs: int
    deliveries: int


def quarter(job_slots: int) -> int:
    """A quarter of the job slots (at least one): what jobs keep while deliveries crowd, and
    how much room makes a job claim worth its query."""
    return max(1, job_slots // 4)


def job_room(capacity: Capacity, backlog: Backlog) -> int:
    """Free job slots; while deliveries are crowded, what is free of a quarter of the slots."""
    free = capacity.job_slots - capacity.jobs_running
    if backlog.crowded:
        free = min(free, quarter(capacity.job_slots) - capacity.jobs_running)
    return max(0, free)


def limits(
    capacity: Capacity, backlog: Backlog, *, batch: int, jobs: bool = True, deliveries: bool = True
) -> Limits:
    """What a claim takes of each kind: the room there is, at most ``batch``; deliveries are
    claimed first (so this round's delivery claim decides whether jobs must make room)."""
    return Limits(
        jobs=min(job_room(capacity, backlog), batch) if jobs else 0,
        deliveries=max(0, min(capacity.delivery_free, batch)) if deliveries else 0,
    )


def after_delivery_claim(
    backlog: Backlog, *, limit: int, let_out: int, held_back: bool, filled: bool
) -> Backlog:
    """The backlog once a delivery claim returned. With no room at all, assume more is due.
    A claim that left nothing due behind, or let nothing out (every due one waits on a share or
    a cap), ends the deliveries' backlog: the next claim comes when work is due, so polls
    falling due meanwhile are not left waiting."""
    if limit <= 0:
        return Backlog(jobs=backlog.jobs, deliveries=True, crowded=True)
    return Backlog(jobs=backlog.jobs, deliveries=held_back and let_out > 0, crowded=filled)


def after_job_claim(backlog: Backlog, *, limit: int, claimed: int) -> Backlog:
    """The backlog once a job claim returned: full (or no room at all) means more may be due."""
    return Backlog(
        jobs=limit <= 0 or claimed == limit, deliveries=backlog.deliveries, crowded=backlog.crowded
    )


def jobs_worth_claiming(capacity: Capacity, backlog: Backlog) -> bool:
    """Jobs had more due than room, and now a quarter of the room they may use is free."""
    least = quarter(capacity.job_slots)
    worth = least // 4 if backlog.crowded else least
    return backlog.jobs and job_room(capacity, backlog) >= max(1, worth)


def deliveries_worth_claiming(capacity: Capacity, backlog: Backlog) -> bool:
    """Deliveries had more due than room, and a slot has been given back since."""
    return backlog.deliveries and capacity.delivery_free > 0 and capacity.delivery_freed


def claim_again_at(asked_at: float, *, last_claim_at: float, planned: float | None) -> float:
    """When a running tick claims again after a wake that asked for ``asked_at``: no sooner
    than the gap after its last claim, and never later than a time already planned."""
    at = max(asked_at, last_claim_at + MIN_CLAIM_GAP_S)
    return at if planned is None else min(at, planned)


NO_BACKLOG = Backlog()
