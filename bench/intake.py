"""Intake: sustained ``POST /v1/jobs`` per second and latency at 64 connections, and latency at one
connection, the gateway against a bare Litestar endpoint that answers 202 at once (no middleware),
both served by uvicorn with one worker.

The gateway carries all of its own middleware: the access log (one JSON line per request, at its
default level INFO, written to the log file), the HTTP metrics, and tracing (the no-op tracer, as
when no OTLP endpoint is configured; the ``traceparent`` handling runs). Every 202 the gateway
gives is a committed row; the run counts the rows afterwards and prints them beside the 202s. The
worker is off (``GATEWAY_WORKER=false``, an API-only replica) so only intake is measured.
``uv run python -m bench.intake [--seconds 10] [--one-seconds 3] [--connections 64]
[--no-postgres]``
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
from pathlib import Path

from bench.common import (
    PgDatabase,
    Process,
    WrkResult,
    free_port,
    print_table,
    serve_gateway,
    wrk,
)
from gateway.testing import GatewayProcess

API_KEY = "gw_bench_intake_key_0123456789abcdef"
# An IP literal: the SSRF check needs no DNS (none here), and nothing is ever sent to it.
BODY = (
    '{"prompt":"a horse galloping on a beach at dawn","duration":"5","resolution":"720p",'
    '"callback_url":"https://93.184.215.14/hooks/video","metadata":{"order":"42"}}'
)


def _script(folder: Path) -> Path:
    script = folder / "post.lua"
    lua_body = BODY.replace("\\", "\\\\").replace("'", "\\'")
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = '{lua_body}'\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {API_KEY}"\n'
    )
    return script


def _gateway_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_UPSTREAM_URL": f"http://127.0.0.1:{free_port()}",  # never called: no worker
        "GATEWAY_CLIENT_API_KEY": API_KEY,
        "GATEWAY_RATE_LIMIT_PER_MINUTE": "100000000",
        "GATEWAY_MAX_IN_FLIGHT_PER_CLIENT": "100000000",
        "GATEWAY_WORKER": "false",  # intake only: an API-only replica
        "GATEWAY_LOG_LEVEL": "INFO",  # the access log writes its line, as in production
        **extra,
    }


class Measured:
    def __init__(self, many: WrkResult, one: WrkResult, cpu_cores: float) -> None:
        self.many = many  # at --connections
        self.one = one  # at one connection
        self.cpu_cores = cpu_cores  # server CPU during the --connections run


def _measure(
    server: Process | GatewayProcess, folder: Path, options: argparse.Namespace
) -> Measured:
    """Load ``server`` with wrk at one connection, then at ``--connections``; then stop it."""
    try:
        one = wrk(
            f"{server.url}/v1/jobs",
            _script(folder),
            connections=1,
            duration_s=options.one_seconds,
        )
        cpu_before = server.cpu_seconds()
        many = wrk(
            f"{server.url}/v1/jobs",
            _script(folder),
            connections=options.connections,
            duration_s=options.seconds,
        )
        cpu = server.cpu_seconds() - cpu_before
    finally:
        server.stop()
    return Measured(many, one, cpu / options.seconds)


def _sqlite_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        (count,) = conn.execute("SELECT count(*) FROM jobs").fetchone()
    return int(count)


async def _pg_rows(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM jobs"))
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--one-seconds", type=int, default=3, help="the one-connection run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        folder = Path(tmp)
        port = free_port()
        bare_app = Process(["-m", "bench.bare_app", str(port)], port=port, log=folder / "bare.log")
        bare = _measure(bare_app, folder, options)
        rows.append(_row("bare Litestar 202 (no middleware)", bare, bare, "-"))

        variants: list[tuple[str, str, dict[str, str]]] = []
        for sync in ("NORMAL", "FULL"):
            db = folder / f"gateway-{sync}.db"
            variants.append(
                (
                    f"gateway, SQLite WAL synchronous={sync}",
                    f"sqlite:///{db}",
                    {"GATEWAY_SQLITE_SYNCHRONOUS": sync},
                )
            )
        pg = PgDatabase()
        use_pg = not options.no_postgres and asyncio.run(PgDatabase.reachable())
        if use_pg:
            variants.append(("gateway, PostgreSQL", asyncio.run(pg.create()), {}))
        try:
            for label, url, extra in variants:
                gateway = serve_gateway(_gateway_env(url, **extra), log=folder / "gateway.log")
                measured = _measure(gateway, folder, options)
                stored = (
                    asyncio.run(_pg_rows(url))
                    if url.startswith("postgresql")
                    else _sqlite_rows(Path(url.removeprefix("sqlite:///")))
                )
                accepted = measured.one.ok + measured.many.ok
                if stored < accepted:
                    raise SystemExit(f"{label}: {accepted} answers 202 but {stored} rows")
                rows.append(_row(label, measured, bare, f"{accepted} / {stored}"))
        finally:
            if use_pg:
                asyncio.run(pg.drop())
    print_table(
        f"Intake: POST /v1/jobs, wrk with 1 thread: {options.connections} connections for "
        f"{options.seconds} s, after 1 connection for {options.one_seconds} s",
        [
            "server",
            f"req/s @{options.connections}",
            f"p50 ms @{options.connections}",
            f"p99 ms @{options.connections}",
            "p50 ms @1",
            "req/s @1",
            "errors",
            "202s / jobs committed",
            "ratio vs bare",
            "server CPU (cores)",
        ],
        rows,
    )


def _row(label: str, measured: Measured, bare: Measured, counted: str) -> list[object]:
    return [
        label,
        measured.many.requests_per_s,
        measured.many.p50_ms,
        measured.many.p99_ms,
        measured.one.p50_ms,
        measured.one.requests_per_s,
        measured.many.errors + measured.one.errors,
        counted,
        measured.many.requests_per_s / bare.many.requests_per_s,
        measured.cpu_cores,
    ]


if __name__ == "__main__":
    main()
