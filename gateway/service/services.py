"""What the HTTP API and the console are given: the use cases of one running gateway, as one
dependency (``services``), built once by the composition root (``gateway.app``).

One object rather than one dependency per service, because Litestar resolves the dependencies of
one level together in a task group, a task each: a handler given ``client`` and ``jobs`` side
by side paid two tasks per request (intake's CPU per request rose by about a third, see
``bench/README.md``, "Builds"). Chained — ``services``, then ``client`` from it, then the
path's ``job`` — each level holds one dependency and none needs a task.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.service.client_keys import ClientKeys
from gateway.service.clients import Clients
from gateway.service.jobs import Jobs
from gateway.service.kept_videos import KeptVideos
from gateway.service.models import ModelCatalogue
from gateway.service.readiness import ReadinessProbe
from gateway.service.runtime import Runtime
from gateway.service.subscription_upkeep import SubscriptionUpkeep
from gateway.service.subscriptions import Subscriptions


@dataclass(frozen=True)
class Services:
    runtime: Runtime
    jobs: Jobs
    subscriptions: Subscriptions
    clients: Clients
    catalogue: ModelCatalogue
    readiness: ReadinessProbe
    videos: KeptVideos  # downloads through signed links, deletion, the retention sweep
    # One subscription: read, edit, disable/enable, test send (issue 28).
    subscription_upkeep: SubscriptionUpkeep

    @property
    def client_keys(self) -> ClientKeys:
        """The API keys' cache (a revocation holds at once on this replica)."""
        return self.runtime.client_keys
