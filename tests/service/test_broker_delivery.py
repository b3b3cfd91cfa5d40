"""What a delivery adds to its URL (issue 28): the signatures of the client's mode, the dedupe
id of its round, and the credentials vault."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from gateway.delivery.credential_vault import FernetVault, UnreadableCredentials
from gateway.delivery.ed25519_keys import SigningKey
from gateway.domain.broker_targets import BrokerCredentials
from gateway.domain.delivery import DeliveryState
from gateway.service.broker_delivery import dedupe_id, signed_headers, signing_mode
from gateway.settings import SettingsError, load_settings
from gateway.store.records import ClientRecord, DeliveryRecord

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
KEY, OLD = SigningKey.generate(), SigningKey.generate()
NOW = 1_800_000_000.0


def client(mode: str, **fields: object) -> ClientRecord:
    return ClientRecord(
        id="cl_1",
        name="c",
        api_key_hash="h",
        webhook_secret=SECRET,
        created_at=0.0,
        signing_mode=mode,
        **fields,  # type: ignore[arg-type]  # the optional fields of a client
    )


def kinds(headers: dict[str, str]) -> list[str]:
    return [s.split(",")[0] for s in headers["webhook-signature"].split(" ")]


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("hmac", ["v1"]), ("ed25519", ["v1a", "v1a"]), ("both", ["v1", "v1a", "v1a"])],
)
def test_a_client_signs_in_its_mode_with_both_keys_during_the_overlap(
    mode: str, expected: list[str]
) -> None:
    signer = client(
        mode,
        ed25519_key=KEY.secret(),
        previous_ed25519_key=OLD.secret(),
        previous_ed25519_until=NOW + 1,
    )

    assert expected == kinds(signed_headers(signer, "msg_1", NOW, b"{}"))
    assert [k for k in expected if k != "v1a"] + ["v1a"] * (mode != "hmac") == kinds(
        signed_headers(signer, "msg_1", NOW + 1, b"{}")
    )


def test_ed25519_without_a_key_signs_hmac_rather_than_nothing() -> None:
    assert ("hmac", ["v1"]) == (
        signing_mode(client("ed25519"), NOW),
        kinds(signed_headers(client("ed25519"), "msg_1", NOW, b"{}")),
    )


def delivery(attempts: int, before_round: int) -> DeliveryRecord:
    return DeliveryRecord(
        id="msg_1",
        job_id="job_1",
        client_id="cl_1",
        event_type="video.generation.completed",
        url="nats://127.0.0.1:4222?subject=s",
        payload=b"{}",
        state=DeliveryState.PENDING,
        attempts=attempts,
        created_at=0.0,
        updated_at=0.0,
        delivered_at=None,
        last_status_code=None,
        last_error=None,
        next_run_at=None,
        lease_token=None,
        lease_until=None,
        takeovers=0,
        attempts_before_round=before_round,
    )


def test_retries_reuse_the_event_id_and_each_new_round_gets_a_fresh_one() -> None:
    assert ["msg_1", "msg_1", "msg_1.3", "msg_1.3", "msg_1.5"] == [
        dedupe_id(delivery(a, b)) for a, b in [(0, 0), (2, 0), (3, 3), (4, 3), (5, 5)]
    ]


def test_the_vault_opens_what_it_sealed_and_nothing_else() -> None:
    key = Fernet.generate_key().decode()
    vault = FernetVault(key)
    sealed = vault.seal(BrokerCredentials("app", "pw-never-shown"))

    opened = vault.open(sealed)

    assert ("app", "pw-never-shown") == (opened.username, opened.password)
    assert "pw-never-shown" not in sealed + repr(vault) + repr(opened)
    assert key not in repr(vault)
    with pytest.raises(UnreadableCredentials) as refused:
        FernetVault(Fernet.generate_key().decode()).open(sealed)
    assert sealed not in str(refused.value)
    token = BrokerCredentials(username="nats-token")
    assert (token.username, None) == (
        vault.open(vault.seal(token)).username,
        vault.open(vault.seal(token)).password,
    )


def test_the_vault_key_setting_must_be_a_fernet_key() -> None:
    key = Fernet.generate_key().decode()
    assert key == load_settings({"GATEWAY_BROKER_CREDENTIALS_KEY": key}).broker_credentials_key
    with pytest.raises(SettingsError, match="GATEWAY_BROKER_CREDENTIALS_KEY") as bad:
        load_settings({"GATEWAY_BROKER_CREDENTIALS_KEY": "not-a-key"})
    assert "not-a-key" not in str(bad.value)
