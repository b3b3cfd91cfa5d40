"""Deciding an intake batch, with no I/O: both drivers (PostgreSQL's async statements,
``gateway.store.intake``; SQLite's writer thread, ``gateway.store.intake_sqlite``) run the same
steps around these.

1. ``Screened``: the batch's idempotency keys already stored decide their requests (a retry of
   a job already accepted gets that job back, even at the rate limit or the in-flight cap, and
   spends no rate budget; another body with the key is refused); the rest count as hits in
   their client's rate window.
2. ``Admitted``: with each window's count before the batch and each client's jobs in flight,
   every remaining request is decided in arrival order, so a batch never exceeds a limit; a
   second request with a key claimed earlier in the batch replays that job (same body) or is
   refused (another body).
3. The rows to write (jobs, keys), built from the values inserted, and each request's outcome.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import msgspec

from gateway.store.counters import Window
from gateway.store.records import JobRecord, NewJob, job_to_values, new_job_record


class Created(msgspec.Struct, frozen=True):
    job: JobRecord


class Replayed(msgspec.Struct, frozen=True):
    """The idempotency key was seen before with the same body: here is the original job."""

    job: JobRecord


class KeyReused(msgspec.Struct, frozen=True):
    """The idempotency key was seen before with a different body."""

    job_id: str


class OverRateLimit(msgspec.Struct, frozen=True):
    """The client's requests in this window exceeded its rate limit."""

    window_start: float


class TooManyInFlight(msgspec.Struct, frozen=True):
    in_flight: int


InsertOutcome = Created | Replayed | KeyReused | OverRateLimit | TooManyInFlight


class Admission(msgspec.Struct, frozen=True):
    """The per-client limits checked in the intake transaction itself (shared by replicas)."""

    window_start: float
    rate_limit: int
    max_in_flight: int


class IdempotencyClaim(msgspec.Struct, frozen=True):
    key: str
    request_hash: str
    ttl_s: float


class IntakeRequest(msgspec.Struct, frozen=True):
    """One job to admit and store, with what its request claimed."""

    new: NewJob
    now: float
    idempotency: IdempotencyClaim | None = None
    admission: Admission | None = None


# A new job's row: these columns; the others start at their defaults (NULL, 0), as
# ``new_job_record`` has them.
INSERTED_COLUMNS = (
    "id",
    "client_id",
    "status",
    "request",
    "model",
    "resolution",
    "duration",
    "body_checked",
    "callback_url",
    "metadata",
    "events",
    "created_at",
    "updated_at",
    "deadline_at",
    "next_run_at",
    "traceparent",
    "keep_output",
)
Key = tuple[str, str]  # (client id, idempotency key)


class _ReplayOf(msgspec.Struct, frozen=True):
    """Placeholder: replay the job created by the batch's request number ``index``."""

    index: int


class _ReplayStored(msgspec.Struct, frozen=True):
    """Placeholder: replay the stored job ``job_id`` (read once the batch is decided)."""

    job_id: str


_Pending = InsertOutcome | _ReplayOf | _ReplayStored | None


class StoredKey(msgspec.Struct, frozen=True):
    """An idempotency key already stored: the job it created, from which body, when."""

    job_id: str
    request_hash: str
    created_at: float


class Screened:
    """A batch after its stored keys were looked up: the requests they decide (a replay, or a
    key reused with another body) and, for the rest, the hits to add to each rate window."""

    __slots__ = ("hits", "outcomes", "stored", "undecided")

    def __init__(self, requests: Sequence[IntakeRequest], stored: dict[Key, StoredKey]) -> None:
        self.stored = stored
        self.outcomes: list[_Pending] = [None] * len(requests)
        self.undecided: list[int] = []
        for index, request in enumerate(requests):
            claim = request.idempotency
            seen = None if claim is None else stored.get((request.new.client_id, claim.key))
            if seen is None or claim is None or seen.created_at < request.now - claim.ttl_s:
                self.undecided.append(index)
            elif seen.request_hash != claim.request_hash:
                self.outcomes[index] = KeyReused(job_id=seen.job_id)
            else:
                self.outcomes[index] = _ReplayStored(job_id=seen.job_id)
        # Every request still undecided counts in its window (at most: one repeating a key
        # claimed earlier in the batch replays that job and does not count; the window's correction
        # corrects).
        admitted = (requests[i] for i in self.undecided)
        self.hits: dict[Window, int] = Counter(
            (r.new.client_id, r.admission.window_start) for r in admitted if r.admission
        )


class Admitted:
    """The batch decided against each window's count before it and each client's jobs in
    flight, in arrival order: the requests to store, the expired keys they take over, and each
    window's count after them. The requests it refuses or replays get their outcome in
    ``screened.outcomes``."""

    __slots__ = ("accepted", "expired", "windows")

    def __init__(
        self,
        requests: Sequence[IntakeRequest],
        screened: Screened,
        windows_before: dict[Window, int],
        in_flight: dict[str, int],
    ) -> None:
        outcomes = screened.outcomes
        self.windows = dict(windows_before)
        self.accepted: list[int] = []
        self.expired: list[Key] = []
        claimed: dict[Key, tuple[str, int]] = {}  # keys claimed in this batch: hash, creator
        for index in screened.undecided:
            request = requests[index]
            new, claim = request.new, request.idempotency
            key = None if claim is None else (new.client_id, claim.key)
            if key is not None and claim is not None and key in claimed:
                request_hash, creator = claimed[key]
                outcomes[index] = (
                    _ReplayOf(index=creator)
                    if request_hash == claim.request_hash
                    else KeyReused(job_id=requests[creator].new.id)
                )
                continue
            if request.admission is not None:
                window = (new.client_id, request.admission.window_start)
                self.windows[window] += 1
                if self.windows[window] > request.admission.rate_limit:
                    outcomes[index] = OverRateLimit(window_start=request.admission.window_start)
                    continue
                if in_flight[new.client_id] >= request.admission.max_in_flight:
                    outcomes[index] = TooManyInFlight(in_flight=in_flight[new.client_id])
                    continue
                in_flight[new.client_id] += 1
            if key is not None and claim is not None:
                claimed[key] = (claim.request_hash, index)
                if key in screened.stored:  # expired: the key starts afresh
                    self.expired.append(key)
            self.accepted.append(index)


def created_jobs(requests: Sequence[IntakeRequest], admitted: Admitted) -> list[JobRecord]:
    """The accepted jobs' records, built from the values inserted (every other column starts at
    its default), not read back."""
    return [new_job_record(requests[i].new, now=requests[i].now) for i in admitted.accepted]


def job_rows(created: Sequence[JobRecord]) -> list[dict[str, Any]]:
    """The parameters of ``INSERT_JOBS`` for the created jobs."""
    return [
        job_to_values({name: getattr(job, name) for name in INSERTED_COLUMNS}) for job in created
    ]


def key_rows(requests: Sequence[IntakeRequest], admitted: Admitted) -> list[dict[str, Any]]:
    """The accepted requests' idempotency keys, in key order: concurrent batches claiming the
    same keys wait on each other's rows in one order, so one fails (and is retried), none
    dead-locks."""
    keys = [
        {
            "client_id": r.new.client_id,
            "key": r.idempotency.key,
            "request_hash": r.idempotency.request_hash,
            "job_id": r.new.id,
            "created_at": r.now,
        }
        for r in (requests[i] for i in admitted.accepted)
        if r.idempotency is not None
    ]
    keys.sort(key=lambda row: (str(row["client_id"]), str(row["key"])))
    return keys


def replays_wanted(screened: Screened) -> list[str]:
    """The stored jobs the batch replays (read once it is decided), in id order."""
    return sorted({o.job_id for o in screened.outcomes if isinstance(o, _ReplayStored)})


def outcomes_of(
    screened: Screened,
    admitted: Admitted,
    created: Sequence[JobRecord],
    replays: dict[str, JobRecord],
) -> list[InsertOutcome]:
    """Each request's outcome, in order, once the batch is stored."""
    outcomes = screened.outcomes
    for index, job in zip(admitted.accepted, created, strict=True):
        outcomes[index] = Created(job=job)
    return [_settle(outcomes, outcome, replays) for outcome in outcomes]


def _settle(
    outcomes: Sequence[_Pending], outcome: _Pending, replays: dict[str, JobRecord]
) -> InsertOutcome:
    if isinstance(outcome, _ReplayOf):
        creator = outcomes[outcome.index]
        assert isinstance(creator, Created)
        return Replayed(job=creator.job)
    if isinstance(outcome, _ReplayStored):
        return Replayed(job=replays[outcome.job_id])
    assert outcome is not None
    return outcome


def wanted_keys(requests: Sequence[IntakeRequest]) -> set[Key]:
    return {(r.new.client_id, r.idempotency.key) for r in requests if r.idempotency}


def keys_among(wanted: set[Key]) -> dict[str, list[str]]:
    """The parameters of the stored-keys lookup: every client and every key wanted (the rows
    it returns are then kept only for the pairs wanted)."""
    return {"client_ids": sorted({c for c, _ in wanted}), "keys": sorted({k for _, k in wanted})}


def expired_key_rows(admitted: Admitted) -> list[dict[str, str]]:
    return [{"match_client_id": c, "match_key": k} for c, k in sorted(admitted.expired)]
