"""Shared by the benchmarks: loopback processes, wrk, /proc readings, and one table format."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from gateway.testing import GatewayProcess
from mock_upstream.testing import free_port

__all__ = ["Inbox", "Process", "free_port", "machine", "print_table", "serve_gateway", "wrk"]

ROOT = Path(__file__).resolve().parent.parent


class Inbox:
    """A loopback webhook receiver (ASGI) noting when each job's first webhook arrived (Unix
    time) and its ``data``; answers 204."""

    def __init__(self) -> None:
        self.arrivals: dict[str, tuple[float, dict[str, Any]]] = {}
        self.lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["method"] == "POST":
            data = json.loads(body)["data"]
            with self.lock:
                self.arrivals.setdefault(data["id"], (time.time(), data))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


def machine() -> str:
    cores = os.cpu_count() or 0
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    python = platform.python_version()
    return f"{platform.machine()}, {cores} cores, {memory_gb:.0f} GiB, Python {python}"


class Process:
    """A child process serving HTTP on 127.0.0.1:``port``, with readings of its CPU and peak
    memory. Ready once ``health_path`` answers 200."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        port: int,
        log: Path,
        env: dict[str, str] | None = None,
        health_path: str = "/healthz",
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                [sys.executable, *args],
                env={**os.environ, **(env or {})},
                stdout=out,
                stderr=out,
                cwd=ROOT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{args} exited with {self.popen.returncode}; see {log}")
            try:
                if httpx.get(self.url + health_path, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)  # waiting for a child process to listen; not a test
        self.stop()
        raise RuntimeError(f"{args} did not become healthy within 60 s; see {log}")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


def serve_gateway(env: dict[str, str], *, log: Path) -> GatewayProcess:
    """``gateway serve`` on a free loopback port, quiet, with ``env`` on top (started).

    ``BENCH_GATEWAY_TREE=/path/to/checkout`` serves that checkout's gateway package instead of
    this one (same dependencies): any benchmark that serves a gateway then measures another
    build, to put beside this build's figures of the same hour."""
    base = {"AIMLAPI_KEY": "bench-upstream-key", "GATEWAY_LOG_LEVEL": "WARNING"}
    tree = os.environ.get("BENCH_GATEWAY_TREE")
    if tree:
        base |= {"PYTHONPATH": tree, "PYTHONSAFEPATH": "1"}
    gateway = GatewayProcess({**base, **env}, log_path=log)
    gateway.start(ready_timeout_s=60)
    return gateway


class WrkResult:
    def __init__(
        self,
        requests_per_s: float,
        p50_ms: float,
        p99_ms: float,
        errors: int,
        *,
        requests: int = 0,
        non_2xx: int = 0,
    ) -> None:
        self.requests_per_s = requests_per_s
        self.p50_ms = p50_ms
        self.p99_ms = p99_ms
        self.errors = errors  # non-2xx/3xx answers plus socket errors
        self.requests = requests  # completed responses, whatever their status
        self.non_2xx = non_2xx

    @property
    def ok(self) -> int:
        """Responses with a 2xx or 3xx status."""
        return self.requests - self.non_2xx


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(
    url: str, script: Path, *, connections: int, duration_s: int, threads: int = 1
) -> WrkResult:
    """Run wrk (from the system packages) and read its summary."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration_s}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration_s + 60,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    # The latency distribution's own lines ("     50%   17.57ms"): a thread-stats line ending in
    # "69.50%" must not match (it did, now and then, and the run died parsing its next word).
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    total = re.search(r"(\d+) requests in", output)
    errors = int(bad.group(1)) if bad else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return WrkResult(
        rps,
        p50,
        p99,
        errors,
        requests=int(total.group(1)) if total else 0,
        non_2xx=int(bad.group(1)) if bad else 0,
    )


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table, ready to paste into bench/README.md."""
    print(f"\n### {title}\n\n_{machine()}_\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(_cell(value) for value in row) + " |")
    print()


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


class PgDatabase:
    """A throw-away PostgreSQL database for one benchmark run (created and dropped here)."""

    def __init__(self, admin_url: str = PG_ADMIN_URL) -> None:
        self.admin_url = admin_url
        self.name = f"gw_bench_{os.getpid()}"
        self.url = admin_url.rsplit("/", 1)[0] + f"/{self.name}"

    async def _admin(self, statement: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.admin_url, timeout=3)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    async def create(self) -> str:
        await self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        await self._admin(f'CREATE DATABASE "{self.name}"')
        return self.url

    async def drop(self) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    @staticmethod
    async def reachable(admin_url: str = PG_ADMIN_URL) -> bool:
        import asyncpg

        try:
            conn = await asyncpg.connect(admin_url, timeout=2)
        except (OSError, asyncpg.PostgresError):
            return False
        await conn.close()
        return True
