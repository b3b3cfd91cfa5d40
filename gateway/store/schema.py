"""The database schema (SQLAlchemy Core). Alembic migrations are written from this.

Times are Unix seconds as double precision floats: one representation on SQLite and
PostgreSQL, compared in SQL without time-zone surprises.

Work that is due is a row with ``next_run_at`` set (``jobs`` for submissions and polls,
``deliveries`` for webhooks). A replica claims it by writing a fresh ``lease_token`` and
``lease_until``; every later write is fenced with ``WHERE lease_token = :token``, so a
replica that lost its lease (it stalled, another took over) can no longer change the row.
"""

from __future__ import annotations

import sqlalchemy as sa

from gateway.domain.upstream import GENERATION_ID_MAX, UPSTREAM_STATUS_MAX

metadata = sa.MetaData()

Time = sa.Float(precision=53)
# The id of a table that grows without bound: 64 bits (``bigint`` on PostgreSQL; on SQLite an
# ``INTEGER PRIMARY KEY`` is the 64-bit rowid, and only that spelling makes it the rowid).
GrowingId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TRACEPARENT_MAX = 55  # a W3C traceparent, version 00, as normalized at intake

clients = sa.Table(
    "clients",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("api_key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("webhook_secret", sa.String(200), nullable=False),
    sa.Column("previous_webhook_secret", sa.String(200), nullable=True),
    sa.Column("previous_secret_until", Time, nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("revoked_at", Time, nullable=True),
    # Issue 28: where the client's subscriptions may publish (JSON list of allow-list entries,
    # ``gateway.domain.broker_allowlist``), and how its webhooks are signed.
    sa.Column("broker_allowlist", sa.Text, nullable=False, server_default="[]"),
    sa.Column("signing_mode", sa.String(10), nullable=False, server_default="hmac"),
    sa.Column("ed25519_key", sa.Text, nullable=True),  # whsk_…, made when first needed
    sa.Column("previous_ed25519_key", sa.Text, nullable=True),  # signs too until …
    sa.Column("previous_ed25519_until", Time, nullable=True),
)

jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("client_id", sa.String(40), sa.ForeignKey("clients.id"), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    # The upstream request body exactly as it will be sent (JSON text).
    sa.Column("request", sa.Text, nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("resolution", sa.String(20), nullable=True),
    sa.Column("duration", sa.Integer, nullable=True),
    # False: the model was not in the catalogue (GATEWAY_ALLOW_UNLISTED_MODELS); only the checks
    # common to every model were applied to the request.
    sa.Column("body_checked", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("callback_url", sa.Text, nullable=True),
    sa.Column("metadata", sa.Text, nullable=False, server_default="{}"),
    sa.Column("events", sa.Text, nullable=False, server_default='["completed","failed"]'),
    sa.Column("generation_id", sa.String(GENERATION_ID_MAX), nullable=True),
    sa.Column("upstream_status", sa.String(UPSTREAM_STATUS_MAX), nullable=True),
    sa.Column("video_url", sa.Text, nullable=True),
    sa.Column("usage", sa.Text, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("submitted_at", Time, nullable=True),
    sa.Column("ready_at", Time, nullable=True),  # when the upstream was first seen completed
    sa.Column("finished_at", Time, nullable=True),
    sa.Column("deadline_at", Time, nullable=False),
    # Work scheduling.
    sa.Column("next_run_at", Time, nullable=True),
    sa.Column("submit_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("poll_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("poll_errors", sa.Integer, nullable=False, server_default="0"),
    # 404s in a row (other poll errors neither count nor reset it; an answer does).
    sa.Column("poll_not_found", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_token", sa.String(40), nullable=True),
    sa.Column("lease_until", Time, nullable=True),
    sa.Column("takeovers", sa.Integer, nullable=False, server_default="0"),
    sa.Column("traceparent", sa.String(TRACEPARENT_MAX), nullable=True),  # the caller's trace
)
sa.Index("ix_jobs_due", jobs.c.next_run_at)
sa.Index("ix_jobs_client_created", jobs.c.client_id, jobs.c.created_at, jobs.c.id)
sa.Index("ix_jobs_client_status", jobs.c.client_id, jobs.c.status)
# The retention sweep (``gateway.store.retention``) walks finished jobs oldest end first.
sa.Index("ix_jobs_finished", jobs.c.finished_at)

deliveries = sa.Table(
    "deliveries",
    metadata,
    # The Standard Webhooks event id (``msg_…``): identical on every attempt.
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), nullable=False),
    sa.Column("client_id", sa.String(40), nullable=False),
    sa.Column("event_type", sa.String(60), nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    # The exact body bytes that are signed and sent (JSON text).
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),  # pending | delivered | dead | gone
    # Every attempt ever made to send this event (a redelivery's are its next ones) ...
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # ... of which those made before the current round of the retry schedule: a redelivery or
    # a replay starts a new round (the schedule from its first step) without renumbering.
    sa.Column("attempts_before_round", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("delivered_at", Time, nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("next_run_at", Time, nullable=True),
    sa.Column("lease_token", sa.String(40), nullable=True),
    sa.Column("lease_until", Time, nullable=True),
    sa.Column("takeovers", sa.Integer, nullable=False, server_default="0"),
    sa.Column("traceparent", sa.String(TRACEPARENT_MAX), nullable=True),  # the job's
    # Set when the destination is a subscription (REST hook), not the job's callback_url.
    sa.Column("subscription_id", sa.String(40), nullable=True),
)
sa.Index("ix_deliveries_due", deliveries.c.next_run_at)
sa.Index("ix_deliveries_job", deliveries.c.job_id, deliveries.c.created_at)
sa.Index("ix_deliveries_client_state", deliveries.c.client_id, deliveries.c.state)

delivery_attempts = sa.Table(
    "delivery_attempts",
    metadata,
    sa.Column("id", GrowingId, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.String(40), sa.ForeignKey("deliveries.id"), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("attempted_at", Time, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("response_excerpt", sa.Text, nullable=True),
    sa.Column("replica_id", sa.String(200), nullable=True),
    # The attempt was made but the replica had lost the delivery's lease by the time it was
    # recorded (it stalled; another replica may have attempted it too).
    sa.Column("lease_lost", sa.Boolean, nullable=False, server_default=sa.false()),
)
sa.Index("ix_delivery_attempts_delivery", delivery_attempts.c.delivery_id, delivery_attempts.c.id)

# A job's history: one row per change (``gateway.domain.history``), written in the same
# transaction as the change. ``id`` gives the global order (the event stream's event id).
job_events = sa.Table(
    "job_events",
    metadata,
    sa.Column("id", GrowingId, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.String(40), sa.ForeignKey("jobs.id"), nullable=False),
    sa.Column("client_id", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("at", Time, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # the job's status after the change
    sa.Column("upstream_status", sa.String(UPSTREAM_STATUS_MAX), nullable=True),
    sa.Column("polls", sa.Integer, nullable=False),
    sa.Column("data", sa.Text, nullable=False, server_default="{}"),  # JSON details
)
sa.Index("ix_job_events_job", job_events.c.job_id, job_events.c.id)
sa.Index("ix_job_events_client", job_events.c.client_id, job_events.c.id)

# Readiness proves the store can commit: each replica upserts its row here (rate-limited).
replica_heartbeats = sa.Table(
    "replica_heartbeats",
    metadata,
    sa.Column("replica_id", sa.String(200), primary_key=True),
    sa.Column("beat_at", Time, nullable=False),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("client_id", sa.String(40), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("job_id", sa.String(40), nullable=False),
    sa.Column("created_at", Time, nullable=False),
)

rate_windows = sa.Table(
    "rate_windows",
    metadata,
    sa.Column("client_id", sa.String(40), primary_key=True),
    sa.Column("window_start", Time, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)

# What the adaptive poll policy has learned: generation time per (model, resolution, duration).
duration_stats = sa.Table(
    "duration_stats",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("mean_s", sa.Float, nullable=False),
    sa.Column("m2", sa.Float, nullable=False),  # Welford's sum of squared deviations
    sa.Column("updated_at", Time, nullable=False),
)

# REST hooks (Zapier's instant triggers): a client's standing order for its jobs' events.
subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("client_id", sa.String(40), sa.ForeignKey("clients.id"), nullable=False),
    sa.Column("target_url", sa.Text, nullable=False),
    sa.Column("events", sa.Text, nullable=False),  # JSON list of event names
    sa.Column("models", sa.Text, nullable=True),  # JSON list of models; NULL: every model
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("deactivated_at", Time, nullable=True),
    sa.Column("deactivated_reason", sa.String(40), nullable=True),  # "gone" (a 410)
)
sa.Index("ix_subscriptions_client", subscriptions.c.client_id, subscriptions.c.active)

# A broker target's credentials (issue 28), stored apart from its URL: encrypted (Fernet, the
# key from GATEWAY_BROKER_CREDENTIALS_KEY), with the masked form the API shows.
broker_credentials = sa.Table(
    "broker_credentials",
    metadata,
    sa.Column(
        "subscription_id", sa.String(40), sa.ForeignKey("subscriptions.id"), primary_key=True
    ),
    sa.Column("client_id", sa.String(40), nullable=False),
    sa.Column("sealed", sa.Text, nullable=False),
    sa.Column("masked", sa.String(300), nullable=False),
)

# Console sessions (``gateway.service.console_sessions``): a signed-in browser's session, looked
# up on every console request so that signing out ends it on every replica. The id is the
# SHA-256 of the token the cookie carries (the database never holds a usable token).
console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),  # "client" or "admin"
    sa.Column("key_hash", sa.String(64), nullable=False),  # the key signed in with, hashed
    sa.Column("created_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
)
sa.Index("ix_console_sessions_expires", console_sessions.c.expires_at)

# One-time sign-in links (``gateway dev`` prints one): usable once, on any replica, until they
# expire. The id is the SHA-256 of the link's token.
console_sign_in_links = sa.Table(
    "console_sign_in_links",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(10), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("expires_at", Time, nullable=False),
)
sa.Index("ix_console_sign_in_links_expires", console_sign_in_links.c.expires_at)
