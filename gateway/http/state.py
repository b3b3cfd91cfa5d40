"""What the HTTP layer reaches through ``app.state``: the running gateway."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from litestar import Request

if TYPE_CHECKING:
    from gateway.console.session import Console
    from gateway.service.readiness import ReadinessProbe
    from gateway.service.runtime import Runtime
    from gateway.worker.notifications import ChannelListener
    from gateway.worker.ticker import Worker


@dataclass
class Gateway:
    runtime: Runtime
    readiness: ReadinessProbe
    worker: Worker | None = None
    console: Console | None = None
    # PostgreSQL: the ear for other replicas' client revocations (None on SQLite).
    client_listener: ChannelListener | None = None

    def wake(self) -> None:
        """Tell this replica's worker that work fell due now (no-op on an API-only replica)."""
        if self.worker is not None:
            self.worker.wake()


def gateway_of(request: Request[Any, Any, Any]) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway
