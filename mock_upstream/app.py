"""The mock of ``/v2/video/generations``: the contract, a real lifecycle, scenarios, a journal.

The generations endpoint is a raw ASGI handler, so that scenarios can misbehave the way a
network does (reset connections, answers that never come, truncated JSON). Everything else,
framework-made errors included, answers in the upstream's own error shape.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any
from urllib.parse import parse_qs

import msgspec
from litestar import Litestar, Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.handlers import asgi
from litestar.types import Receive, Scope, Send

from mock_upstream import scenarios
from mock_upstream.config import MockConfig
from mock_upstream.contract import Contract
from mock_upstream.files import serve_file
from mock_upstream.messages import OTHER_500_MESSAGES, error_body
from mock_upstream.state import MockJob, MockState, redact_headers

PATH = "/v2/video/generations"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_BODY_BYTES = 50 * 1024 * 1024


class _Reply:
    """One answer on the raw ASGI channel."""

    def __init__(self, send: Send, headers: dict[str, str]) -> None:
        self.send = send
        self.headers = headers

    async def json(self, status: int, body: Any, media_type: str = "application/json") -> None:
        await self.raw(status, msgspec.json.encode(body), media_type)

    async def raw(
        self, status: int, data: bytes, media_type: str = "application/json", **extra: str
    ) -> None:
        headers = [
            (b"content-type", media_type.encode()),
            (b"content-length", str(len(data)).encode()),
            *[(k.encode(), v.encode()) for k, v in {**self.headers, **extra}.items()],
        ]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": data, "more_body": False})

    async def reset(self) -> None:
        """Promise a body, send a fragment, and stop: the client sees the connection drop."""
        await self.send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await self.send({"type": "http.response.body", "body": b'{"id": "', "more_body": True})
        raise ConnectionResetError("mock scenario: connection reset")


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk: bytes = message.get("body", b"")  # type: ignore[assignment]
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(status_code=413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _base_url(scope: Scope) -> str:
    headers = dict(scope.get("headers", []))
    host = headers.get(b"host", b"").decode("latin-1")
    if not host:
        server = scope.get("server") or ("127.0.0.1", 8100)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}"


def _bearer(headers: dict[str, str]) -> str:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def create_app(config: MockConfig | None = None) -> Litestar:
    state = MockState(config or MockConfig.realistic())
    contract = Contract.load()  # every model's JSON Schema validator, built once

    async def fault(reply: _Reply, name: str, job: MockJob | None) -> None:
        if name == "reset":
            await reply.reset()
        elif name == "hang":
            await asyncio.sleep(state.config.hang_s)
            await reply.json(504, error_body(504, PATH)[0])
        elif name == "truncated_json":
            text = msgspec.json.encode({"id": job.id if job else "x", "status": "queued"})
            await reply.raw(200, text[: len(text) // 2])
        else:  # invalid_json
            await reply.raw(200, b"<html><body>upstream proxy error</body></html>", "text/html")

    async def submit(scope: Scope, receive: Receive, reply: _Reply, entry: dict[str, Any]) -> None:
        raw = await _read_body(receive)
        try:
            body: Any = msgspec.json.decode(raw) if raw else None
        except msgspec.DecodeError:
            body = None
            entry["body"] = raw.decode("utf-8", "replace")[:2000]
            entry["violations"] = [{"path": "$", "message": "the body is not valid JSON"}]
            await reply.json(400, error_body(400, PATH, details=entry["violations"])[0])
            entry["status"] = 400
            return
        entry["body"] = body
        entry["violations"] = contract.violations(body)
        try:
            scenario = scenarios.from_request(
                entry["headers"].get("x-mock-scenario"),
                body.get("prompt") if isinstance(body, dict) else None,
                state.config.default_scenario,
            )
        except scenarios.UnknownScenario as exc:
            entry["status"] = 400
            await reply.json(400, error_body(400, PATH, message=f"Mock: {exc}")[0])
            return
        entry["scenario"] = scenario.name
        if scenario.latency_s:
            await asyncio.sleep(scenario.latency_s)
        if state.config.strict and entry["violations"]:
            entry["status"] = 400
            await reply.json(400, error_body(400, PATH, details=entry["violations"])[0])
            return
        if scenario.submit_status is not None:
            status = scenario.submit_status
            message = (
                state.rng.choice(OTHER_500_MESSAGES)
                if status == 500 and scenario.submit_problem_shape
                else None
            )
            payload, media = error_body(
                status, PATH, problem=scenario.submit_problem_shape, message=message
            )
            extra = {"retry-after": f"{scenario.retry_after_s:g}"} if scenario.retry_after_s else {}
            entry["status"] = status
            await reply.raw(status, msgspec.json.encode(payload), media, **extra)
            return
        if scenario.submit_fault in ("hang", "invalid_json"):
            entry["status"] = scenario.submit_fault
            await fault(reply, scenario.submit_fault, None)
            return
        body = body if isinstance(body, dict) else {}
        job = state.new_job(body, scenario, vendor=contract.vendor(body.get("model")))
        entry["generation_id"] = job.id
        if scenario.submit_fault is not None:  # the job exists; the answer is lost
            entry["status"] = scenario.submit_fault
            await fault(reply, scenario.submit_fault, job)
            return
        entry["status"] = 200
        reply.headers["x-inference-id"] = job.id
        await reply.json(200, {"id": job.id, "status": "queued"})

    async def poll(scope: Scope, reply: _Reply, entry: dict[str, Any]) -> None:
        values = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        generation_id = (values.get("generation_id") or [""])[0]
        entry["generation_id"] = generation_id
        if "generation_id" not in values:  # missing: a validation error; empty: unknown (404)
            entry["status"] = 400
            detail = [{"path": "generation_id", "message": "is required"}]
            await reply.json(400, error_body(400, PATH, details=detail)[0])
            return
        job = state.jobs.get(generation_id)
        if job is None or job.scenario.forget:
            entry["status"] = 404
            await reply.json(404, error_body(404, PATH)[0])
            return
        entry["scenario"] = job.scenario.name
        job.polls += 1
        scenario = job.scenario
        if scenario.latency_s:
            await asyncio.sleep(scenario.latency_s)
        if job.polls <= scenario.poll_failures:
            if scenario.poll_fault is not None:
                entry["status"] = scenario.poll_fault
                await fault(reply, scenario.poll_fault, job)
                return
            status = scenario.poll_status or 500
            extra = {"retry-after": f"{scenario.retry_after_s:g}"} if scenario.retry_after_s else {}
            entry["status"] = status
            await reply.raw(status, msgspec.json.encode(error_body(status, PATH)[0]), **extra)
            return
        entry["status"] = 200
        reply.headers["x-inference-id"] = job.id
        view = job.view(
            state.config.clock(),
            _base_url(scope),
            video_secret=state.video_secret,
            video_ttl_s=state.config.video_ttl_s,
        )
        await reply.json(200, view)

    @asgi(PATH, is_mount=False, copy_scope=False)
    async def generations(scope: Scope, receive: Receive, send: Send) -> None:
        headers = redact_headers(list(scope.get("headers", [])))
        method = str(scope.get("method", "GET"))
        entry: dict[str, Any] = {
            "time": time.time(),
            "method": method,
            "path": scope["path"],
            "query": scope.get("query_string", b"").decode("latin-1"),
            "headers": headers,
            "body": None,
            "violations": [],
            "scenario": None,
            "status": None,
        }
        raw_headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        reply_headers: dict[str, str] = {}
        client_request_id = raw_headers.get("x-client-request-id", "")
        if _REQUEST_ID.match(client_request_id):
            reply_headers["x-client-request-id"] = client_request_id
        reply = _Reply(send, reply_headers)
        state.record(entry)
        key = _bearer(raw_headers)
        expected = state.config.expected_key
        if method not in ("GET", "POST"):
            entry["status"] = 405
            await reply.raw(405, msgspec.json.encode(error_body(405, PATH)[0]), allow="GET, POST")
            return
        if not key or (expected is not None and key != expected):
            entry["status"] = 401
            await reply.json(401, error_body(401, PATH)[0])
            return
        try:
            if method == "POST":
                await submit(scope, receive, reply, entry)
            else:
                await poll(scope, reply, entry)
        finally:
            entry["finished"] = time.time()

    @asgi("/files", is_mount=True, copy_scope=True)
    async def video_file(scope: Scope, receive: Receive, send: Send) -> None:
        await serve_file(state, scope, receive, send)

    @get("/__mock/requests", include_in_schema=False)
    async def journal() -> list[dict[str, Any]]:
        return list(state.journal)

    @post("/__mock/reset", include_in_schema=False, status_code=200)
    async def reset() -> dict[str, str]:
        state.reset()
        return {"status": "reset"}

    def framework_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        body, media = error_body(status, request.url.path)
        return Response(body, status_code=status, media_type=media)

    app = Litestar(
        route_handlers=[generations, video_file, journal, reset],
        exception_handlers={HTTPException: framework_error, Exception: framework_error},
        request_max_body_size=MAX_BODY_BYTES,
        openapi_config=None,
        logging_config=None,
    )
    app.state.mock = state
    return app
