"""The gateway: serve it (serve, dev, migrate, models, clients) or call it (submit, jobs).

``gateway serve``   production server from the environment (AIMLAPI_KEY required)
``gateway dev``     the gateway + the mock upstream + a webhook inbox, on 127.0.0.1
``gateway clients`` create | list | revoke ID | rotate-secret ID | show-secret ID, printing JSON
``gateway migrate`` bring the database schema up to date and exit
``gateway models``  every upstream video model, or one model's fields (``gateway models ID``)
``gateway submit``  submit a job to a gateway, optionally waiting with a progress display
``gateway jobs``    list | show ID | watch ID | redeliver ID, as a caller (``--json`` for scripts)

``submit`` and ``jobs`` call a gateway as a client does (see ``gateway.caller``); they need
none of the server's settings.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence

import msgspec
import uvicorn

from gateway import caller
from gateway.observability.logging import configure_logging
from gateway.settings import Settings, SettingsError, load_settings


def serve(settings: Settings) -> int:
    from gateway.app import serving_app

    if not settings.aimlapi_key:
        print("gateway serve: set AIMLAPI_KEY (the AI/ML API key) first", file=sys.stderr)
        return 2
    configure_logging(
        log_format=settings.log_format, level=settings.log_level, secrets=settings.secret_values()
    )
    app = serving_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_s) + 5,
    )
    return 0


async def _clients(settings: Settings, args: argparse.Namespace) -> object:
    from gateway.app import open_store
    from gateway.service.clients import (
        client_view,
        create_client,
        rotate_secret,
        signing_secrets,
    )

    store = await open_store(settings)
    try:
        now = time.time()
        if args.action == "create":
            return await create_client(store, args.name, now=now)
        if args.action == "list":
            return [client_view(c, now=now) for c in await store.clients.list()]
        if args.action == "revoke":
            client = await store.clients.revoke(args.client_id, now=now)
            return None if client is None else client_view(client, now=now)
        if args.action == "show-secret":
            # Read from the database (whoever runs this can read the secrets table anyway):
            # no API shows a secret after creation or rotation (see deploy/README.md).
            client = await store.clients.get(args.client_id)
            active = client is not None and client.revoked_at is None
            return signing_secrets(client, now=now) if client is not None and active else None
        return await rotate_secret(
            store, args.client_id, now=now, grace_s=settings.secret_rotation_grace_s
        )
    finally:
        await store.close()


async def _migrate(settings: Settings) -> None:
    from gateway.app import open_store

    store = await open_store(settings)
    await store.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the production server (settings from the environment)")
    dev = commands.add_parser("dev", help="gateway + mock upstream + webhook inbox on 127.0.0.1")
    dev.add_argument("--port", type=int, default=None, help="default: GATEWAY_PORT, else 8000")
    dev.add_argument("--mock-port", type=int, default=None, help="default: the port + 100")
    dev.add_argument(
        "--data-dir", default="gateway-dev", help="where the SQLite file and keys live"
    )
    commands.add_parser("migrate", help="bring the database schema up to date")
    models = commands.add_parser("models", help="list the video models, or show one's fields")
    models.add_argument("model_id", nargs="?", help="a model id, e.g. google/veo3")
    models.add_argument("--vendor", help="only this vendor's models")
    models.add_argument("--json", action="store_true", help="print what GET /v1/models returns")
    clients = commands.add_parser("clients", help="manage API clients (prints JSON)")
    actions = clients.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a client; prints its key and secret once")
    create.add_argument("--name", required=True)
    actions.add_parser("list", help="list clients")
    for name, description in (
        ("revoke", "revoke a client's key at once"),
        ("rotate-secret", "a new signing secret; the old one signs too for a grace period"),
        ("show-secret", "print a client's signing secret(s) without changing them"),
    ):
        action = actions.add_parser(name, help=description)
        action.add_argument("client_id")
    caller.add_commands(commands)
    return parser


def _models(args: argparse.Namespace) -> int:
    from gateway.catalogue import load_catalogue
    from gateway.domain.model_rules import Rulebook
    from gateway.service.models import describe_list, describe_model, model_list, model_view

    rulebook = Rulebook(load_catalogue())
    if args.model_id is None:
        listing = model_list(rulebook, args.vendor)
        text = _json(listing) if args.json else describe_list(listing)
    else:
        rules = rulebook.for_model(args.model_id)
        if rules is None:
            close = rulebook.closest(args.model_id)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            print(f"gateway models: no model {args.model_id!r}{hint}", file=sys.stderr)
            return 1
        view = model_view(rules.spec)
        text = _json(view) if args.json else describe_model(view)
    sys.stdout.write(text + "\n")
    return 0


def _json(value: object) -> str:
    return msgspec.json.format(msgspec.json.encode(value)).decode()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in caller.COMMANDS:
        return caller.run(args)
    if args.command == "models":
        return _models(args)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return serve(settings)
    if args.command == "dev":
        from gateway.dev import run_dev

        return run_dev(settings, port=args.port, mock_port=args.mock_port, data_dir=args.data_dir)
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        return 0
    result = asyncio.run(_clients(settings, args))
    if result is None:
        print(f"gateway clients: no such active client {args.client_id!r}", file=sys.stderr)
        return 1
    sys.stdout.write(_json(result) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
