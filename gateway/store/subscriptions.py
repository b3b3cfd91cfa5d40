"""Subscriptions (REST hooks): create, list, delete per client; deactivate on a 410."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.domain.custom_headers import masked_repr
from gateway.store.database import Database
from gateway.store.records import (
    SealedCredentials,
    SubscriptionRecord,
    could_be_id,
    subscription_from_row,
)
from gateway.store.schema import broker_credentials, clients, subscriptions

# Read at every status change that has an event: built once.
_ACTIVE_FOR_CLIENT = (
    sa.select(subscriptions)
    .where(subscriptions.c.client_id == sa.bindparam("client_id"), subscriptions.c.active)
    .order_by(subscriptions.c.created_at, subscriptions.c.id)
)


def _upkeep_values(subscription: SubscriptionRecord) -> dict[str, Any]:
    """The upkeep columns of a new subscription that are set (headers, filter, throttle)."""
    values = {
        "headers": subscription.headers,
        "filter": subscription.filter,
        "throttle": subscription.throttle,
    }
    return {name: value for name, value in values.items() if value is not None}


class SubscriptionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        subscription: SubscriptionRecord,
        *,
        limit: int,
        credentials: SealedCredentials | None = None,
    ) -> bool:
        """Insert ``subscription`` if its client has fewer than ``limit`` active ones; False
        (nothing written) when it has that many already.

        The count and the insert run under the client's row lock, so creates that race (on
        one replica or several) take turns: on PostgreSQL ``SELECT … FOR UPDATE`` of the
        client's row, after which the count (a statement of its own, with a snapshot taken
        once the lock is held, at READ COMMITTED) sees every subscription committed before
        (``FOR NO KEY UPDATE``: creates take turns, while intake's foreign-key checks on the
        same row, ``KEY SHARE``, do not wait); on SQLite the single writer already serialises
        whole write transactions. A broker target's ``credentials`` are stored apart, in the
        same transaction."""
        models = subscription.models
        async with self.db.write() as conn:
            if not self.db.is_sqlite:
                await conn.execute(
                    sa.select(clients.c.id)
                    .where(clients.c.id == subscription.client_id)
                    .with_for_update(key_share=True)
                )
            active = (
                await conn.execute(
                    sa.select(sa.func.count()).where(
                        subscriptions.c.client_id == subscription.client_id,
                        subscriptions.c.active,
                    )
                )
            ).scalar_one()
            if int(active) >= limit:
                return False
            await conn.execute(
                sa.insert(subscriptions).values(
                    id=subscription.id,
                    client_id=subscription.client_id,
                    target_url=subscription.target_url,
                    events=msgspec.json.encode(subscription.events).decode(),
                    models=None if models is None else msgspec.json.encode(models).decode(),
                    active=subscription.active,
                    created_at=subscription.created_at,
                    **_encoded(_upkeep_values(subscription)),
                )
            )
            if credentials is not None:
                await conn.execute(
                    sa.insert(broker_credentials).values(
                        subscription_id=subscription.id,
                        client_id=subscription.client_id,
                        sealed=credentials.sealed,
                        masked=credentials.masked,
                    )
                )
        return True

    async def list_for_client(self, client_id: str) -> list[SubscriptionRecord]:
        """Every subscription of the client (active or not), oldest first."""
        query = (
            sa.select(subscriptions)
            .where(subscriptions.c.client_id == client_id)
            .order_by(subscriptions.c.created_at, subscriptions.c.id)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [subscription_from_row(row) for row in rows]

    async def active_for_client(self, client_id: str) -> list[SubscriptionRecord]:
        async with self.db.read() as conn:
            rows = (await conn.execute(_ACTIVE_FOR_CLIENT, {"client_id": client_id})).all()
        return [subscription_from_row(row) for row in rows]

    async def delete(self, subscription_id: str, *, client_id: str) -> bool:
        """Remove a client's subscription; False when it has none by that id."""
        if not could_be_id(subscription_id):
            return False
        async with self.db.write() as conn:
            await conn.execute(
                sa.delete(broker_credentials).where(
                    broker_credentials.c.subscription_id == subscription_id,
                    broker_credentials.c.client_id == client_id,
                )
            )
            result = await conn.execute(
                sa.delete(subscriptions).where(
                    subscriptions.c.id == subscription_id,
                    subscriptions.c.client_id == client_id,
                )
            )
        return bool(result.rowcount)

    async def deactivate(self, subscription_id: str, *, now: float, reason: str) -> bool:
        """Stop sending to it (its target answered 410 Gone); False if already inactive."""
        async with self.db.write() as conn:
            result = await conn.execute(
                sa.update(subscriptions)
                .where(subscriptions.c.id == subscription_id, subscriptions.c.active)
                .values(active=False, deactivated_at=now, deactivated_reason=reason)
            )
        return bool(result.rowcount)


# --- upkeep (issue 28): read one, edit, disable/enable, the failure state -------------------

_JSON_COLUMNS = ("events", "models", "headers", "filter")


def _encoded(values: dict[str, Any]) -> dict[str, Any]:
    """Column values with the JSON columns as text."""
    out = dict(values)
    for name in _JSON_COLUMNS:
        if name in out and out[name] is not None:
            out[name] = msgspec.json.encode(out[name]).decode()
    return out


class DeliverySettings(msgspec.Struct, frozen=True):
    """What sending a subscription's delivery needs of it (read once per claim)."""

    headers: dict[str, str] | None
    throttle: float | None

    def __repr__(self) -> str:
        return masked_repr(self)


_SETTINGS = sa.select(subscriptions.c.id, subscriptions.c.headers, subscriptions.c.throttle).where(
    subscriptions.c.id.in_(sa.bindparam("ids", expanding=True))
)
# The failure state, written in the attempts' transaction and only when it changes. One
# statement for a batch (rows in id order, so that two batches lock shared rows in one order),
# each row given its batch's net move: ``reset`` (a success: the state starts again from
# ``at`` and ``dead``) or not (failures: ``failing_since`` starts at ``at`` unless it has,
# ``dead`` more dead deliveries).
_RESET = sa.bindparam("reset", type_=sa.Boolean)
_AT = sa.bindparam("at", type_=sa.Float(precision=53))
_DEAD = sa.bindparam("dead", type_=sa.Integer)
_MOVE_FAILURE_STATE = (
    sa.update(subscriptions)
    .where(
        subscriptions.c.id == sa.bindparam("match_id"),
        sa.or_(
            sa.and_(
                _RESET,
                sa.or_(
                    subscriptions.c.failing_since.is_distinct_from(_AT),
                    subscriptions.c.dead_count != _DEAD,
                ),
            ),
            sa.and_(
                sa.not_(_RESET),
                sa.or_(
                    _DEAD > 0, sa.and_(subscriptions.c.failing_since.is_(None), _AT.is_not(None))
                ),
            ),
        ),
    )
    .values(
        failing_since=sa.case(
            (_RESET, _AT), else_=sa.func.coalesce(subscriptions.c.failing_since, _AT)
        ),
        dead_count=sa.case((_RESET, 0), else_=subscriptions.c.dead_count) + _DEAD,
    )
)


class Outcome(msgspec.Struct, frozen=True):
    """How one attempt of a subscription's delivery ended, for its failure state."""

    subscription_id: str
    kind: str  # "delivered", "failed" (to be retried) or "dead"
    at: float


def net_moves(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """Each subscription's net move over ``outcomes`` (in the order they happened), in id
    order, without those that move nothing."""
    moves: dict[str, dict[str, Any]] = {}
    for outcome in outcomes:
        move = moves.setdefault(
            outcome.subscription_id,
            {"match_id": outcome.subscription_id, "reset": False, "at": None, "dead": 0},
        )
        if outcome.kind == "delivered":
            move.update(reset=True, at=None, dead=0)
            continue
        if move["at"] is None:
            move["at"] = outcome.at
        if outcome.kind == "dead":
            move["dead"] += 1
    return [move for _, move in sorted(moves.items())]


async def record_outcomes(conn: AsyncConnection, outcomes: Sequence[Outcome]) -> None:
    """Move the failure state of the subscriptions of ``outcomes`` in the caller's transaction
    (the attempts'): one statement, a no-op on a row already where it would move to."""
    moves = net_moves(outcomes)
    if moves:
        await conn.execute(_MOVE_FAILURE_STATE, moves)


class SubscriptionUpkeep:
    """The subscription API beyond create/list/delete: one subscription, edits, disabling and
    enabling, the settings its deliveries are sent with, auto-disabling."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, subscription_id: str, *, client_id: str) -> SubscriptionRecord | None:
        if not could_be_id(subscription_id):
            return None
        query = sa.select(subscriptions).where(
            subscriptions.c.id == subscription_id, subscriptions.c.client_id == client_id
        )
        async with self.db.read() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else subscription_from_row(row)

    async def update(
        self,
        subscription_id: str,
        *,
        client_id: str,
        values: dict[str, Any],
        new_target: bool = False,
        credentials: SealedCredentials | None = None,
    ) -> SubscriptionRecord | None:
        """Write ``values`` (column → value, JSON columns decoded) to the client's subscription;
        None when it has none by that id. ``new_target``: the target changed, so its stored
        broker credentials are replaced by ``credentials`` (none: removed), in the same
        transaction."""
        if not could_be_id(subscription_id):
            return None
        async with self.db.write() as conn:
            if new_target:
                await conn.execute(
                    sa.delete(broker_credentials).where(
                        broker_credentials.c.subscription_id == subscription_id,
                        broker_credentials.c.client_id == client_id,
                    )
                )
            row = (
                await conn.execute(
                    sa.update(subscriptions)
                    .where(
                        subscriptions.c.id == subscription_id,
                        subscriptions.c.client_id == client_id,
                    )
                    .values(**_encoded(values))
                    .returning(*subscriptions.c)
                )
            ).first()
            if row is not None and new_target and credentials is not None:
                await conn.execute(
                    sa.insert(broker_credentials).values(
                        subscription_id=subscription_id,
                        client_id=client_id,
                        sealed=credentials.sealed,
                        masked=credentials.masked,
                    )
                )
        return None if row is None else subscription_from_row(row)

    async def disable(
        self, subscription_id: str, *, client_id: str, now: float, reason: str
    ) -> SubscriptionRecord | None:
        """Stop sending to it (already disabled: left as it is); None when there is none."""
        if not could_be_id(subscription_id):
            return None
        async with self.db.write() as conn:
            await conn.execute(
                sa.update(subscriptions)
                .where(
                    subscriptions.c.id == subscription_id,
                    subscriptions.c.client_id == client_id,
                    subscriptions.c.active,
                )
                .values(active=False, deactivated_at=now, deactivated_reason=reason)
            )
            row = (
                await conn.execute(
                    sa.select(subscriptions).where(
                        subscriptions.c.id == subscription_id,
                        subscriptions.c.client_id == client_id,
                    )
                )
            ).first()
        return None if row is None else subscription_from_row(row)

    async def enable(
        self, subscription_id: str, *, client_id: str, limit: int
    ) -> SubscriptionRecord | bool | None:
        """Send to it again, its failure state forgotten: the record; None when there is none;
        False when the client has ``limit`` active subscriptions already (under the client's
        lock, as ``SubscriptionStore.create``)."""
        if not could_be_id(subscription_id):
            return None
        mine = sa.and_(
            subscriptions.c.id == subscription_id, subscriptions.c.client_id == client_id
        )
        async with self.db.write() as conn:
            if not self.db.is_sqlite:
                await conn.execute(
                    sa.select(clients.c.id)
                    .where(clients.c.id == client_id)
                    .with_for_update(key_share=True)
                )
            row = (await conn.execute(sa.select(subscriptions).where(mine))).first()
            if row is None:
                return None
            if row.active:
                return subscription_from_row(row)
            active = (
                await conn.execute(
                    sa.select(sa.func.count()).where(
                        subscriptions.c.client_id == client_id, subscriptions.c.active
                    )
                )
            ).scalar_one()
            if int(active) >= limit:
                return False
            row = (
                await conn.execute(
                    sa.update(subscriptions)
                    .where(mine)
                    .values(
                        active=True,
                        deactivated_at=None,
                        deactivated_reason=None,
                        failing_since=None,
                        dead_count=0,
                    )
                    .returning(*subscriptions.c)
                )
            ).one()
        return subscription_from_row(row)

    async def disable_if_failing(
        self, subscription_id: str, *, failing_before: float, min_dead: int, now: float
    ) -> SubscriptionRecord | None:
        """Disable it (reason ``failing``) if every delivery has failed since before
        ``failing_before`` and at least ``min_dead`` went dead: the record if it was disabled
        now, else None."""
        async with self.db.write() as conn:
            row = (
                await conn.execute(
                    sa.update(subscriptions)
                    .where(
                        subscriptions.c.id == subscription_id,
                        subscriptions.c.active,
                        subscriptions.c.failing_since <= failing_before,
                        subscriptions.c.dead_count >= min_dead,
                    )
                    .values(active=False, deactivated_at=now, deactivated_reason="failing")
                    .returning(*subscriptions.c)
                )
            ).first()
        return None if row is None else subscription_from_row(row)

    async def delivery_settings(self, ids: Sequence[str]) -> dict[str, DeliverySettings]:
        """The headers and throttle of each subscription of ``ids`` (one read per claim)."""
        if not ids:
            return {}
        async with self.db.read() as conn:
            rows = (await conn.execute(_SETTINGS, {"ids": sorted(set(ids))})).all()
        return {
            row.id: DeliverySettings(
                headers=None if row.headers is None else msgspec.json.decode(row.headers),
                throttle=row.throttle,
            )
            for row in rows
        }
