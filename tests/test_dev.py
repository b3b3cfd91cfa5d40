"""``gateway dev`` honours the settings ``gateway serve`` reads, and checks its ports first."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gateway.cli import main
from gateway.dev import dev_settings
from gateway.settings import load_settings
from gateway.testing.waiting import wait_for
from mock_upstream.testing import free_port


def test_settings_from_the_environment_win_over_dev_conveniences(tmp_path: Path) -> None:
    """What the environment sets is kept; dev fills in only what was left at its default."""
    settings = load_settings(
        {"GATEWAY_PORT": "9123", "GATEWAY_POLL_INTERVAL_S": "3", "GATEWAY_LOG_FORMAT": "json"}
    )
    dev = dev_settings(settings, port=settings.port, mock_port=9223, data_dir=tmp_path)
    assert (9123, 3.0, "json", "fixed", "http://127.0.0.1:9223") == (
        dev.port,
        dev.poll_interval_s,
        dev.log_format,
        dev.poll_policy,
        dev.upstream_url,
    )


def test_a_taken_port_fails_with_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With GATEWAY_PORT already bound, ``gateway dev`` exits 2 printing one line, no banner
    and no traceback."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        monkeypatch.setenv("GATEWAY_PORT", str(port))
        code = main(["dev", "--mock-port", str(free_port()), "--data-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert 2 == code
    assert "" == out
    assert [f"gateway dev: port {port} on 127.0.0.1 is already in use"] == [
        line.split(";")[0] for line in err.splitlines()
    ]


def test_ctrl_c_stops_dev_cleanly_in_one_line(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT) on a running ``gateway dev`` with a job through it: both servers shut
    down, exit status 0, and stderr ends with one line saying so — no traceback
    (``CancelledError``, ``KeyboardInterrupt``), however the two servers' shutdowns interleave."""
    port, mock_port = free_port(), free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")},
        "GATEWAY_HOST": "127.0.0.1",
    }
    process = subprocess.Popen(  # noqa: S603 (our own interpreter, a fixed argument list)
        [
            sys.executable,
            "-m",
            "gateway.cli",
            "dev",
            "--port",
            str(port),
            "--mock-port",
            str(mock_port),
            "--data-dir",
            str(tmp_path / "gateway-dev"),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"gateway dev exited with {process.returncode}")
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout_s=90, what="gateway dev")
        key = json.loads((tmp_path / "gateway-dev" / "credentials.json").read_text())[
            "client_api_key"
        ]
        headers = {"Authorization": f"Bearer {key}"}
        job = httpx.post(
            f"{base}/v1/jobs",
            headers=headers,
            json={"prompt": "A horse", "callback_url": f"{base}/dev/inbox"},
            timeout=10,
        ).json()
        wait_for(
            lambda: (
                httpx.get(f"{base}/v1/jobs/{job['id']}", headers=headers, timeout=5).json()[
                    "status"
                ]
                != "accepted"
            ),
            timeout_s=30,
            what="the job's submission",
        )
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    stderr = err.decode()
    assert (0, "gateway dev: stopped") == (process.returncode, stderr.splitlines()[-1]), stderr
    assert [] == [
        line
        for line in stderr.splitlines()
        if "Traceback" in line or "CancelledError" in line or "KeyboardInterrupt" in line
    ]
