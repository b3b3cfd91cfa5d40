"""The composition root: where the process is assembled, once, from its settings.

``open_runtime`` builds what the use cases run on (the store, the upstream client, the webhook
sender, the SSRF guard, the policies, metrics and tracer); ``open_gateway`` adds what a running
process has around it (the services the HTTP API and the console call, the worker, readiness,
the PostgreSQL listeners); ``create_app`` serves that as one Litestar app, handing each handler
the services it names through dependency injection. This is the only module that knows every
part: ``gateway.http`` and ``gateway.console`` are siblings over ``gateway.service`` and import
neither each other nor the worker.

Every part can be passed in instead of built (``Parts``: tests pass fakes, in-process
transports, a fake clock or a seeded random source); what is passed in is the caller's to close.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import httpx
from litestar import Litestar
from litestar.di import Provide
from opentelemetry.trace import TracerProvider

from gateway import __version__
from gateway.catalogue import load_catalogue
from gateway.clock import Clock, system_clock
from gateway.console import console_routes, template_config
from gateway.console.session import Console
from gateway.delivery import AddressGuard, WebhookSender
from gateway.delivery.brokers.common import BrokerOptions, Publisher
from gateway.delivery.credential_vault import FernetVault
from gateway.delivery.destinations import broker_publishers
from gateway.domain.addresses import Allowlist
from gateway.domain.broker_targets import BrokerKind
from gateway.domain.model_rules import Rulebook
from gateway.domain.polling import make_poll_policy
from gateway.domain.retry import DeliveryPolicy
from gateway.errors import ServiceUnavailable, StoreUnavailable
from gateway.heap import freeze_startup_heap
from gateway.http import GatewayApp, api_routes, openapi_config
from gateway.http.errors import EXCEPTION_HANDLERS
from gateway.observability import Metrics
from gateway.observability.tracing import otlp_tracer_provider, tracer_from
from gateway.outputs import OutputStore
from gateway.service import (
    Clients,
    ConsoleSessions,
    Jobs,
    ModelCatalogue,
    ReadinessProbe,
    Runtime,
    Services,
    Subscriptions,
)
from gateway.service.clients import ensure_bootstrap_client
from gateway.service.kept_outputs import open_kept_outputs
from gateway.service.kept_videos import KeptVideos
from gateway.service.ports import CallbackGuard, Sender, Upstream
from gateway.service.runtime import shared_clock
from gateway.service.subscription_upkeep import SubscriptionUpkeep
from gateway.settings import Settings
from gateway.store import Store
from gateway.store.bounds import DatabaseBounds
from gateway.store.database import CLIENT_CHANGED_CHANNEL
from gateway.upstream import UpstreamClient
from gateway.worker import Worker
from gateway.worker.notifications import ChannelListener, JobEndListener

CLIENT_LISTENER_NAME = "gateway-client-listener"  # its connection in pg_stat_activity


class Parts(TypedDict, total=False):
    """What tests and tools may pass in instead of having it built from the settings.

    ``upstream_transport`` and ``webhook_transport`` keep the real upstream client and webhook
    sender but route their requests elsewhere (an in-process app); ``guard`` checks the URLs
    callers hand in (the webhook sender always connects through an ``AddressGuard``)."""

    store: Store
    upstream: Upstream
    upstream_transport: httpx.AsyncBaseTransport
    sender: Sender
    publishers: dict[BrokerKind, Publisher]
    webhook_transport: httpx.AsyncBaseTransport
    guard: CallbackGuard
    clock: Clock
    rng: Callable[[], float]
    metrics: Metrics
    tracer_provider: TracerProvider
    rulebook: Rulebook
    console: Console
    output_store: OutputStore


def address_guard(settings: Settings) -> AddressGuard:
    """The SSRF guard for destination URLs, with the operator's allowlist."""
    return AddressGuard(Allowlist.parse(",".join(settings.callback_allowlist)))


def database_bounds(settings: Settings) -> DatabaseBounds:
    """The database's waits, as the settings bound them."""
    return DatabaseBounds(
        timeout_s=settings.db_timeout_s,
        statement_timeout_s=settings.db_statement_timeout_s,
        lock_timeout_s=settings.db_lock_timeout_s,
        idle_in_transaction_timeout_s=settings.db_idle_in_transaction_timeout_s,
    )


async def open_store(settings: Settings) -> Store:
    """The store of ``settings`` (connected, migrated), every wait on it bounded."""
    return await Store.open(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        bounds=database_bounds(settings),
    )


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, **parts: Unpack[Parts]) -> AsyncIterator[Runtime]:
    """The runtime for ``settings``; parts not passed in are built here and closed on exit."""
    async with contextlib.AsyncExitStack() as stack:
        store = parts.get("store")
        if store is None:
            store = await open_store(settings)
            stack.push_async_callback(store.close)
        clock = parts.get("clock", system_clock)
        if clock is system_clock:
            # PostgreSQL: leases and due times follow the database's clock. A clock passed in
            # (tests) is kept as it is: the test drives time itself.
            clock = await shared_clock(store, settings, clock)
        tracer_provider = parts.get("tracer_provider")
        if tracer_provider is None:
            exporting = otlp_tracer_provider(settings)
            if exporting is not None:
                stack.callback(exporting.shutdown)  # flushes the last spans
            tracer_provider = exporting
        guard = parts.get("guard") or address_guard(settings)
        upstream = parts.get("upstream")
        if upstream is None:
            client = UpstreamClient(
                settings.upstream_url,
                settings.aimlapi_key,
                timeout_s=settings.upstream_timeout_s,
                connect_timeout_s=settings.upstream_connect_timeout_s,
                max_connections=settings.max_concurrency,
                # Names the replica in the upstream's logs (and in the mock's journal).
                user_agent=f"video-webhook-gateway/{__version__} ({settings.replica_id})",
                transport=parts.get("upstream_transport"),
            )
            stack.push_async_callback(client.aclose)
            upstream = client
        sender = parts.get("sender")
        if sender is None:
            webhook_sender = WebhookSender(
                guard if isinstance(guard, AddressGuard) else address_guard(settings),
                timeout_s=settings.delivery_timeout_s,
                connect_timeout_s=settings.delivery_connect_timeout_s,
                max_response_bytes=settings.delivery_max_response_bytes,
                max_connections=settings.max_concurrency,
                transport=parts.get("webhook_transport"),
            )
            stack.push_async_callback(webhook_sender.aclose)
            sender = webhook_sender
        publishers = parts.get("publishers")
        if publishers is None:
            publishers = broker_publishers(
                BrokerOptions(
                    connect_timeout_s=settings.delivery_connect_timeout_s,
                    publish_timeout_s=settings.delivery_timeout_s,
                )
            )
            for publisher in publishers.values():
                stack.push_async_callback(publisher.aclose)
        key = settings.broker_credentials_key
        outputs = await open_kept_outputs(
            settings, store, now=clock(), output_store=parts.get("output_store")
        )
        if outputs is not None:
            stack.push_async_callback(outputs.aclose)
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
            metrics=parts.get("metrics") or Metrics(),
            clock=clock,
            rng=parts.get("rng") or random.Random().random,
            rulebook=parts.get("rulebook") or Rulebook(load_catalogue()),
            tracer=tracer_from(tracer_provider),
            publishers=publishers,
            vault=FernetVault(key) if key else None,
            outputs=outputs,
        )
        yield runtime


@dataclass
class Gateway:
    """A running gateway process: the services handlers are given, the console, the worker."""

    services: Services
    console: Console
    worker: Worker  # not started on an API-only replica (GATEWAY_WORKER=false)
    # PostgreSQL: the ear for other replicas' client revocations (None on SQLite).
    client_listener: ChannelListener | None = None

    @property
    def runtime(self) -> Runtime:
        return self.services.runtime

    @property
    def readiness(self) -> ReadinessProbe:
        return self.services.readiness


@contextlib.asynccontextmanager
async def open_gateway(
    settings: Settings, *, run_worker: bool = True, **parts: Unpack[Parts]
) -> AsyncIterator[Gateway]:
    """The whole process around one runtime: services, worker, readiness and listeners."""
    console = parts.pop("console", None)
    async with contextlib.AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(open_runtime(settings, **parts))
        await ensure_bootstrap_client(runtime.store, settings, now=runtime.clock())
        with contextlib.suppress(StoreUnavailable):  # not reachable yet: measured per claim
            runtime.lease_sizing.observe(await runtime.store.db.round_trip())
        worker = Worker(runtime)  # started only if this replica works (GATEWAY_WORKER)
        services = Services(
            runtime=runtime,
            readiness=ReadinessProbe(
                runtime.store.db,
                settings.replica_id,
                interval_s=settings.readiness_probe_interval_s,
                timeout_s=settings.db_timeout_s,
                clock=runtime.clock,
            ),
            jobs=Jobs(runtime, wake=worker.wake),
            subscriptions=Subscriptions(runtime),
            subscription_upkeep=SubscriptionUpkeep(runtime, wake=worker.wake),
            clients=Clients(
                runtime.store,
                runtime.client_keys,
                clock=runtime.clock,
                grace_s=settings.secret_rotation_grace_s,
            ),
            catalogue=ModelCatalogue(runtime.rulebook, runtime.store),
            videos=KeptVideos(runtime),
        )
        gateway = Gateway(
            services=services,
            console=console
            or Console(
                settings.console_secret,
                admin_key=settings.admin_key,
                clock=runtime.clock,
                sessions=ConsoleSessions(runtime.store.console),
            ),
            worker=worker,
        )
        if run_worker:
            worker.start()
            stack.push_async_callback(worker.stop)
        await stack.enter_async_context(job_end_watch(runtime))
        gateway.client_listener = await stack.enter_async_context(client_key_watch(runtime))
        yield gateway


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
        listener = JobEndListener(
            runtime.store.db.driver_url(), waiters.job_ended, bounds=runtime.store.db.bounds
        )
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
        bounds=runtime.store.db.bounds,
    )
    listener.start()
    try:
        yield listener
    finally:
        await listener.stop()


class _Running:
    """The gateway an app's lifespan opened (None until then), for its dependency providers."""

    gateway: Gateway | None = None

    def now(self) -> Gateway:
        if self.gateway is None:
            raise ServiceUnavailable("The gateway is starting or stopping; retry shortly")
        return self.gateway


def _dependencies(running: _Running) -> dict[str, Provide]:
    """What handlers may ask for: ``services`` (the use cases) and ``console`` (its sessions).
    Providers without parameters: nothing of the request needs parsing to find them."""

    def services() -> Services:
        return running.now().services

    def console() -> Console:
        return running.now().console

    return {
        "services": Provide(services, sync_to_thread=False),
        "console": Provide(console, sync_to_thread=False),
    }


def create_app(
    settings: Settings,
    *,
    run_worker: bool = True,
    extra_route_handlers: Sequence[Any] = (),
    on_startup: Sequence[Callable[[], object]] = (),
    **parts: Unpack[Parts],
) -> GatewayApp:
    """The app: its lifespan opens the gateway (``open_gateway``); ``on_startup`` functions
    run once it has started."""
    metrics = parts["metrics"] = parts.get("metrics") or Metrics()
    # Every model's rules, compiled once, when the app is made (not at each start).
    parts["rulebook"] = parts.get("rulebook") or Rulebook(load_catalogue())

    running = _Running()

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with open_gateway(settings, run_worker=run_worker, **parts) as gateway:
            app.state.gateway = running.gateway = gateway
            try:
                yield
            finally:
                running.gateway = None

    app = GatewayApp(
        route_handlers=[*api_routes(settings), *console_routes(), *extra_route_handlers],
        dependencies=_dependencies(running),
        template_config=template_config(),
        lifespan=[lifespan],
        on_startup=list(on_startup),  # Litestar runs these after the lifespan has entered
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=openapi_config(version=__version__),
        request_max_body_size=settings.max_body_bytes,
        debug=False,
        logging_config=None,  # the process's logging is configured once, by the CLI
    )
    app.use_access_log(metrics)
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
