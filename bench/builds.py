"""Intake of this build against another checkout's, in the same run: what a change cost or bought.

Both gateways run as ``gateway serve`` does (API-only: ``GATEWAY_WORKER=false``), each on a
fresh SQLite file (WAL, synchronous=NORMAL) or a fresh PostgreSQL database, with the same body,
key and wrk load as ``bench.intake``; the other build is the checkout at ``--base`` (its
``gateway`` package put first on ``PYTHONPATH``; the dependencies are this environment's).
Rounds alternate the builds, so slow spells of a shared machine fall on both; the table gives
each round and the median ratio of this build to the base.

With ``--cpu`` it compares instead the CPU per request of intake and of a keyed GET with the app
called in-process (``bench.intake_cpu``): no load generator shares the cores, so it holds on a
busy machine where the rates do not.

``uv run python -m bench.builds --base /path/to/earlier/checkout [--head PATH] [--rounds 3]
[--seconds 8] [--postgres] [--cpu]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import PgDatabase, print_table, serve_gateway
from bench.intake import Measured, _gateway_env, _measure


def _one_round(
    label: str, tree: Path | None, folder: Path, options: argparse.Namespace, n: int
) -> Measured:
    pg = PgDatabase()
    if options.postgres:
        pg.name = f"{pg.name}_{label}_{n}"
        pg.url = pg.admin_url.rsplit("/", 1)[0] + f"/{pg.name}"
        url = asyncio.run(pg.create())
    else:
        url = f"sqlite:///{folder / f'{label}-{n}.db'}"
    # Never the working directory first on sys.path (it may hold this build's package).
    env = _gateway_env(url) | {"PYTHONSAFEPATH": "1"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    try:
        gateway = serve_gateway(env, log=folder / f"{label}.log")
        return _measure(gateway, folder, options)
    finally:
        if options.postgres:
            asyncio.run(pg.drop())


def _cpu_round(tree: Path | None) -> dict[str, float]:
    env = {**os.environ, "PYTHONSAFEPATH": "1"}
    if tree is not None:
        env["PYTHONPATH"] = str(tree)
    # The script by its path: the other checkout's ``bench`` package (first on the path) may
    # not have it.
    out = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("intake_cpu.py"))],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
        cwd=Path(__file__).resolve().parent.parent,
    ).stdout
    figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return figures


def _cpu(options: argparse.Namespace) -> None:
    rows: list[list[object]] = []
    ratios: list[float] = []
    for n in range(options.rounds):
        order = [("base", options.base), ("head", options.head)]
        if n % 2:
            order.reverse()
        measured = {label: _cpu_round(tree) for label, tree in order}
        ratio = measured["head"]["intake_us"] / measured["base"]["intake_us"]
        ratios.append(ratio)
        for label in ("base", "head"):
            m = measured[label]
            rows.append(
                [n + 1, label, m["intake_us"], m["me_us"], ratio if label == "head" else ""]
            )
    print_table(
        f"CPU per request in-process, {options.head or 'this build'} against {options.base}; "
        f"rounds alternated; median intake ratio head/base {statistics.median(ratios):.2f}",
        ["round", "build", "POST /v1/jobs µs", "GET /v1/me µs", "head/base intake"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="a checkout of the other build")
    parser.add_argument(
        "--head", type=Path, default=None, help="a checkout to stand for this build (default: it)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--one-seconds", type=int, default=3, help="the one-connection run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--cpu", action="store_true", help="CPU per request, in-process")
    options = parser.parse_args()
    for tree in (options.base, options.head):
        if tree is not None and not (tree / "gateway" / "__init__.py").exists():
            raise SystemExit(f"{tree} holds no gateway package")
    if options.cpu:
        _cpu(options)
        return
    rows: list[list[object]] = []
    ratios: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-builds-") as tmp:
        folder = Path(tmp)
        for n in range(options.rounds):
            order = [("base", options.base), ("head", options.head)]
            if n % 2:
                order.reverse()
            measured = {label: _one_round(label, tree, folder, options, n) for label, tree in order}
            base, head = measured["base"], measured["head"]
            ratio = head.many.requests_per_s / base.many.requests_per_s
            ratios.append(ratio)
            for label in ("base", "head"):
                m = measured[label]
                rows.append(
                    [
                        n + 1,
                        label,
                        m.many.requests_per_s,
                        m.many.p50_ms,
                        m.many.p99_ms,
                        m.one.p50_ms,
                        m.many.errors + m.one.errors,
                        ratio if label == "head" else "",
                    ]
                )
    database = "PostgreSQL" if options.postgres else "SQLite NORMAL"
    print_table(
        f"Intake, {options.head or 'this build'} against {options.base} ({database}); "
        f"{options.connections} connections for {options.seconds} s, rounds alternated; "
        f"median ratio head/base {statistics.median(ratios):.2f}",
        [
            "round",
            "build",
            f"req/s @{options.connections}",
            f"p50 ms @{options.connections}",
            f"p99 ms @{options.connections}",
            "p50 ms @1",
            "errors",
            "head/base req/s",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
