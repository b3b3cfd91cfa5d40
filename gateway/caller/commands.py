"""The caller commands behind ``gateway submit`` and ``gateway jobs`` (their arguments are in
:mod:`gateway.caller.cli`): each one calls the gateway through ``gateway_client`` and prints for
people or, with ``--json``, for scripts."""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from rich.console import Console

from gateway.caller.display import follow, job_details, jobs_table, outcome
from gateway.settings import DEFAULT_GATEWAY_URL, CallerSettings, load_caller_settings
from gateway_client import Client, ConnectionFailed, GatewayError, Job, RetryPolicy, Unauthorized


class UsageError(Exception):
    """An argument the command cannot use (exit status 2)."""


def _pairs(items: list[str], *, as_json: bool) -> dict[str, Any]:
    pairs: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise UsageError(f"expected KEY=VALUE, got {item!r}")
        value: Any = raw
        if as_json:
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
        pairs[name] = value
    return pairs


def dev_credentials(dev_dir: Path) -> tuple[str, str | None] | None:
    """The URL ``gateway dev`` serves from ``dev_dir`` and its client key, if it left them."""
    path = dev_dir / "credentials.json"
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    url = stored.get("url") if isinstance(stored, dict) else None
    if not isinstance(url, str) or not url:
        return None
    key = stored.get("client_api_key")
    return url, key if isinstance(key, str) and key else None


def dev_key(url: str, dev_dir: Path) -> str | None:
    """``gateway dev``'s client key, if ``url`` is the gateway dev serves from ``dev_dir``."""
    saved = dev_credentials(dev_dir)
    if saved is None or saved[0].rstrip("/") != url.rstrip("/"):
        return None
    return saved[1]


def gateway_url(args: argparse.Namespace, caller: CallerSettings) -> tuple[str, str]:
    """The gateway to call and where that choice came from: ``--url``, else ``GATEWAY_URL``,
    else the URL ``gateway dev`` saved in ``--dev-dir`` (it may serve on any port), else the
    default."""
    if args.url:
        return args.url, "--url"
    if caller.url:
        return caller.url, "GATEWAY_URL"
    saved = dev_credentials(Path(args.dev_dir))
    if saved is not None:
        return saved[0], f"gateway dev's, from {Path(args.dev_dir) / 'credentials.json'}"
    return DEFAULT_GATEWAY_URL, "the default"


@dataclass(frozen=True)
class _RetriesOnceAnswered(RetryPolicy):
    """The client's retries, except that a refused connection is final until the gateway has
    answered once: a person learns at once that nothing listens at the URL (not after the
    backoff), and a watch still outlives the gateway restarting."""

    answered: threading.Event = field(default_factory=threading.Event)

    def after_response(self, response: httpx.Response, attempt: int) -> float | None:
        self.answered.set()
        return super().after_response(response, attempt)

    def after_error(
        self, error: httpx.TransportError, attempt: int, *, idempotent: bool
    ) -> float | None:
        if isinstance(error, httpx.ConnectError) and not self.answered.is_set():
            return None
        return super().after_error(error, attempt, idempotent=idempotent)


def caller_retries() -> _RetriesOnceAnswered:
    """The retry policy of the CLI's client (see ``_RetriesOnceAnswered``)."""
    return _RetriesOnceAnswered()


@dataclass(frozen=True)
class Connection:
    """The client, the URL it calls, where that URL came from, and its retries."""

    client: Client
    url: str
    source: str
    retries: _RetriesOnceAnswered


def connect(args: argparse.Namespace) -> Connection:
    caller = load_caller_settings()
    url, source = gateway_url(args, caller)
    key = args.key or caller.key or dev_key(url, Path(args.dev_dir))
    retries = caller_retries()
    try:
        return Connection(Client(url, key or None, retries=retries), url, source, retries)
    except ValueError as exc:  # a key or URL no request can carry
        raise UsageError(str(exc)) from None


class _Output:
    def __init__(self, console: Console, *, as_json: bool) -> None:
        self.console = console
        self.as_json = as_json

    def json(self, value: Any, *, indent: int | None = 2) -> None:
        self.console.file.write(json.dumps(value, indent=indent) + "\n")
        self.console.file.flush()


def _follow(client: Client, out: _Output, job_id: str, timeout_s: float) -> int:
    states: Iterable[Job] = client.watch(job_id, timeout_s=timeout_s)
    job: Job | None = None
    if out.as_json:  # one line per state seen, the final one last
        for job in states:
            out.json(job.raw, indent=None)
    else:
        for job in follow(out.console, states):  # noqa: B007 (the last one is the outcome)
            pass
    assert job is not None
    if not out.as_json:
        out.console.print(outcome(job), highlight=False, soft_wrap=True)
    return 0 if job.status == "completed" else 1


def _submit(client: Client, out: _Output, args: argparse.Namespace) -> int:
    fields = _pairs(args.param, as_json=True)
    if args.prompt is not None:
        fields["prompt"] = args.prompt
    job = client.create_job(
        args.model,
        callback_url=args.callback_url,
        metadata=_pairs(args.metadata, as_json=False) or None,
        fields=fields,
    )
    if args.wait:
        if not out.as_json:
            out.console.print(f"accepted {job.id} ({job.model})", highlight=False)
        return _follow(client, out, job.id, args.timeout)
    if out.as_json:
        out.json(job.raw)
    else:
        out.console.print(
            f"accepted {job.id} ({job.model}); follow it with: gateway jobs watch {job.id}",
            highlight=False,
            soft_wrap=True,
        )
    return 0


def _list(client: Client, out: _Output, args: argparse.Namespace) -> int:
    found = client.iter_jobs(
        status=args.status, page_size=200 if args.all else min(args.limit, 200)
    )
    jobs = list(found if args.all else itertools.islice(found, max(0, args.limit)))
    if out.as_json:
        out.json([job.raw for job in jobs])
    else:
        out.console.print(jobs_table(jobs))
    return 0


def _show(client: Client, out: _Output, args: argparse.Namespace) -> int:
    job, log = client.get_job(args.job_id), client.deliveries(args.job_id)
    if out.as_json:
        out.json({"job": job.raw, "deliveries": log.raw})
    else:
        out.console.print(job_details(job, log))
    return 0


def _redeliver(client: Client, out: _Output, args: argparse.Namespace) -> int:
    log = client.redeliver(args.job_id)
    if out.as_json:
        out.json(log.raw)
    else:
        for event in log.events:
            out.console.print(f"{event.event_type} {event.event_id}: {event.state}")
    return 0


def _download(client: Client, out: _Output, args: argparse.Namespace) -> int:
    """Stream the job's video (its kept copy when the gateway kept one: a signed link, no key
    sent) into a ``.part`` file, check its SHA-256 against the job's, then rename it."""
    job = client.get_job(args.job_id).raw
    video = job.get("video") or {}
    url = video.get("url") or job.get("video_url")
    if not url:
        state = video.get("state") or job.get("status")
        raise UsageError(f"job {args.job_id} has no video to download ({state})")
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    suffix = Path(name).suffix or ".mp4"
    target = Path(args.output) if args.output else Path(f"{args.job_id}{suffix}")
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    size = 0
    try:
        with (
            httpx.stream("GET", url, follow_redirects=True, timeout=60) as response,
            partial.open("wb") as file,
        ):
            if response.status_code != 200:
                raise UsageError(f"the video answered {response.status_code} ({url.split('?')[0]})")
            for chunk in response.iter_bytes():
                file.write(chunk)
                digest.update(chunk)
                size += len(chunk)
    except httpx.HTTPError as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(f"the download failed: {exc}") from None
    except UsageError:
        partial.unlink(missing_ok=True)
        raise
    expected = video.get("sha256")
    if expected and expected != digest.hexdigest():
        partial.unlink(missing_ok=True)
        raise UsageError(f"the download's SHA-256 is not the kept video's ({expected})")
    partial.replace(target)
    if out.as_json:
        out.json({"path": str(target), "bytes": size, "sha256": digest.hexdigest()})
    else:
        kept = "kept copy" if video.get("kept") else "upstream's link"
        out.console.print(f"{target} ({size} bytes, {kept}, sha256 {digest.hexdigest()})")
    return 0


def _action(args: argparse.Namespace) -> Callable[[Client, _Output, argparse.Namespace], int]:
    if args.command == "submit":
        return _submit
    if args.action == "watch":
        return lambda client, out, a: _follow(client, out, a.job_id, a.timeout)
    actions = {"list": _list, "show": _show, "redeliver": _redeliver, "download": _download}
    return actions[args.action]


def run_command(args: argparse.Namespace, console: Console | None = None) -> int:
    """Run one caller command; errors become one line on stderr and a non-zero status."""
    out = _Output(console or Console(), as_json=args.json)
    try:
        connection = connect(args)
        with connection.client as client:
            return _action(args)(client, out, args)
    except ConnectionFailed as exc:
        if connection.retries.answered.is_set():  # it answered before: the error says what broke
            print(f"gateway {args.command}: {exc}", file=sys.stderr)
        else:
            print(
                f"gateway {args.command}: nothing answers at {connection.url} "
                f"({connection.source}): {exc}; choose another with --url URL or GATEWAY_URL "
                "(is the gateway running?)",
                file=sys.stderr,
            )
        return 1
    except KeyboardInterrupt:  # only the watching stops: the job runs on in the gateway
        print(f"\ngateway {args.command}: stopped watching", file=sys.stderr)
        return 130
    except UsageError as exc:
        print(f"gateway {args.command}: {exc}", file=sys.stderr)
        return 2
    except Unauthorized as exc:
        hint = f"pass --key or set GATEWAY_KEY (for gateway dev: run where {args.dev_dir}/ is)"
        print(f"gateway {args.command}: {exc.message}: {hint}", file=sys.stderr)
        return 1
    except GatewayError as exc:  # its text: status, error code and message
        print(f"gateway {args.command}: {exc}", file=sys.stderr)
        return 1
