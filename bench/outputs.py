"""Keeping outputs (issue 26): how fast the copier copies, and how much memory copies take.

    uv run python -m bench.outputs [--mib 512] [--rounds 7]
    uv run python -m bench.outputs --breakdown        # where the copier's time and CPU go
    uv run python -m bench.outputs --rss [--copies 4] [--mib 1024]   # by hand, not in CI

Throughput: one file of ``--mib`` MiB, served by a loopback server in a child process that
generates the bytes on the fly (an MP4 header, then zeros, one reused 1 MiB block at a time), is
copied in alternated rounds by

- **plain**: ``httpx.AsyncClient.stream`` → ``file.write`` in the event loop (the baseline);
- **plain + fsync**: the same, flushed to disk at the end (what durability costs by itself);
- **copier**: ``Copier.copy_video`` into the filesystem store: the SSRF-guarded pinned transport,
  sniffing, SHA-256 and writes in the copier's threads, the PyAV probe, fsync and the atomic
  rename;

and the table gives MB/s, this process's CPU per GiB (its threads included), the event loop's
lag meanwhile, and the copier's ratio to plain (goal ≥ 0.8). ``--breakdown`` runs the copier's
parts alone, same rounds: reading through the guarded transport (bytes dropped), httpx's
default transport doing the same, and the guarded read into the staging writer (SHA-256, write,
flush), beside the whole copy.

Memory (``--rss``): ``--copies`` files of ``--mib`` MiB copied at once into the filesystem store;
resident memory is sampled every 20 ms and its peak compared with the idle process (the copier
built, one small copy done so every library is loaded; goal: within 50 MB).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import Process, free_port, print_table
from gateway.delivery.guard import AddressGuard
from gateway.domain.addresses import Allowlist
from gateway.outputs import Copier, KeptVideo, OutputStore, SourceClient
from gateway.outputs.staging import StagingWriter
from mock_upstream.files import SAMPLE_MP4

MIB = 1024 * 1024


# --- the byte server (a child process) -------------------------------------------------------


def _block() -> bytes:
    head = SAMPLE_MP4.read_bytes()[:32]  # the ftyp box: sniffed as an MP4
    return head + bytes(MIB - len(head))


async def _serve(port: int) -> None:
    block = _block()
    zeros = bytes(MIB)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            target = head.split(b" ", 2)[1].decode()
            size = int(target.strip("/")) if target.strip("/").isdigit() else 0
            writer.write(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
                + f"content-length: {size}\r\nconnection: close\r\n\r\n".encode()
            )
            sent = 0
            while sent < size:
                piece = (block if sent == 0 else zeros)[: size - sent]
                writer.write(piece)
                sent += len(piece)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def start_byte_server(log: Path) -> Process:
    port = free_port()
    return Process(
        ["-m", "bench.outputs", "--serve", str(port)], port=port, log=log, health_path="/0"
    )


# --- the copies -----------------------------------------------------------------------------


@dataclass
class Copied:
    seconds: float
    cpu_seconds: float
    size: int
    sha256: str | None = None
    lag_ms: list[float] | None = None  # the event loop's lateness meanwhile


class LoopLag:
    """How late a 5 ms sleep wakes while something else runs in the same event loop: what a
    poll or a delivery due meanwhile would suffer."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            self.samples.append((time.perf_counter() - started - 0.005) * 1000)

    async def __aenter__(self) -> LoopLag:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def plain_copy(url: str, path: Path, *, fsync: bool) -> Copied:
    started, cpu = time.perf_counter(), time.process_time()
    size = 0
    async with (
        LoopLag() as lag,
        httpx.AsyncClient(timeout=60) as http,
        http.stream("GET", url) as response,
    ):
        with path.open("wb") as sink:  # the baseline: plain blocking writes in the loop
            async for chunk in response.aiter_raw():
                sink.write(chunk)
                size += len(chunk)
            if fsync:
                sink.flush()
                os.fsync(sink.fileno())
    elapsed = time.perf_counter() - started
    return Copied(elapsed, time.process_time() - cpu, size, lag_ms=lag.samples)


def make_copier(root: Path, *, concurrency: int = 4) -> Copier:
    store = OutputStore.local(root)
    source = SourceClient(AddressGuard(Allowlist.parse("127.0.0.1/32")))
    return Copier(store, source, max_bytes=64 * 1024 * MIB, concurrency=concurrency)


async def copier_copy(copier: Copier, url: str, job_id: str) -> Copied:
    started, cpu = time.perf_counter(), time.process_time()
    async with LoopLag() as lag:
        result = await copier.copy_video(url, job_id=job_id)
    elapsed, used = time.perf_counter() - started, time.process_time() - cpu
    if not isinstance(result, KeptVideo):
        raise RuntimeError(f"the copy failed: {result}")
    await copier.store.delete(result.key)
    return Copied(elapsed, used, result.bytes, result.sha256, lag_ms=lag.samples)


async def guarded_read(source: SourceClient, url: str, path: Path | None) -> Copied:
    """The copier's download alone: into the staging writer, or (``path`` None) dropped."""
    started, cpu = time.perf_counter(), time.process_time()
    response, _ = await source.open(url)
    with ThreadPoolExecutor(max_workers=1) as executor:
        writer = None if path is None else StagingWriter(path, executor=executor)
        size = 0
        async with LoopLag() as lag:
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if writer is not None:
                    await writer.write(chunk)
            await response.aclose()
            if writer is not None:
                await writer.finish()
    elapsed = time.perf_counter() - started
    if path is not None:
        await asyncio.to_thread(path.unlink)
    return Copied(elapsed, time.process_time() - cpu, size, lag_ms=lag.samples)


async def httpx_read(url: str) -> Copied:
    started, cpu = time.perf_counter(), time.process_time()
    size = 0
    async with (
        LoopLag() as lag,
        httpx.AsyncClient(timeout=60) as http,
        http.stream("GET", url) as response,
    ):
        async for chunk in response.aiter_raw():
            size += len(chunk)
    elapsed = time.perf_counter() - started
    return Copied(elapsed, time.process_time() - cpu, size, lag_ms=lag.samples)


async def measure_throughput(
    server_url: str, directory: Path, *, mib: float, rounds: int, breakdown: bool = False
) -> dict[str, list[Copied]]:
    size = int(mib * MIB)
    url = f"{server_url}/{size}"
    copier = make_copier(directory / "store")
    variants: dict[str, Callable[[int], Awaitable[Copied]]] = {
        "plain": lambda n: plain_copy(url, directory / f"plain-{n}", fsync=False),
        "plain + fsync": lambda n: plain_copy(url, directory / f"fsync-{n}", fsync=True),
        "copier": lambda n: copier_copy(copier, url, f"job_{n}"),
    }
    if breakdown:
        variants = {
            "plain": variants["plain"],
            "httpx read, bytes dropped": lambda n: httpx_read(url),
            "guarded read, bytes dropped": lambda n: guarded_read(copier.source, url, None),
            "guarded read + staging writer": lambda n: guarded_read(
                copier.source, url, directory / f"staged-{n}"
            ),
            "copier": variants["copier"],
        }
    results: dict[str, list[Copied]] = {name: [] for name in variants}
    try:
        for n in range(rounds):
            for name, run in variants.items():
                results[name].append(await run(n))
                for leftover in (directory / f"plain-{n}", directory / f"fsync-{n}"):
                    leftover.unlink(missing_ok=True)
    finally:
        await copier.aclose()
    return results


def throughput_table(results: dict[str, list[Copied]], mib: float) -> None:
    """Medians; the ratio is the median of each round's ratio to that round's plain copy (a
    shared machine's load drifts between rounds, less within one)."""
    plain = results["plain"]
    rows = []
    for name, copies in results.items():
        rates = [mib * MIB / 1e6 / c.seconds for c in copies]
        cpu = statistics.median(c.cpu_seconds / (c.size / 2**30) for c in copies)
        ratio = statistics.median(p.seconds / c.seconds for p, c in zip(plain, copies, strict=True))
        lags = [lag for c in copies for lag in c.lag_ms or []]
        rows.append(
            [
                name,
                f"{statistics.median(rates):,.0f}",
                f"{min(rates):,.0f}–{max(rates):,.0f}",
                f"{cpu:.2f}",
                f"{quantile(lags, 0.99):.1f} / {max(lags, default=float('nan')):.1f}",
                f"{ratio:.2f}",
            ]
        )
    print_table(
        f"Copy throughput, {mib:g} MiB from a loopback server, {len(plain)} rounds alternated",
        [
            "copy",
            "MB/s (median)",
            "MB/s (range)",
            "CPU s per GiB",
            "loop lag p99 / max ms",
            "ratio vs plain",
        ],
        rows,
    )


# --- memory ---------------------------------------------------------------------------------


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler:
    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


async def measure_rss(server_url: str, directory: Path, *, mib: float, copies: int) -> None:
    copier = make_copier(directory / "store", concurrency=copies)
    try:
        await copier_copy(copier, f"{server_url}/{4 * MIB}", "job_warm")  # load everything
        idle = rss_mb()
        size = int(mib * MIB)
        started = time.perf_counter()
        with RssSampler() as sampler:
            async with LoopLag() as lag:
                done = await asyncio.gather(
                    *(
                        copier_copy(copier, f"{server_url}/{size}", f"job_{n}")
                        for n in range(copies)
                    )
                )
        elapsed = time.perf_counter() - started
    finally:
        await copier.aclose()
    assert all(c.size == size for c in done)
    print_table(
        f"Resident memory while copying {copies} × {mib:g} MiB at once into the filesystem store",
        ["idle MB", "peak MB", "peak − idle MB", "seconds", "MB/s in all", "loop lag p99 / max ms"],
        [
            [
                f"{idle:.0f}",
                f"{sampler.peak:.0f}",
                f"{sampler.peak - idle:.0f}",
                f"{elapsed:.1f}",
                f"{copies * size / 1e6 / elapsed:,.0f}",
                f"{quantile(lag.samples, 0.99):.1f} / {max(lag.samples):.1f}",
            ]
        ],
    )


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.outputs", description=__doc__)
    parser.add_argument("--mib", type=float, default=None, help="file size (512; --rss: 1024)")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--rss", action="store_true", help="peak memory of parallel copies")
    parser.add_argument("--breakdown", action="store_true", help="the copier's parts alone")
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--dir", default=None, help="where files are written (default: tmp)")
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        asyncio.run(_serve(args.serve))
        return 0
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="bench-outputs-") as tmp:
        directory = Path(tmp)
        server = start_byte_server(directory / "server.log")
        try:
            if args.rss:
                mib = args.mib or 1024
                asyncio.run(measure_rss(server.url, directory, mib=mib, copies=args.copies))
            else:
                mib = args.mib or 512
                results = asyncio.run(
                    measure_throughput(
                        server.url,
                        directory,
                        mib=mib,
                        rounds=args.rounds,
                        breakdown=args.breakdown,
                    )
                )
                throughput_table(results, mib)
        finally:
            server.stop()
    return 0


def sha256_of_served(size: int) -> str:
    """The SHA-256 of what the byte server sends for ``size`` bytes (for checking a copy)."""
    digest = hashlib.sha256()
    block, zeros = _block(), bytes(MIB)
    sent = 0
    while sent < size:
        piece = (block if sent == 0 else zeros)[: size - sent]
        digest.update(piece)
        sent += len(piece)
    return digest.hexdigest()


if __name__ == "__main__":
    sys.exit(main())
