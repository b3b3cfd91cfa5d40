"""The app factory: ``create_app(settings, *, store=…, upstream=…, sender=…, clock=…)``.

The runtime is built in the lifespan by ``gateway.bootstrap.open_runtime`` from the settings
and whatever is passed in (tests pass fakes or in-process transports). The worker (ticker) runs
inside the same process and event loop as the API.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx
from litestar import Litestar
from opentelemetry.trace import TracerProvider

from gateway import __version__
from gateway.bootstrap import open_runtime
from gateway.catalogue import load_catalogue
from gateway.clock import Clock, system_clock
from gateway.console.render import template_config
from gateway.console.routes import console_routes
from gateway.console.session import Console
from gateway.domain.model_rules import Rulebook
from gateway.heap import freeze_startup_heap
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
from gateway.service.clients import ensure_bootstrap_client
from gateway.service.ports import CallbackGuard, Sender, Upstream
from gateway.service.readiness import ReadinessProbe
from gateway.service.runtime import Runtime
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.database import CLIENT_CHANGED_CHANNEL
from gateway.worker.notifications import ChannelListener, JobEndListener
from gateway.worker.ticker import Worker

CLIENT_LISTENER_NAME = "gateway-client-listener"  # its connection in pg_stat_activity


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


@contextlib.asynccontextmanager
async def client_key_watch(runtime: Runtime) -> AsyncIterator[ChannelListener | None]:
    """PostgreSQL: drop a client from this replica's key cache as soon as another replica
    revokes or changes it (its ``NOTIFY``). A notification missed while the listener reconnects
    is covered by the cache's TTL (1 s). SQLite has one process: nothing to listen to."""
    if runtime.store.db.is_sqlite:
        yield None
        return
    listener = ChannelListener(
        runtime.store.db.driver_url(),
        CLIENT_CHANGED_CHANNEL,
        runtime.client_keys.forget,
        application_name=CLIENT_LISTENER_NAME,
    )
    listener.start()
    try:
        yield listener
    finally:
        await listener.stop()


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
    upstream_transport: httpx.AsyncBaseTransport | None = None,
    sender: Sender | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    guard: CallbackGuard | None = None,
    clock: Clock = system_clock,
    run_worker: bool = True,
    metrics: Metrics | None = None,
    tracer_provider: TracerProvider | None = None,
    extra_route_handlers: Sequence[Any] = (),
    console: Console | None = None,
    on_startup: Sequence[Callable[[], object]] = (),
) -> GatewayApp:
    """The app; ``on_startup`` functions run once it has started (its runtime open)."""
    the_metrics = metrics or Metrics()
    rulebook = Rulebook(load_catalogue())  # every model's rules, compiled once

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            runtime = await stack.enter_async_context(
                open_runtime(
                    settings,
                    store=store,
                    upstream=upstream,
                    upstream_transport=upstream_transport,
                    sender=sender,
                    webhook_transport=webhook_transport,
                    guard=guard,
                    clock=clock,
                    metrics=the_metrics,
                    tracer_provider=tracer_provider,
                    rulebook=rulebook,
                )
            )
            the_store = runtime.store
            await ensure_bootstrap_client(the_store, settings, now=runtime.clock())
            worker = Worker(runtime)
            readiness = ReadinessProbe(
                the_store.db,
                settings.replica_id,
                interval_s=settings.readiness_probe_interval_s,
                clock=clock,
            )
            app.state.gateway = Gateway(
                runtime=runtime,
                readiness=readiness,
                worker=worker,
                console=console or Console(settings.console_secret),
            )
            if run_worker:
                worker.start()
                stack.push_async_callback(worker.stop)
            await stack.enter_async_context(job_end_watch(runtime))
            app.state.gateway.client_listener = await stack.enter_async_context(
                client_key_watch(runtime)
            )
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
        on_startup=list(on_startup),  # Litestar runs these after the lifespan has entered
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=openapi_config(version=__version__),
        request_max_body_size=settings.max_body_bytes,
        debug=False,
        logging_config=None,  # the process's logging is configured once, by the CLI
    )
    app.access_log = AccessLog(the_metrics)
    return app


def serving_app(settings: Settings, *, extra_route_handlers: Sequence[Any] = ()) -> GatewayApp:
    """The app as ``gateway serve`` runs it: the worker as the settings say, and once started,
    the heap built so far frozen (``gateway.heap``: full collections skip it)."""
    return create_app(
        settings,
        run_worker=settings.worker,
        extra_route_handlers=extra_route_handlers,
        on_startup=[freeze_startup_heap],
    )
