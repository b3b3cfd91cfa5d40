"""``gateway submit`` and ``gateway jobs``: the API for people, built on ``gateway_client``.

These commands are a caller of a gateway (any gateway, local or remote), not the server: they
read ``--url``/``GATEWAY_URL`` and ``--key``/``GATEWAY_KEY`` (through
:func:`gateway.settings.load_caller_settings`), never the server's settings. Against
``gateway dev`` neither is needed: dev keeps its URL and client key in
``gateway-dev/credentials.json``; the URL is used when none is given, and the key when the URL
is the same.

Human output by default (a live progress display while waiting); ``--json`` for scripts.
Exit status: 0 done (a waited-for job completed), 1 the job failed, the gateway refused or
nothing answered, 2 bad arguments.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rich.console import Console

COMMANDS = frozenset({"submit", "jobs"})
DEV_DIR = "gateway-dev"  # ``gateway dev --data-dir``'s default


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        help="the gateway (default: $GATEWAY_URL, else gateway dev's, else http://127.0.0.1:8000)",
    )
    common.add_argument(
        "--key", help="your client key (default: $GATEWAY_KEY, else gateway dev's own key)"
    )
    common.add_argument(
        "--dev-dir", default=DEV_DIR, help="where gateway dev keeps its key (default: %(default)s)"
    )
    common.add_argument("--json", action="store_true", help="print JSON for scripts")
    return common


class Subcommands(Protocol):
    """What ``ArgumentParser.add_subparsers()`` returns, as far as this module uses it."""

    def add_parser(self, name: str, **options: Any) -> argparse.ArgumentParser: ...


def add_commands(commands: Subcommands) -> None:
    common = _common()
    submit = commands.add_parser(
        "submit", parents=[common], help="submit a video job (optionally wait, with progress)"
    )
    submit.add_argument("--model", help="the model (default: the gateway's default model)")
    submit.add_argument("--prompt")
    submit.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any model field; VALUE is read as JSON when it parses (5, true, [..]), else text",
    )
    submit.add_argument("--callback-url", help="where to POST the signed webhook")
    submit.add_argument(
        "--metadata", action="append", default=[], metavar="KEY=VALUE", help="echoed in webhooks"
    )
    submit.add_argument("--wait", action="store_true", help="wait for the end, showing progress")
    submit.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait at most")

    jobs = commands.add_parser("jobs", help="list, show, watch or redeliver your jobs")
    actions = jobs.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common], help="your jobs, newest first")
    statuses = [
        "accepted",
        "submitting",
        "queued",
        "generating",
        "keeping",
        "completed",
        "failed",
    ]
    listing.add_argument("--status", choices=statuses)
    listing.add_argument("--limit", type=int, default=20, help="how many (default: %(default)s)")
    listing.add_argument("--all", action="store_true", help="every job, page after page")
    for name, description in (
        ("show", "one job and its webhook deliveries"),
        ("watch", "follow a job to its end, showing progress"),
        ("redeliver", "send a finished job's webhooks again"),
        ("download", "save a finished job's video (the kept copy, its SHA-256 checked)"),
    ):
        action = actions.add_parser(name, parents=[common], help=description)
        action.add_argument("job_id")
        if name == "watch":
            action.add_argument("--timeout", type=float, default=1800.0)
        if name == "download":
            action.add_argument(
                "--output", "-o", help="where to save it (default: JOB_ID.EXT, here)"
            )


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    """Run one caller command (imported only now: ``gateway serve`` never loads rich)."""
    from gateway.caller.commands import run_command

    return run_command(args, console)
