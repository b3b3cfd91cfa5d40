"""The use cases, over ports (``gateway.service.ports``) for the store, the upstream, the sender
and the guard; the HTTP API and the console are given these services by the composition root."""

from gateway.service.clients import Clients
from gateway.service.console_sessions import ConsoleSessions
from gateway.service.jobs import Jobs
from gateway.service.models import ModelCatalogue
from gateway.service.readiness import ReadinessProbe
from gateway.service.runtime import Runtime
from gateway.service.services import Services
from gateway.service.subscriptions import Subscriptions

__all__ = [
    "Clients",
    "ConsoleSessions",
    "Jobs",
    "ModelCatalogue",
    "ReadinessProbe",
    "Runtime",
    "Services",
    "Subscriptions",
]
