"""The kept videos as the use cases see them: the output store, the copier, the links' signing
key and the retention, built once at start-up (``open_kept_outputs``) when
``GATEWAY_OUTPUTS=keep``.

The signing key is ``GATEWAY_OUTPUT_SIGNING_KEY`` when set, else one the first replica generates
and stores in the database (``gateway_secrets``), which every replica then reads: links stay
valid across restarts and on every replica without configuration.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from gateway.domain.output_links import signed_output_link
from gateway.domain.outputs import CopyPolicy
from gateway.outputs import Copier, OutputStore, configuration_problems, open_output_store
from gateway.service.ports import StorePort
from gateway.settings import Settings, SettingsError
from gateway.store.kept_outputs import OUTPUT_SIGNING_KEY


@dataclass
class KeptOutputs:
    store: OutputStore
    copier: Copier
    signing_keys: tuple[bytes, ...]  # signs with the first, accepts any
    public_origin: str
    retention_s: float  # GATEWAY_OUTPUT_RETENTION_S (a client may have its own)
    policy: CopyPolicy = field(default_factory=CopyPolicy)

    def link(self, job_id: str, name: str, expires_at: float) -> str:
        """The stable signed link to ``name`` of ``job_id``, valid until ``expires_at``."""
        return signed_output_link(
            self.public_origin, self.signing_keys[0], job_id, name, int(expires_at)
        )

    async def aclose(self) -> None:
        await self.copier.aclose()


async def open_kept_outputs(
    settings: Settings, store: StorePort, *, now: float, output_store: OutputStore | None = None
) -> KeptOutputs | None:
    """The kept outputs for ``settings`` (None with ``GATEWAY_OUTPUTS=link``). Raises
    ``SettingsError`` naming every problem of a configuration that must not start (several
    replicas on PostgreSQL with a local directory nobody said is shared, a short key)."""
    if settings.outputs != "keep":
        return None
    problems = configuration_problems(settings)
    if problems:
        raise SettingsError("; ".join(problems))
    key = settings.output_signing_key or await store.outputs.shared_secret(
        OUTPUT_SIGNING_KEY, secrets.token_urlsafe(32), now=now
    )
    output_store = output_store or open_output_store(settings)
    return KeptOutputs(
        store=output_store,
        copier=Copier.from_settings(settings, output_store),
        signing_keys=(key.encode(),),
        public_origin=settings.public_origin,
        retention_s=settings.output_retention_s,
    )
