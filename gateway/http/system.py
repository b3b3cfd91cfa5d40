"""Liveness, readiness and metrics: no authentication, nothing secret."""

from __future__ import annotations

import msgspec
from litestar import Response, get
from litestar.di import NamedDependency

from gateway.http.errors import documented_errors
from gateway.http.openapi import PublicOperation
from gateway.service import Services
from gateway.service.gauges import refresh_gauges


class Health(msgspec.Struct, frozen=True):
    status: str


@get(
    "/healthz",
    tags=["system"],
    summary="The process is alive",
    operation_id="healthz",
    operation_class=PublicOperation,
)
async def healthz() -> Health:
    return Health(status="ok")


@get(
    "/readyz",
    tags=["system"],
    summary="The database answers and commits",
    operation_id="readyz",
    operation_class=PublicOperation,
    responses=documented_errors(),
)
async def readyz(services: NamedDependency[Services]) -> Health:
    await services.readiness.check()
    return Health(status="ready")


@get(
    "/metrics",
    tags=["system"],
    summary="Prometheus metrics (text exposition format)",
    operation_id="metrics",
    operation_class=PublicOperation,
    media_type="text/plain; version=0.0.4; charset=utf-8",
)
async def metrics(services: NamedDependency[Services]) -> Response[bytes]:
    rt = services.runtime
    try:
        await refresh_gauges(rt.metrics, rt.store, now=rt.clock())
    except Exception:
        rt.log.warning("metrics_refresh_failed")
    return Response(rt.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
