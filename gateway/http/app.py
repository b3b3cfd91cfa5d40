"""The app factory: ``create_app(settings, *, store=…, upstream=…, sender=…, clock=…)``.

Dependencies are created in the lifespan unless passed in (tests pass fakes or in-process
transports). The worker (ticker) runs inside the same process and event loop as the API.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from litestar import Litestar
from opentelemetry.trace import TracerProvider

from gateway import __version__
from gateway.catalogue import load_catalogue
from gateway.clock import Clock, system_clock
from gateway.console.render import template_config
from gateway.console.routes import console_routes
from gateway.console.session import Console
from gateway.delivery.guard import AddressGuard
from gateway.delivery.sender import WebhookSender
from gateway.domain.addresses import Allowlist
from gateway.domain.model_rules import Rulebook
from gateway.domain.polling import make_poll_policy
from gateway.domain.retry import DeliveryPolicy
from gateway.http.access import AccessLog
from gateway.http.account import me
from gateway.http.admin import AdminController
from gateway.http.docs import docs_assets_router
from gateway.http.drop_in import DropInController
from gateway.http.errors import EXCEPTION_HANDLERS
from gateway.http.jobs import DeliveryController, JobController
from gateway.http.models import ModelController
from gateway.http.openapi import openapi_config
from gateway.http.state import Gateway
from gateway.http.subscriptions import SubscriptionController
from gateway.http.system import healthz, readyz
from gateway.http.system import metrics as metrics_endpoint
from gateway.observability.metrics import Metrics
from gateway.observability.tracing import otlp_tracer_provider, tracer_from
from gateway.service.clients import ensure_bootstrap_client
from gateway.service.intake import CallbackGuard
from gateway.service.readiness import ReadinessProbe
from gateway.service.runtime import Runtime, Sender, Upstream, shared_clock
from gateway.settings import Settings
from gateway.store import Store
from gateway.upstream.client import UpstreamClient
from gateway.worker.notifications import JobEndListener
from gateway.worker.ticker import Worker


@contextlib.asynccontextmanager
async def job_end_watch(runtime: Runtime) -> AsyncIterator[None]:
    """What wakes ``Prefer: wait`` requests besides this process's own work: the periodic
    batched check, and on PostgreSQL the job-end notifications of every replica."""
    waiters = runtime.job_waiters
    checks = asyncio.ensure_future(
        waiters.run_checks(runtime.store.jobs, runtime.settings.wait_check_interval_s)
    )
    listener = None
    if not runtime.store.db.is_sqlite:
        listener = JobEndListener(runtime.store.db.driver_url(), waiters.job_ended)
        listener.start()
    try:
        yield
    finally:
        waiters.release_all()  # shutting down: waiting requests answer with what they have
        checks.cancel()
        await asyncio.gather(checks, return_exceptions=True)
        if listener is not None:
            await listener.stop()


def build_guard(settings: Settings) -> AddressGuard:
    return AddressGuard(Allowlist.parse(",".join(settings.callback_allowlist)))


class GatewayApp(Litestar):
    """The Litestar app with the access log around every HTTP request (routing's own 404s and
    405s included, which never reach route middleware)."""

    access_log: AccessLog | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or self.access_log is None:
            await super().__call__(scope, receive, send)
            return
        app_call = super().__call__
        await self.access_log.around(scope, send, lambda logged: app_call(scope, receive, logged))


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    upstream: Upstream | None = None,
    sender: Sender | None = None,
    guard: CallbackGuard | None = None,
    clock: Clock = system_clock,
    run_worker: bool = True,
    metrics: Metrics | None = None,
    tracer_provider: TracerProvider | None = None,
    extra_route_handlers: Sequence[Any] = (),
    console: Console | None = None,
) -> GatewayApp:
    the_metrics = metrics or Metrics()
    rulebook = Rulebook(load_catalogue())  # every model's rules, compiled once

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            the_store = store
            if the_store is None:
                the_store = await Store.open(
                    settings.database_url, sqlite_synchronous=settings.sqlite_synchronous
                )
                stack.push_async_callback(the_store.close)
            # PostgreSQL: leases and due times follow the database's clock. A clock injected
            # by a test is kept as it is: the test drives time itself.
            the_clock = (
                await shared_clock(the_store, settings, clock) if clock is system_clock else clock
            )
            await ensure_bootstrap_client(the_store, settings, now=the_clock())
            the_tracer_provider = tracer_provider
            if the_tracer_provider is None:
                exporting = otlp_tracer_provider(settings)
                if exporting is not None:
                    stack.callback(exporting.shutdown)  # flushes the last spans
                the_tracer_provider = exporting
            the_guard = guard or build_guard(settings)
            the_upstream = upstream
            if the_upstream is None:
                client = UpstreamClient(
                    settings.upstream_url,
                    settings.aimlapi_key,
                    timeout_s=settings.upstream_timeout_s,
                    connect_timeout_s=settings.upstream_connect_timeout_s,
                    max_connections=settings.max_concurrency,
                    # Names the replica in the upstream's logs (and in the mock's journal).
                    user_agent=f"video-webhook-gateway/{__version__} ({settings.replica_id})",
                )
                stack.push_async_callback(client.aclose)
                the_upstream = client
            the_sender = sender
            if the_sender is None:
                webhook_sender = WebhookSender(
                    the_guard if isinstance(the_guard, AddressGuard) else build_guard(settings),
                    timeout_s=settings.delivery_timeout_s,
                    connect_timeout_s=settings.delivery_connect_timeout_s,
                    max_response_bytes=settings.delivery_max_response_bytes,
                    max_connections=settings.max_concurrency,
                )
                stack.push_async_callback(webhook_sender.aclose)
                the_sender = webhook_sender
            runtime = Runtime(
                settings=settings,
                store=the_store,
                upstream=the_upstream,
                sender=the_sender,
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
                metrics=the_metrics,
                clock=the_clock,
                rulebook=rulebook,
                tracer=tracer_from(the_tracer_provider),
            )
            worker = Worker(runtime)
            readiness = ReadinessProbe(
                the_store.db,
                settings.replica_id,
                interval_s=settings.readiness_probe_interval_s,
                clock=clock,
            )
            app.state.gateway = Gateway(
                runtime=runtime,
                guard=the_guard,
                readiness=readiness,
                worker=worker,
                console=console or Console(settings.console_secret),
            )
            if run_worker:
                worker.start()
                stack.push_async_callback(worker.stop)
            await stack.enter_async_context(job_end_watch(runtime))
            yield

    app = GatewayApp(
        route_handlers=[
            JobController,
            DeliveryController,
            ModelController,
            AdminController,
            SubscriptionController,
            me,
            DropInController,
            healthz,
            readyz,
            metrics_endpoint,
            docs_assets_router(),
            *console_routes(),
            *extra_route_handlers,
        ],
        template_config=template_config(),
        lifespan=[lifespan],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=openapi_config(version=__version__),
        request_max_body_size=settings.max_body_bytes,
        debug=False,
        logging_config=None,  # the process's logging is configured once, by the CLI
    )
    app.access_log = AccessLog(the_metrics)
    return app


def gateway_state(app: Litestar) -> Any:
    """The running gateway of an app whose lifespan has started (tests use this)."""
    return app.state.gateway
