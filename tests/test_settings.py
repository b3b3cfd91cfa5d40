"""Settings are read from the environment in one place, with checked values."""

from pathlib import Path

import pytest

from gateway.settings import Settings, SettingsError, load_settings


def test_defaults_without_environment() -> None:
    """An empty environment gives the documented defaults."""
    assert load_settings({}) == Settings(replica_id=load_settings({}).replica_id)


def test_values_are_converted() -> None:
    """Numbers, booleans and comma-separated lists are parsed from their strings."""
    settings = load_settings(
        {
            "GATEWAY_PORT": "9000",
            "GATEWAY_POLL_INTERVAL_S": "2.5",
            "GATEWAY_RESUBMIT_UNKNOWN": "true",
            "GATEWAY_DELIVERY_SCHEDULE": "0, 1,2",
            "GATEWAY_CALLBACK_ALLOWLIST": "127.0.0.0/8, example.test",
            "AIMLAPI_KEY": "k",
        }
    )
    assert (9000, 2.5, True, (0.0, 1.0, 2.0), ("127.0.0.0/8", "example.test"), "k") == (
        settings.port,
        settings.poll_interval_s,
        settings.resubmit_unknown,
        settings.delivery_schedule,
        settings.callback_allowlist,
        settings.aimlapi_key,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GATEWAY_PORT", "eighty"),
        ("GATEWAY_DELIVERY_SCHEDULE", "1,-2"),
        ("GATEWAY_RESUBMIT_UNKNOWN", "maybe"),
        ("GATEWAY_POLL_POLICY", "random"),
    ],
)
def test_bad_values_are_refused_by_name(name: str, value: str) -> None:
    """A bad value is an error that names the variable, or the rule it breaks."""
    with pytest.raises(SettingsError):
        load_settings({name: value})


def test_secrets_are_not_in_repr() -> None:
    """Printing settings never shows a key or a signing secret."""
    text = repr(load_settings({"AIMLAPI_KEY": "sk-upstream", "GATEWAY_ADMIN_KEY": "adm"}))
    assert "sk-upstream" not in text
    assert "adm'" not in text


def test_any_setting_may_come_from_a_file(tmp_path: Path) -> None:
    """``NAME_FILE=path`` reads NAME from a file (Docker and Kubernetes secrets, the compose
    demo's generated ones); the file's last newline is not part of the value."""
    (tmp_path / "admin").write_text("generated-admin-key\n")
    (tmp_path / "url").write_text("postgresql://gateway:pw@postgres:5432/gateway")
    settings = load_settings(
        {
            "GATEWAY_ADMIN_KEY_FILE": str(tmp_path / "admin"),
            "GATEWAY_DATABASE_URL_FILE": str(tmp_path / "url"),
            "GATEWAY_PORT_FILE": "",  # empty: not given
        }
    )
    assert ("generated-admin-key", "postgresql://gateway:pw@postgres:5432/gateway") == (
        settings.admin_key,
        settings.database_url,
    )
    assert {"admin_key", "database_url"} == settings.explicitly_set()


@pytest.mark.parametrize(
    "environ",
    [
        {"GATEWAY_ADMIN_KEY_FILE": "/nonexistent/admin"},
        {"GATEWAY_ADMIN_KEY": "k", "GATEWAY_ADMIN_KEY_FILE": "/nonexistent/admin"},
    ],
)
def test_a_file_that_cannot_be_read_or_a_value_given_twice_is_refused(
    environ: dict[str, str],
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(environ)
    assert "GATEWAY_ADMIN_KEY" in str(raised.value)
