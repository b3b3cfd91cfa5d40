"""The service layer's ports: what the use cases need from the outside world, as Protocols.

The adapters (``gateway.upstream``, ``gateway.delivery``, ``gateway.store``) satisfy them without
importing them; tests pass fakes that do the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from gateway.domain.delivery import AttemptResult
from gateway.domain.upstream import UpstreamResult


class Upstream(Protocol):
    """The AI/ML API's video endpoint (``gateway.upstream.client.UpstreamClient``)."""

    async def submit(self, body: bytes, *, request_id: str) -> UpstreamResult: ...
    async def fetch(self, generation_id: str, *, request_id: str) -> UpstreamResult: ...


class Sender(Protocol):
    """POSTs one webhook attempt (``gateway.delivery.sender.WebhookSender``)."""

    async def send(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult: ...


class CallbackGuard(Protocol):
    """Refuses a destination URL the gateway must not POST to (``gateway.delivery.guard``):
    raises ``CallbackUrlRejected``."""

    async def check_url(self, url: str) -> None: ...


class HistoryRow(Protocol):
    """One stored change of a job (``gateway.store.history.JobEventRecord``)."""

    @property
    def id(self) -> int: ...
    @property
    def job_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def status(self) -> str: ...
    @property
    def upstream_status(self) -> str | None: ...
    @property
    def polls(self) -> int: ...
    @property
    def data(self) -> dict[str, Any]: ...
