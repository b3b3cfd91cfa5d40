"""The intake ladder's server: the gateway exactly as ``gateway serve`` builds it
(``serving_app``: access log, metrics, tracing, the client-key dependency, the exception
handlers, the frozen start-up heap), plus POST routes that stop intake part of the way and
answer 202 with a fixed body, so the cost of each step of ``POST /v1/jobs`` can be read from the
difference between two rungs. Used by ``bench.intake_ladder``;
``python -m bench.intake_ladder_app`` with the gateway's environment.

- ``/bench/answer``: authenticate (the same dependency as ``/v1/jobs``) and answer.
- ``/bench/parse``: also read the body and parse it as ``/v1/jobs`` does.
- ``/bench/check``: also check it by its model's rules and the callback URL by the SSRF guard.
"""

from __future__ import annotations

from typing import Any

import uvicorn
from litestar import Request, post
from litestar.di import NamedDependency, Provide

from gateway.app import serving_app
from gateway.domain.generation import CheckedJob, check_job
from gateway.errors import InvalidRequest
from gateway.http.auth import current_client
from gateway.http.parsing import parse_job_request
from gateway.observability.logging import configure_logging
from gateway.service import Services
from gateway.service.intake import check_destination
from gateway.service.runtime import Runtime
from gateway.settings import load_settings
from gateway.store.records import ClientRecord

ANSWER = {"id": "job_0", "status": "accepted"}
_AUTHENTICATED = {"client": Provide(current_client)}
Client = NamedDependency[ClientRecord]  # authenticated, unused: the rung measures the lookup


def _parsed(request: Request[Any, Any, Any], runtime: Runtime, body: bytes) -> dict[str, Any]:
    return parse_job_request(request.headers.get("content-type", ""), body, runtime.rulebook)


@post("/bench/answer", status_code=202, dependencies=_AUTHENTICATED, include_in_schema=False)
async def answer(client: Client) -> dict[str, str]:
    return ANSWER


@post("/bench/parse", status_code=202, dependencies=_AUTHENTICATED, include_in_schema=False)
async def parse(
    request: Request[Any, Any, Any], client: Client, services: NamedDependency[Services]
) -> dict[str, str]:
    _parsed(request, services.runtime, await request.body())
    return ANSWER


@post("/bench/check", status_code=202, dependencies=_AUTHENTICATED, include_in_schema=False)
async def check(
    request: Request[Any, Any, Any], client: Client, services: NamedDependency[Services]
) -> dict[str, str]:
    checked = check_job(
        services.runtime.rulebook,
        _parsed(request, services.runtime, await request.body()),
        metadata_max_bytes=services.runtime.settings.metadata_max_bytes,
        allow_unlisted=services.runtime.settings.allow_unlisted_models,
    )
    if not isinstance(checked, CheckedJob):
        raise InvalidRequest("not a valid job")  # a 400: the ladder counts it as an error
    if checked.gateway.callback_url is not None:
        await check_destination(
            services.runtime.guard, checked.gateway.callback_url, field="callback_url"
        )
    return ANSWER


def main() -> None:
    settings = load_settings()
    configure_logging(
        log_format=settings.log_format, level=settings.log_level, secrets=settings.secret_values()
    )
    app = serving_app(settings, extra_route_handlers=[answer, parse, check])
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
