"""``gateway dev`` honours the settings ``gateway serve`` reads, and checks its ports first."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.dev import dev_settings
from gateway.settings import load_settings
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
