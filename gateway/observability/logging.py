"""Structured logs (structlog): JSON in production, readable in ``gateway dev``.

Events have stable snake_case names (``delivery_attempted``) and bound ids (``job_id``,
``client_id``, ``attempt``). A last processor replaces any configured secret that still slipped
into an event with ``[redacted]``: defence in depth behind the rule that none is ever logged.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"


class SecretScrubber:
    """A structlog processor that masks known secret values anywhere in an event's strings."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Short values would mask ordinary words; real keys and secrets are long.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def scrub(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.secrets:
                if secret in value:
                    value = value.replace(secret, REDACTED)
            return value
        if isinstance(value, dict):
            return {k: self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value

    def __call__(
        self, _logger: Any, _name: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if not self.secrets:
            return event
        for key in list(event):
            event[key] = self.scrub(event[key])
        return event


class _SkippedTickFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in record.getMessage()


def configure_logging(
    *, log_format: str = "json", level: str = "INFO", secrets: Iterable[str] = ()
) -> None:
    scrubber = SecretScrubber(secrets)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        scrubber,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries log through the standard library: same stream, same level, same scrubbing.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processor=renderer,
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                # Render a library's exception to text first, so the scrubber sees it.
                structlog.processors.format_exc_info,
                scrubber,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # APScheduler reports every tick at INFO; keep its warnings and errors only, except the
    # skipped-tick notice: a tick still draining work when the next is due is by design
    # (max_instances=1 with coalescing), not a fault.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("apscheduler.scheduler").addFilter(_SkippedTickFilter())
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request: the worker logs
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Database drivers log statements with their parameters at DEBUG: a client's new signing
    # secret is such a parameter. Never below WARNING, whatever GATEWAY_LOG_LEVEL says.
    for name in ("aiosqlite", "asyncpg", "sqlalchemy.engine", "sqlalchemy.pool"):
        logging.getLogger(name).setLevel(logging.WARNING)
