"""``gateway dev`` makes a broker-credentials key once and keeps it (issue 28): credentials
sealed before a restart still open after it; a configured key wins."""

from __future__ import annotations

from pathlib import Path

from cryptography.fernet import Fernet

from gateway.dev import dev_settings
from gateway.settings import is_fernet_key, load_settings


def test_dev_makes_a_broker_credentials_key_once_and_keeps_it(tmp_path: Path) -> None:
    settings = load_settings({})

    first = dev_settings(settings, port=8000, mock_port=8100, data_dir=tmp_path)
    second = dev_settings(settings, port=8000, mock_port=8100, data_dir=tmp_path)

    kept = tmp_path / "broker-credentials.key"
    assert (True, first.broker_credentials_key) == (
        is_fernet_key(first.broker_credentials_key),
        second.broker_credentials_key,
    )
    assert 0o600 == kept.stat().st_mode & 0o777


def test_a_configured_key_wins(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    settings = load_settings({"GATEWAY_BROKER_CREDENTIALS_KEY": key})

    dev = dev_settings(settings, port=8000, mock_port=8100, data_dir=tmp_path)

    assert (key, False) == (
        dev.broker_credentials_key,
        (tmp_path / "broker-credentials.key").exists(),
    )
