"""Intake validation cost with every catalogue model compiled vs one model, in the same run.

Each model's rules are compiled once at start-up and found by a dict lookup, so checking a body
should cost the same whether the gateway knows one model or all of them. This measures the part
of intake that depends on the catalogue — parsing the body and checking it by the model's rules
(``parse_job_request`` + ``check_job``) — for the same body against a rulebook holding only
``alibaba/happyhorse-1-0`` (the baseline) and one holding every model, alternating the two in
rounds so that drift of a shared machine hits both alike. It also times the start-up compile.

    uv run python -m bench.models [--rounds 15] [--per-round 4000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import msgspec

from bench.common import print_table
from gateway.catalogue import load_catalogue
from gateway.domain.catalogue import Catalogue
from gateway.domain.generation import CheckedJob, check_job
from gateway.domain.model_rules import Rulebook
from gateway.http.parsing import parse_job_request

HAPPYHORSE = msgspec.json.encode(
    {
        "prompt": "Mona Lisa puts on glasses with her hands.",
        "image_url": "https://example.com/mona_lisa.jpg",
        "duration": "7",
        "resolution": "720p",
        "watermark": "false",
        "callback_url": "https://hooks.example.com/in",
        "metadata": {"order_id": "42"},
    }
)
KLING = msgspec.json.encode(
    {
        "model": "klingai/video-v3-pro-text-to-video",
        "prompt": "A red fox runs through snow at dawn.",
        "duration": "10",
        "aspect_ratio": "9:16",
        "generate_audio": "true",
        "cfg_scale": "0.5",
        "callback_url": "https://hooks.example.com/in",
    }
)


def per_check_us(rulebook: Rulebook, body: bytes, n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        job = check_job(
            rulebook, parse_job_request("application/json", body, rulebook), metadata_max_bytes=2048
        )
    elapsed = time.perf_counter() - started
    assert isinstance(job, CheckedJob), job
    return elapsed / n * 1e6


def timed(make: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        make()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--per-round", type=int, default=4000)
    args = parser.parse_args()

    catalogue = load_catalogue()
    one = Catalogue(models=[m for m in catalogue.models if m.id == "alibaba/happyhorse-1-0"])
    baseline, full = Rulebook(one), Rulebook(catalogue)
    per_check_us(full, KLING, 500)  # warm up
    per_check_us(baseline, HAPPYHORSE, 500)

    base_us, full_us, kling_us = [], [], []
    for _ in range(args.rounds):
        base_us.append(per_check_us(baseline, HAPPYHORSE, args.per_round))
        full_us.append(per_check_us(full, HAPPYHORSE, args.per_round))
        kling_us.append(per_check_us(full, KLING, args.per_round))
    base, same, kling = (statistics.median(x) for x in (base_us, full_us, kling_us))
    spread = (max(base_us) - min(base_us)) / base

    print_table(
        f"Intake validation: {len(full)} models vs one (median of {args.rounds} rounds)",
        ["rulebook", "body", "µs per parse + check", "vs one model"],
        [
            ["one model (baseline)", "happyhorse, Zapier strings", base, 1.0],
            [f"{len(full)} models", "happyhorse, Zapier strings", same, same / base],
            [f"{len(full)} models", "Kling v3 pro, Zapier strings", kling, kling / base],
        ],
    )
    print(f"baseline round-to-round spread: {spread:.0%} (noise)")
    print_table(
        "Start-up: compiling the rules (median of 5)",
        ["rulebook", "ms"],
        [
            ["one model", timed(lambda: Rulebook(one))],
            [f"{len(full)} models", timed(lambda: Rulebook(catalogue))],
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
