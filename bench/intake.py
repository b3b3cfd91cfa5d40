"""Intake: sustained ``POST /v1/jobs`` per second and latency at 64 connections, the gateway
against a bare Litestar endpoint that answers 202 at once, both served by uvicorn with one worker.

Every 202 the gateway gives is a committed row; the run counts the rows afterwards and prints them
beside the 202s. The worker is off (``GATEWAY_WORKER=false``, an API-only replica) so only intake is
measured. ``uv run python -m bench.intake [--seconds 10] [--connections 64] [--no-postgres]``
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
        **extra,
    }


def _measure(server: Process, folder: Path, options: argparse.Namespace) -> tuple[WrkResult, float]:
    """Load ``server`` with wrk, then stop it."""
    try:
        cpu_before = server.cpu_seconds()
        result = wrk(
            f"{server.url}/v1/jobs",
            _script(folder),
            connections=options.connections,
            duration_s=options.seconds,
        )
        cpu = server.cpu_seconds() - cpu_before
    finally:
        server.stop()
    return result, cpu / options.seconds


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
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--no-postgres", action="store_true")
    options = parser.parse_args()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        folder = Path(tmp)
        port = free_port()
        bare_app = Process(["-m", "bench.bare_app", str(port)], port=port, log=folder / "bare.log")
        bare, bare_cpu = _measure(bare_app, folder, options)
        rows.append(
            [
                "bare Litestar 202",
                bare.requests_per_s,
                bare.p50_ms,
                bare.p99_ms,
                bare.errors,
                "-",
                1.0,
                bare_cpu,
            ]
        )

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
                result, cpu = _measure(gateway, folder, options)
                stored = (
                    asyncio.run(_pg_rows(url))
                    if url.startswith("postgresql")
                    else _sqlite_rows(Path(url.removeprefix("sqlite:///")))
                )
                rows.append(
                    [
                        label,
                        result.requests_per_s,
                        result.p50_ms,
                        result.p99_ms,
                        result.errors,
                        stored,
                        result.requests_per_s / bare.requests_per_s,
                        cpu,
                    ]
                )
        finally:
            if use_pg:
                asyncio.run(pg.drop())
    print_table(
        f"Intake: POST /v1/jobs, {options.connections} connections, {options.seconds} s, "
        "wrk with 1 thread",
        [
            "server",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "jobs committed",
            "ratio vs bare",
            "server CPU (cores)",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
