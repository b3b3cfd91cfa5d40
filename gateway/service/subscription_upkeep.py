"""One subscription at a time: read it, edit it, disable and enable it, send it a test event.

Another client's subscription is a 404 exactly like an unknown one. A disabled subscription
gets no new deliveries (the fan-out reads active subscriptions only); enabling it forgets its
failure state. The test send is a real delivery of the sample event (the newest real event of
the kind the subscription wants, else the documented example), due now, through the usual
path: signed, with the subscription's headers, retried, recorded.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Annotated, Any

import msgspec

from gateway.domain import wording
from gateway.domain.custom_headers import masked_repr
from gateway.domain.events import event_body, new_event_id
from gateway.domain.generation import CallbackUrl
from gateway.domain.subscriptions import MAX_MODELS, UnknownEvent, normalize_events
from gateway.domain.wording import Wrong
from gateway.errors import InvalidRequest, NotFound, TooManySubscriptions
from gateway.service.runtime import Runtime
from gateway.service.subscription_settings import FilterSpec, Headers, Throttle, checked_settings
from gateway.service.subscriptions import (
    MAX_SUBSCRIPTIONS_PER_CLIENT,
    ModelName,
    SubscriptionView,
    check_target,
    sample_events,
    subscription_view,
)
from gateway.store.records import ClientRecord, NewDelivery, SubscriptionRecord

LEAD = "The subscription's change is invalid"


class SubscriptionEdit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``PATCH /v1/subscriptions/{id}``: the fields to change; the rest stay. ``headers: {}``,
    ``filter: {}``, ``models: []`` and ``throttle: 0`` remove that setting (a blank or null
    field means not given, as in every body)."""

    target_url: CallbackUrl | None = None
    events: list[str] | None = None
    models: Annotated[list[ModelName], msgspec.Meta(max_length=MAX_MODELS)] | None = None
    headers: Headers | None = None  # replaces every header (values are write-only)
    filter: FilterSpec | None = None
    throttle: Throttle | None = None

    def __repr__(self) -> str:
        return masked_repr(self)


class TestSent(msgspec.Struct, frozen=True):
    """``POST /v1/subscriptions/{id}/test``: the event sent (its delivery is due now)."""

    event_id: str
    event_type: str
    subscription_id: str
    target_url: str


class SubscriptionUpkeep:
    """The subscription API beyond create, list and delete."""

    def __init__(self, rt: Runtime, *, wake: Callable[[], None] = lambda: None) -> None:
        self._rt = rt
        self._wake = wake

    async def _view(self, sub: SubscriptionRecord) -> SubscriptionView:
        """The view of ``sub``, a broker target's credentials shown masked."""
        masked = await self._rt.store.broker_credentials.masked([sub.id])
        return subscription_view(sub, masked.get(sub.id))

    async def _owned(self, subscription_id: str, client_id: str) -> SubscriptionRecord:
        found = await self._rt.store.subscription_upkeep.get(subscription_id, client_id=client_id)
        if found is None:
            raise NotFound(f"No subscription {subscription_id!r}")
        return found

    async def get(self, subscription_id: str, *, client_id: str) -> SubscriptionView:
        return await self._view(await self._owned(subscription_id, client_id))

    async def edit(
        self, subscription_id: str, client: ClientRecord, edit: SubscriptionEdit
    ) -> SubscriptionView:
        """Apply ``edit`` (checked as on create: the target through the same checks)."""
        await self._owned(subscription_id, client.id)
        values: dict[str, Any] = {}
        if edit.events is not None:
            try:
                values["events"] = normalize_events(edit.events)
            except UnknownEvent as exc:
                raise InvalidRequest(
                    wording.summary(LEAD, [Wrong("events", str(exc))]),
                    details=[{"field": "events", "message": str(exc)}],
                ) from None
        if edit.models is not None:
            values["models"] = sorted(set(edit.models)) or None
        values |= checked_settings(
            headers=edit.headers, payload_filter=edit.filter, throttle=edit.throttle, lead=LEAD
        )
        credentials = None
        if edit.target_url is not None:
            target_url, credentials = await check_target(self._rt, client, edit.target_url)
            values["target_url"] = target_url
        if not values:
            return await self.get(subscription_id, client_id=client.id)
        updated = await self._rt.store.subscription_upkeep.update(
            subscription_id,
            client_id=client.id,
            values=values,
            new_target="target_url" in values,
            credentials=credentials,
        )
        if updated is None:  # deleted meanwhile
            raise NotFound(f"No subscription {subscription_id!r}")
        self._rt.log.info(
            "subscription_changed",
            subscription_id=subscription_id,
            client_id=client.id,
            fields=sorted(values),
        )
        return await self._view(updated)

    async def disable(self, subscription_id: str, *, client_id: str) -> SubscriptionView:
        """Stop new deliveries to it (already disabled: unchanged)."""
        disabled = await self._rt.store.subscription_upkeep.disable(
            subscription_id, client_id=client_id, now=self._rt.clock(), reason="disabled"
        )
        if disabled is None:
            raise NotFound(f"No subscription {subscription_id!r}")
        self._rt.log.info(
            "subscription_deactivated",
            subscription_id=subscription_id,
            client_id=client_id,
            reason="disabled",
        )
        return await self._view(disabled)

    async def enable(self, subscription_id: str, *, client_id: str) -> SubscriptionView:
        """Send to it again (however it was disabled), its failure state forgotten."""
        enabled = await self._rt.store.subscription_upkeep.enable(
            subscription_id, client_id=client_id, limit=MAX_SUBSCRIPTIONS_PER_CLIENT
        )
        if enabled is None:
            raise NotFound(f"No subscription {subscription_id!r}")
        if isinstance(enabled, bool):  # the client has the most active ones already
            raise TooManySubscriptions(
                f"At most {MAX_SUBSCRIPTIONS_PER_CLIENT} active subscriptions per client; "
                "delete or disable some first."
            )
        self._rt.log.info(
            "subscription_enabled", subscription_id=subscription_id, client_id=client_id
        )
        return await self._view(enabled)

    async def send_test(self, subscription_id: str, client: ClientRecord) -> TestSent:
        """Deliver the subscription's sample event now (enabled or not), as a delivery without
        a job through the usual path."""
        sub = await self._owned(subscription_id, client.id)
        sample = (await sample_events(self._rt, client, events=sub.events, models=sub.models))[0]
        event_type = str(sample["type"])
        delivery = NewDelivery(
            id=new_event_id(secrets.token_bytes(16)),
            job_id=None,
            client_id=client.id,
            event_type=event_type,
            url=sub.target_url,
            payload=event_body(event_type, str(sample["timestamp"]), sample["data"]),
            subscription_id=sub.id,
        )
        await self._rt.store.deliveries.insert_operational([delivery], now=self._rt.clock())
        self._wake()
        self._rt.log.info(
            "subscription_test_sent",
            subscription_id=sub.id,
            client_id=client.id,
            event_id=delivery.id,
        )
        return TestSent(
            event_id=delivery.id,
            event_type=event_type,
            subscription_id=sub.id,
            target_url=sub.target_url,
        )
