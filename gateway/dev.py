"""``gateway dev``: the whole product on one machine, no API key needed.

One process runs the gateway (``GATEWAY_HOST``:``GATEWAY_PORT``, 127.0.0.1:8000 by default), the
mock upstream (the port + 100, fast timings)
and a development inbox at ``/dev/inbox`` that receives webhooks, checks their signatures with
the bootstrap client's secret, and shows them in the log and at ``GET /dev/inbox``. The SQLite
file and the generated client key and secret live in ``./gateway-dev/`` and survive restarts.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import secrets
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from litestar import Request, get, post

from gateway.console.inbox import inbox_page
from gateway.delivery.credential_vault import new_vault_key
from gateway.domain.signing import verify
from gateway.ids import hash_api_key
from gateway.service.clients import new_webhook_secret
from gateway.service.console_sessions import issue_sign_in_link
from gateway.settings import Settings

log = structlog.get_logger("gateway.dev")


def inbox_routes(secret: str, inbox: collections.deque[dict[str, Any]] | None = None) -> list[Any]:
    """``POST /dev/inbox`` (receiver), ``GET /dev/inbox`` (JSON), the console page of it."""
    received = inbox if inbox is not None else collections.deque(maxlen=100)

    @post("/dev/inbox", include_in_schema=False, status_code=200)
    async def receive(request: Request[Any, Any, Any]) -> dict[str, str]:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            verify(secret, headers, body, now=time.time())
            signature = "valid"
        except ValueError as exc:
            signature = f"INVALID ({exc})"
        event = json.loads(body) if body else {}
        entry = {
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "webhook_id": headers.get("webhook-id"),
            "signature": signature,
            "type": event.get("type"),
            "job_id": (event.get("data") or {}).get("id"),
            "video_url": (event.get("data") or {}).get("video_url"),
            "event": event,
        }
        received.appendleft(entry)
        log.info(
            "dev_inbox_received",
            type=entry["type"],
            job_id=entry["job_id"],
            webhook_id=entry["webhook_id"],
            signature=signature,
            video_url=entry["video_url"],
        )
        return {"status": "received"}

    @get("/dev/inbox", include_in_schema=False)
    async def show() -> list[dict[str, Any]]:
        return list(received)

    return [receive, show, inbox_page(lambda: list(received))]


def _credentials(data_dir: Path, settings: Settings, *, url: str) -> tuple[str, str]:
    """The dev client's key and secret, kept in ``credentials.json`` with the gateway's URL:
    ``gateway submit`` and ``gateway jobs`` read the key from there when none is given and they
    call that URL."""
    path = data_dir / "credentials.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    key = (
        settings.client_api_key
        or stored.get("client_api_key")
        or "gw_dev_" + secrets.token_urlsafe(24)
    )
    secret = (
        settings.client_webhook_secret
        or stored.get("client_webhook_secret")
        or new_webhook_secret()
    )
    stored = {"url": url, "client_api_key": key, "client_webhook_secret": secret}
    path.write_text(json.dumps(stored, indent=2))
    path.chmod(0o600)
    return key, secret


def _broker_credentials_key(data_dir: Path) -> str:
    """The key that encrypts broker credentials at rest, made once and kept beside the
    database (``broker-credentials.key``): credentials stored before a restart still open."""
    path = data_dir / "broker-credentials.key"
    if path.exists():
        return path.read_text().strip()
    key = new_vault_key()
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


def dev_settings(settings: Settings, *, port: int, mock_port: int, data_dir: Path) -> Settings:
    """The settings ``gateway serve`` would use, with dev's conveniences (the mock upstream,
    an embedded database, quick polls, loopback callbacks) only where nothing was set."""
    key, secret = _credentials(data_dir, settings, url=f"http://{settings.host}:{port}")
    conveniences: dict[str, Any] = {
        "database_url": f"sqlite:///{data_dir / 'gateway.db'}",
        "upstream_url": f"http://127.0.0.1:{mock_port}",
        "aimlapi_key": "mock-key",
        "poll_policy": "fixed",
        "poll_interval_s": 1.0,
        "poll_floor_s": 0.5,
        "tick_interval_s": 0.25,
        "delivery_schedule": (0.0, 2.0, 10.0, 30.0, 60.0, 120.0),
        "log_format": "console",
    }
    chosen = settings.explicitly_set()
    return settings.with_(
        port=port,
        client_api_key=key,
        client_webhook_secret=secret,
        broker_credentials_key=settings.broker_credentials_key or _broker_credentials_key(data_dir),
        # Loopback for the inbox, plus whatever the operator allowed (GATEWAY_CALLBACK_ALLOWLIST).
        callback_allowlist=(*settings.callback_allowlist, "127.0.0.0/8", "::1/128", "localhost"),
        # The mock's videos are kept like the upstream's: its address, and only its, is allowed.
        output_source_allowlist=(*settings.output_source_allowlist, "127.0.0.1/32"),
        **{name: value for name, value in conveniences.items() if name not in chosen},
    )


def taken_port(host: str, ports: list[int]) -> int | None:
    """The first of ``ports`` that cannot be bound on ``host`` now, if any."""
    for port in ports:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError:
                return port
    return None


def banner(settings: Settings, *, sign_in_token: str) -> str:
    base = f"http://{settings.host}:{settings.port}"
    body = {
        "prompt": "Mona Lisa puts on glasses with her hands.",
        "image_url": "https://raw.githubusercontent.com/aimlapi/api-docs/main/reference-files/mona_lisa_extended.jpg",
        "duration": "7",
        "callback_url": f"{base}/dev/inbox",
        "metadata": {"order_id": "42"},
    }
    return "\n".join(
        [
            "",
            "  Video webhook gateway (dev) — mock upstream, no API key needed",
            f"  gateway      {base}        API docs: {base}/schema",
            f"  mock         {settings.upstream_url}",
            f"  console      {base}/console   (inbox page: {base}/console/inbox)",
            f"  sign in      {base}/console/signin/link?token={sign_in_token}",
            "               (one click signs this browser in; single use, valid 5 minutes)",
            f"  inbox        {base}/dev/inbox   (webhooks received, signatures checked)",
            f"  client key   {settings.client_api_key}",
            f"  webhook secret {settings.client_webhook_secret}",
            "",
            "  Try it:",
            f"  curl -s {base}/v1/jobs -H 'Authorization: Bearer {settings.client_api_key}' \\",
            f"       -H 'Content-Type: application/json' -d '{json.dumps(body)}'",
            f"  then watch the log, or: curl -s {base}/dev/inbox",
            "",
            "  Or with the CLI (it reads the dev key from gateway-dev/, or --dev-dir DIR):",
            f"  uv run gateway submit --url {base} --prompt 'A horse on a beach' --wait",
            "",
        ]
    )


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signals to ``gateway dev``.

    Each ``uvicorn.Server.serve`` captures SIGINT and SIGTERM for itself and, once stopped,
    restores the handler it found and raises the signal again. With two servers in one loop the
    second one's handler hides the first's, and whichever stops first hands Ctrl-C back to
    ``asyncio.run``, which cancels everything still shutting down (the gateway closing its
    database: a ``CancelledError`` traceback). Dev owns the signals instead and stops both."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _stop_on_signals(servers: list[uvicorn.Server]) -> None:
    """SIGINT/SIGTERM ask every server to stop gracefully; a second one forces them."""

    def stop() -> None:
        for server in servers:
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)


async def _sign_in_link(settings: Settings) -> str:
    """A one-time console sign-in link for the dev client, written to the database (the app,
    started next, redeems it like any replica would)."""
    from gateway.app import open_store

    store = await open_store(settings)
    try:
        key_hash = hash_api_key(settings.client_api_key)
        return await issue_sign_in_link(store, "client", key_hash, now=time.time())
    finally:
        await store.close()


async def _serve_all(settings: Settings, mock_port: int) -> None:
    from gateway.app import create_app
    from mock_upstream.app import create_app as create_mock
    from mock_upstream.config import MockConfig

    token = await _sign_in_link(settings)
    gateway_app = create_app(
        settings, extra_route_handlers=inbox_routes(settings.client_webhook_secret)
    )
    # A fresh seed per start: the mock forgets its jobs on restart, so its ids must not repeat.
    mock_app = create_mock(MockConfig.fast(seed=time.time_ns()))
    servers: list[uvicorn.Server] = [
        _Server(
            uvicorn.Config(
                gateway_app,
                host=settings.host,
                port=settings.port,
                log_config=None,
                access_log=False,
            )
        ),
        _Server(
            uvicorn.Config(
                mock_app, host=settings.host, port=mock_port, log_config=None, access_log=False
            )
        ),
    ]
    _stop_on_signals(servers)
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    await asyncio.sleep(0)  # let both bind before the banner
    print(banner(settings, sign_in_token=token), flush=True)
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server in servers:  # one stopped (a signal, or it failed to start): stop the other
        server.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)


def run_dev(settings: Settings, *, port: int | None, mock_port: int | None, data_dir: str) -> int:
    from gateway.observability.logging import configure_logging

    port = settings.port if port is None else port
    mock_port = port + 100 if mock_port is None else mock_port
    taken = taken_port(settings.host, [port, mock_port])
    if taken is not None:
        print(
            f"gateway dev: port {taken} on {settings.host} is already in use; "
            "choose others with GATEWAY_PORT or --port / --mock-port",
            file=sys.stderr,
        )
        return 2
    directory = Path(data_dir)
    directory.mkdir(parents=True, exist_ok=True)
    dev = dev_settings(settings, port=port, mock_port=mock_port, data_dir=directory)
    # The dev key and secret are printed on purpose (banner), but never logged.
    configure_logging(log_format=dev.log_format, level=dev.log_level, secrets=dev.secret_values())
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C before dev's handlers were set
        asyncio.run(_serve_all(dev, mock_port))
    print("gateway dev: stopped", file=sys.stderr)
    return 0


__all__ = ["banner", "dev_settings", "inbox_routes", "run_dev"]
