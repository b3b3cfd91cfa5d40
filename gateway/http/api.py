"""The JSON API as one piece: its routes and the Litestar app class that logs every request.

The composition root (``gateway.app``) serves these routes beside the console's and hands the
handlers their services by dependency injection.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar

from gateway.http.access import AccessLog, stamp_arrival
from gateway.http.account import me
from gateway.http.admin import admin_routes
from gateway.http.docs import docs_assets_router
from gateway.http.drop_in import DropInController
from gateway.http.jobs import DeliveryController, JobController
from gateway.http.models import ModelController
from gateway.http.signing_keys import signing_keys
from gateway.http.subscriptions import SubscriptionController
from gateway.http.system import healthz, metrics, readyz
from gateway.observability.metrics import Metrics
from gateway.settings import Settings


class GatewayApp(Litestar):
    """The Litestar app with the access log around every HTTP request (routing's own 404s and
    405s included, which never reach route middleware), each request's arrival stamped first."""

    access_log: AccessLog | None = None

    def use_access_log(self, metrics: Metrics) -> None:
        self.access_log = AccessLog(metrics)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            stamp_arrival(scope)  # first of all: waits promised to the caller run from here
        if scope["type"] != "http" or self.access_log is None:
            await super().__call__(scope, receive, send)
            return
        app_call = super().__call__
        await self.access_log.around(scope, send, lambda logged: app_call(scope, receive, logged))


def api_routes(settings: Settings) -> list[Any]:
    """Every route of the JSON API (the operator's behind the admin key), the health checks,
    the metrics and the API documentation's assets."""
    return [
        JobController,
        DeliveryController,
        ModelController,
        admin_routes(settings.admin_key),
        SubscriptionController,
        me,
        signing_keys,
        DropInController,
        healthz,
        readyz,
        metrics,
        docs_assets_router(),
    ]
