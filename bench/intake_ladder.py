"""The intake ladder: where the time of one ``POST /v1/jobs`` goes, rung by rung, against the bare
Litestar endpoint of ``bench.intake``.

Every rung is served by one gateway process (``bench.intake_ladder_app``: the gateway as
``gateway serve`` builds it, on SQLite ``synchronous=NORMAL``, access log at INFO) and loaded
with wrk at 64 connections with the same body and key as ``bench.intake``:

1. ``/bench/answer``: the gateway's middleware and the client-key dependency, then a fixed 202;
2. ``/bench/parse``: + read and parse the body;
3. ``/bench/check``: + the model's rules and the callback URL's SSRF check;
4. ``/v1/jobs``: the real intake (+ idempotency, limits, the group commit, the job's view).

Rounds alternate the rungs so a noisy minute spreads over all of them; the table gives each
rung's median req/s, the server's CPU per request (µs, all threads), the ratio against the bare
endpoint, and what the rung adds to the one before. The last rung's 202s are counted against
committed rows, as in ``bench.intake``.
``uv run python -m bench.intake_ladder [--seconds 8] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.common import Process, free_port, print_table, wrk
from bench.intake import _gateway_env, _script, _sqlite_rows

RUNGS = [
    ("bare Litestar 202 (no middleware)", "/v1/jobs"),
    ("gateway: middleware + key, fixed 202", "/bench/answer"),
    ("+ read and parse the body", "/bench/parse"),
    ("+ model rules and SSRF check", "/bench/check"),
    ("+ store (group commit) and view: POST /v1/jobs", "/v1/jobs"),
]


class Reading:
    def __init__(self) -> None:
        self.rates: list[float] = []
        self.cpu_us: list[float] = []
        self.accepted = 0
        self.errors = 0

    def add(self, rate: float, cpu_us: float, ok: int, errors: int) -> None:
        self.rates.append(rate)
        self.cpu_us.append(cpu_us)
        self.accepted += ok
        self.errors += errors


def _load(server: Process, path: str, folder: Path, seconds: int, reading: Reading) -> None:
    cpu_before = server.cpu_seconds()
    result = wrk(f"{server.url}{path}", _script(folder), connections=64, duration_s=seconds)
    cpu = server.cpu_seconds() - cpu_before
    cpu_us = 1e6 * cpu / max(1, result.requests)
    reading.add(result.requests_per_s, cpu_us, result.ok, result.errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    readings = [Reading() for _ in RUNGS]
    with tempfile.TemporaryDirectory(prefix="bench-ladder-") as tmp:
        folder = Path(tmp)
        database = folder / "gateway.db"
        bare_port, gateway_port = free_port(), free_port()
        bare = Process(
            ["-m", "bench.bare_app", str(bare_port)], port=bare_port, log=folder / "bare.log"
        )
        env = _gateway_env(f"sqlite:///{database}", GATEWAY_SQLITE_SYNCHRONOUS="NORMAL")
        env |= {"GATEWAY_HOST": "127.0.0.1", "GATEWAY_PORT": str(gateway_port)}
        env["AIMLAPI_KEY"] = "bench-upstream-key"
        gateway = Process(
            ["-m", "bench.intake_ladder_app"], port=gateway_port, log=folder / "g.log", env=env
        )
        try:
            for _ in range(options.rounds):
                for (_, path), reading in zip(RUNGS, readings, strict=True):
                    server = bare if reading is readings[0] else gateway
                    _load(server, path, folder, options.seconds, reading)
        finally:
            bare.stop()
            gateway.stop()
        stored = _sqlite_rows(database)
    if stored < readings[-1].accepted:
        raise SystemExit(f"{readings[-1].accepted} answers 202 but {stored} rows")
    base_rate = statistics.median(readings[0].rates)
    rows: list[list[object]] = []
    before_us: float | None = None
    for (label, _), reading in zip(RUNGS, readings, strict=True):
        rate = statistics.median(reading.rates)
        cpu_us = statistics.median(reading.cpu_us)
        step = "-" if before_us is None else f"{cpu_us - before_us:+.0f}"
        rows.append(
            [
                label,
                rate,
                f"{min(reading.rates):,.0f}–{max(reading.rates):,.0f}",
                cpu_us,
                step,
                rate / base_rate,
                reading.errors,
            ]
        )
        before_us = cpu_us
    rows[-1][0] = f"{rows[-1][0]} ({readings[-1].accepted} 202s / {stored} rows)"
    print_table(
        f"Intake ladder: wrk, 64 connections, {options.seconds} s per rung, "
        f"{options.rounds} rounds alternated",
        [
            "rung",
            "req/s (median)",
            "req/s range",
            "server CPU µs/req",
            "µs added",
            "ratio vs bare",
            "errors",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
