"""Real gateway processes for crash, shutdown and replica tests and for the benchmarks
(loopback only, bounded)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import httpx

from gateway.testing.waiting import wait_for
from mock_upstream.testing import free_port


class GatewayProcess:
    """``gateway serve`` in a child process with the given settings (environment variables)."""

    def __init__(self, env: dict[str, str], *, log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_PORT": str(self.port),
            "GATEWAY_LOG_FORMAT": "json",
            # Videos are not kept unless the test says so: the default store would be a
            # directory in the working directory (refused on PostgreSQL unless shared).
            "GATEWAY_OUTPUTS": "link",
            **env,
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, *, ready_timeout_s: float = 90.0) -> None:
        """Start and wait until healthy (bounded; a loaded CI machine imports slowly)."""
        self.starts += 1
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve"],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        log.close()
        wait_for(self._healthy, timeout_s=ready_timeout_s, what=f"gateway on {self.url}")

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(
                f"the gateway exited with {self.process.returncode}; see {self.log_path}"
            )
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM and wait: the graceful path."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
                raise
        return self.process.returncode

    def cpu_seconds(self) -> float:
        """CPU time the process has used so far (user and system), from /proc."""
        assert self.process is not None
        stat = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mb(self) -> float:
        """The process's peak resident memory so far (VmHWM), in MB."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def api_and_worker(
    env: dict[str, str], log_dir: Path, stack: ExitStack
) -> tuple[GatewayProcess, GatewayProcess]:
    """Two replicas on one database: ``api`` (no worker: it only accepts and answers) and
    ``worker`` (does all the work); started, and killed when ``stack`` closes."""
    api_only = GatewayProcess(
        {**env, "GATEWAY_REPLICA_ID": "api", "GATEWAY_WORKER": "false"},
        log_path=log_dir / "api.log",
    )
    worker = GatewayProcess(
        {**env, "GATEWAY_REPLICA_ID": "worker"}, log_path=log_dir / "worker.log"
    )
    stack.callback(api_only.kill)
    stack.callback(worker.kill)
    api_only.start()
    worker.start()
    return api_only, worker
