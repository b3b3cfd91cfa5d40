"""Builds the gateway's runtime from its settings: the one place the app and the tests both use.

``open_runtime(settings, …)`` wires the store, the upstream client, the webhook sender, the
address guard, the policies, metrics and tracer into a ``Runtime``, and closes what it opened when
the context ends. Every part can be passed in instead (tests pass fakes, in-process transports, a
fake clock or a seeded random source); what is passed in is the caller's to close.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator, Callable

import httpx
from opentelemetry.trace import TracerProvider

from gateway import __version__
from gateway.catalogue import load_catalogue
from gateway.clock import Clock, system_clock
from gateway.delivery.guard import AddressGuard
from gateway.delivery.sender import WebhookSender
from gateway.domain.addresses import Allowlist
from gateway.domain.model_rules import Rulebook
from gateway.domain.polling import make_poll_policy
from gateway.domain.retry import DeliveryPolicy
from gateway.observability.metrics import Metrics
from gateway.observability.tracing import otlp_tracer_provider, tracer_from
from gateway.service.ports import CallbackGuard, Sender, Upstream
from gateway.service.runtime import Runtime, shared_clock
from gateway.settings import Settings
from gateway.store import Store
from gateway.upstream.client import UpstreamClient


def address_guard(settings: Settings) -> AddressGuard:
    """The SSRF guard for destination URLs, with the operator's allowlist."""
    return AddressGuard(Allowlist.parse(",".join(settings.callback_allowlist)))


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    store: Store | None = None,
    upstream: Upstream | None = None,
    upstream_transport: httpx.AsyncBaseTransport | None = None,
    sender: Sender | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    guard: CallbackGuard | None = None,
    clock: Clock = system_clock,
    rng: Callable[[], float] | None = None,
    metrics: Metrics | None = None,
    tracer_provider: TracerProvider | None = None,
    rulebook: Rulebook | None = None,
) -> AsyncIterator[Runtime]:
    """The runtime for ``settings``; parts not passed in are built here and closed on exit.

    ``upstream_transport`` and ``webhook_transport`` keep the real upstream client and webhook
    sender but route their requests elsewhere (tests: an in-process app). ``guard`` checks the
    destination URLs callers hand in; the webhook sender always connects through an
    ``AddressGuard`` (the given one, or one built from the settings)."""
    async with contextlib.AsyncExitStack() as stack:
        if store is None:
            store = await Store.open(
                settings.database_url, sqlite_synchronous=settings.sqlite_synchronous
            )
            stack.push_async_callback(store.close)
        if clock is system_clock:
            # PostgreSQL: leases and due times follow the database's clock. A clock passed in
            # (tests) is kept as it is: the test drives time itself.
            clock = await shared_clock(store, settings, clock)
        if tracer_provider is None:
            exporting = otlp_tracer_provider(settings)
            if exporting is not None:
                stack.callback(exporting.shutdown)  # flushes the last spans
            tracer_provider = exporting
        if guard is None:
            guard = address_guard(settings)
        if upstream is None:
            client = UpstreamClient(
                settings.upstream_url,
                settings.aimlapi_key,
                timeout_s=settings.upstream_timeout_s,
                connect_timeout_s=settings.upstream_connect_timeout_s,
                max_connections=settings.max_concurrency,
                # Names the replica in the upstream's logs (and in the mock's journal).
                user_agent=f"video-webhook-gateway/{__version__} ({settings.replica_id})",
                transport=upstream_transport,
            )
            stack.push_async_callback(client.aclose)
            upstream = client
        if sender is None:
            webhook_sender = WebhookSender(
                guard if isinstance(guard, AddressGuard) else address_guard(settings),
                timeout_s=settings.delivery_timeout_s,
                connect_timeout_s=settings.delivery_connect_timeout_s,
                max_response_bytes=settings.delivery_max_response_bytes,
                max_connections=settings.max_concurrency,
                transport=webhook_transport,
            )
            stack.push_async_callback(webhook_sender.aclose)
            sender = webhook_sender
        runtime = Runtime(
            settings=settings,
            store=store,
            upstream=upstream,
            sender=sender,
            guard=guard,
            poll_policy=make_poll_policy(
                settings.poll_policy,
                interval_s=settings.poll_interval_s,
                floor_s=settings.poll_floor_s,
                ceiling_s=settings.poll_ceiling_s,
                window_polls=settings.poll_window_polls,
            ),
            delivery_policy=DeliveryPolicy(
                schedule=settings.delivery_schedule, jitter=settings.delivery_jitter
            ),
            metrics=metrics or Metrics(),
            clock=clock,
            rng=rng or random.Random().random,
            rulebook=rulebook or Rulebook(load_catalogue()),
            tracer=tracer_from(tracer_provider),
        )
        # Intake's last batches commit and are answered before the store closes (the stack
        # unwinds backwards).
        stack.push_async_callback(runtime.intake.close)
        yield runtime
