"""``mock-upstream``: run the mock of the AI/ML API's video endpoint on 127.0.0.1."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn

from mock_upstream.app import create_app
from mock_upstream.config import MockConfig


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mock-upstream", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--timings", choices=["realistic", "fast"], default="realistic")
    parser.add_argument("--strict", action="store_true", help="refuse contract deviations (400)")
    parser.add_argument("--key", default=None, help="the only API key accepted (default: any)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", default=None, help="the default scenario for every job")
    parser.add_argument(
        "--video-ttl",
        type=float,
        default=3600.0,
        metavar="SECONDS",
        help="video links expire this long after completion (403 after; 0: never expire)",
    )
    args = parser.parse_args(argv)
    make = MockConfig.fast if args.timings == "fast" else MockConfig.realistic
    config = make(
        strict=args.strict,
        expected_key=args.key,
        seed=args.seed,
        default_scenario=args.scenario,
        video_ttl_s=args.video_ttl if args.video_ttl > 0 else None,
    )
    print(
        f"mock upstream on http://{args.host}:{args.port} ({args.timings} timings"
        f"{', strict' if args.strict else ''})",
        flush=True,
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
