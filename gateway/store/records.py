"""Rows as typed values. JSON columns are decoded here, so nothing above the store sees text."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from gateway.domain.delivery import DeliveryState
from gateway.domain.jobs import JobStatus


class ClientRecord(msgspec.Struct, frozen=True):
    id: str
    name: str
    api_key_hash: str
    webhook_secret: str
    created_at: float
    previous_webhook_secret: str | None = None
    previous_secret_until: float | None = None
    revoked_at: float | None = None
    broker_allowlist: list[str] = msgspec.field(default_factory=list)  # canonical entries
    signing_mode: str = "hmac"  # "hmac", "ed25519" or "both"
    ed25519_key: str | None = None  # whsk_…
    previous_ed25519_key: str | None = None
    previous_ed25519_until: float | None = None

    def ed25519_secrets(self, now: float) -> list[str]:
        """ed25519 keys to sign with now: the current one first, then the previous one during
        its overlap (``whsk_`` forms)."""
        keys = [self.ed25519_key] if self.ed25519_key else []
        if (
            self.previous_ed25519_key
            and self.previous_ed25519_until is not None
            and now < self.previous_ed25519_until
        ):
            keys.append(self.previous_ed25519_key)
        return keys

    def signing_secrets(self, now: float) -> list[str]:
        """Secrets to sign with now: the current one first, then the previous during its grace."""
        secrets = [self.webhook_secret]
        if (
            self.previous_webhook_secret
            and self.previous_secret_until is not None
            and now < self.previous_secret_until
        ):
            secrets.append(self.previous_webhook_secret)
        return secrets


class NewJob(msgspec.Struct, frozen=True):
    id: str
    client_id: str
    request: dict[str, Any]
    model: str
    resolution: str | None
    duration: int | None
    callback_url: str | None
    metadata: dict[str, str]
    events: list[str]
    deadline_at: float
    body_checked: bool = True
    traceparent: str | None = None  # the caller's W3C trace context, when it sent one


class JobRecord(msgspec.Struct, frozen=True):
    id: str
    client_id: str
    status: JobStatus
    request: dict[str, Any]
    model: str
    resolution: str | None
    duration: int | None
    callback_url: str | None
    metadata: dict[str, str]
    events: list[str]
    generation_id: str | None
    upstream_status: str | None
    video_url: str | None
    usage: dict[str, Any] | None
    error: dict[str, Any] | None
    created_at: float
    updated_at: float
    submitted_at: float | None
    ready_at: float | None
    finished_at: float | None
    deadline_at: float
    next_run_at: float | None
    submit_attempts: int
    poll_count: int
    poll_errors: int
    poll_not_found: int
    lease_token: str | None
    lease_until: float | None
    takeovers: int
    body_checked: bool = True
    traceparent: str | None = None


def new_job_record(new: NewJob, *, now: float) -> JobRecord:
    """The job as intake stores it: the new job's fields, ``accepted`` and due now, nothing
    else done yet."""
    return JobRecord(
        **msgspec.structs.asdict(new),
        status=JobStatus.ACCEPTED,
        generation_id=None,
        upstream_status=None,
        video_url=None,
        usage=None,
        error=None,
        created_at=now,
        updated_at=now,
        submitted_at=None,
        ready_at=None,
        finished_at=None,
        next_run_at=now,
        submit_attempts=0,
        poll_count=0,
        poll_errors=0,
        poll_not_found=0,
        lease_token=None,
        lease_until=None,
        takeovers=0,
    )


class JobChange(msgspec.Struct, frozen=True, kw_only=True):
    """The columns a fenced write of a claimed job sets; a field left ``UNSET`` is not written.

    ``status`` is set only by ``gateway.service.transitions.move``, which checks the move against
    the state machine in ``gateway.domain.jobs`` first.
    """

    status: JobStatus | UnsetType = UNSET
    generation_id: str | UnsetType = UNSET
    upstream_status: str | UnsetType = UNSET
    video_url: str | UnsetType | None = UNSET
    usage: dict[str, Any] | UnsetType | None = UNSET
    error: dict[str, Any] | UnsetType | None = UNSET
    submitted_at: float | UnsetType = UNSET
    ready_at: float | UnsetType = UNSET
    finished_at: float | UnsetType = UNSET
    next_run_at: float | UnsetType | None = UNSET
    submit_attempts: int | UnsetType = UNSET
    poll_count: int | UnsetType = UNSET
    poll_errors: int | UnsetType = UNSET
    poll_not_found: int | UnsetType = UNSET

    def fields(self) -> dict[str, Any]:
        """The fields that are set, by name."""
        return set_fields(self)

    def merged(self, **later: Any) -> JobChange:
        """This change with ``later`` fields set as well (``later`` wins)."""
        return msgspec.structs.replace(self, **later)

    def applied_to(self, job: JobRecord) -> JobRecord:
        """The job as it reads once this change is written."""
        return msgspec.structs.replace(job, **self.fields())


class DeliveryChange(msgspec.Struct, frozen=True, kw_only=True):
    """What one attempt changes on its delivery (written with the attempt, fenced)."""

    state: DeliveryState
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_run_at: float | None
    delivered_at: float | UnsetType = UNSET  # set on delivery; a later failure keeps it

    def fields(self) -> dict[str, Any]:
        """The fields that are set, by name."""
        return set_fields(self)


def set_fields(change: msgspec.Struct) -> dict[str, Any]:
    """A change struct's fields that are not ``UNSET``, by name."""
    return {
        name: value for name, value in msgspec.structs.asdict(change).items() if value is not UNSET
    }


class NewDelivery(msgspec.Struct, frozen=True):
    id: str  # the event id, msg_…
    job_id: str
    client_id: str
    event_type: str
    url: str
    payload: bytes  # the exact body to sign and send
    subscription_id: str | None = None  # the destination is a subscription, not callback_url
    traceparent: str | None = None  # the job's, so each attempt is a span of its trace


class DeliveryRecord(msgspec.Struct, frozen=True):
    id: str
    job_id: str
    client_id: str
    event_type: str
    url: str
    payload: bytes
    state: DeliveryState
    attempts: int
    created_at: float
    updated_at: float
    delivered_at: float | None
    last_status_code: int | None
    last_error: str | None
    next_run_at: float | None
    lease_token: str | None
    lease_until: float | None
    takeovers: int
    subscription_id: str | None = None
    traceparent: str | None = None
    # ``attempts`` counts the event's whole life; the retry schedule counts from this many
    # (a redelivery or replay starts a new round).
    attempts_before_round: int = 0

    @property
    def attempt_in_round(self) -> int:
        """The number, within the current round of the schedule, of the next attempt."""
        return self.attempts - self.attempts_before_round + 1


class SubscriptionRecord(msgspec.Struct, frozen=True):
    id: str
    client_id: str
    target_url: str
    events: list[str]
    models: list[str] | None
    active: bool
    created_at: float
    deactivated_at: float | None = None
    deactivated_reason: str | None = None


class SealedCredentials(msgspec.Struct, frozen=True):
    """A broker target's credentials as stored: encrypted, and the masked form shown."""

    sealed: str
    masked: str


class AttemptRecord(msgspec.Struct, frozen=True):
    delivery_id: str
    attempt: int
    attempted_at: float
    status_code: int | None
    latency_ms: float
    error: str | None
    response_excerpt: str | None
    replica_id: str | None = None
    lease_lost: bool = False  # recorded after this replica had lost the delivery's lease


def _row_dict(row: Any) -> dict[str, Any]:
    # Column names can come back as ``quoted_name`` (a str subclass msgspec refuses as a key).
    return {str(key): value for key, value in row._mapping.items()}


_JSON_JOB_COLUMNS = ("request", "metadata", "events", "usage", "error")


def job_from_row(row: Any) -> JobRecord:
    return job_from_values(_row_dict(row))


def job_from_values(values: dict[str, Any]) -> JobRecord:
    """A job from its columns' values as stored (JSON as text; a boolean may be SQLite's 0/1
    when read by the driver itself)."""
    values["body_checked"] = bool(values["body_checked"])
    for name in _JSON_JOB_COLUMNS:
        raw = values[name]
        values[name] = None if raw is None else msgspec.json.decode(raw)
    values["status"] = JobStatus(values["status"])
    return msgspec.convert(values, JobRecord)


def job_to_values(values: dict[str, Any]) -> dict[str, Any]:
    """Encode the JSON columns of a job's values (a new row, or a change's fields)."""
    out = dict(values)
    for name in _JSON_JOB_COLUMNS:
        if name in out and out[name] is not None:
            out[name] = msgspec.json.encode(out[name]).decode()
    if "status" in out:
        out["status"] = str(out["status"])
    return out


def delivery_from_row(row: Any) -> DeliveryRecord:
    values = _row_dict(row)
    values["payload"] = values["payload"].encode()
    return msgspec.convert(values, DeliveryRecord)


def attempt_from_row(row: Any) -> AttemptRecord:
    values = _row_dict(row)
    values.pop("id", None)
    return msgspec.convert(values, AttemptRecord)


def subscription_from_row(row: Any) -> SubscriptionRecord:
    values = _row_dict(row)
    values["events"] = msgspec.json.decode(values["events"])
    values["models"] = None if values["models"] is None else msgspec.json.decode(values["models"])
    values["active"] = bool(values["active"])
    return msgspec.convert(values, SubscriptionRecord)


def client_from_row(row: Any) -> ClientRecord:
    values = _row_dict(row)
    if "broker_allowlist" in values:
        values["broker_allowlist"] = msgspec.json.decode(values["broker_allowlist"] or "[]")
    return msgspec.convert(values, ClientRecord)


def could_be_id(text: str) -> bool:
    """Ids come from callers' URLs: one holding NUL names no row (and PostgreSQL refuses NUL in
    a text parameter, so it must not reach a query)."""
    return "\x00" not in text
