"""``GET /v1/signing-keys/{client_id}``: a client's public keys for ``v1a`` signatures, as a
JWK set (each key also in its Standard Webhooks ``whpk_`` form). No key is needed to ask:
receivers fetch it to verify, as fal and Svix publish theirs."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from gateway.errors import NotFound
from gateway.http.errors import documented_errors
from gateway.http.openapi import PublicOperation
from gateway.service import Services
from gateway.service.clients import JwkSet


@get(
    "/v1/signing-keys/{client_id:str}",
    tags=["signing-keys"],
    summary="A client's public keys for v1a (ed25519) webhook signatures",
    description=(
        "A JWK set (RFC 8037: `kty` OKP, `crv` Ed25519), the current key first; during a "
        "rotation the previous key too, until it stops signing. `whpk` is the same key as the "
        "Standard Webhooks libraries take it. Empty while the client signs with HMAC only."
    ),
    operation_id="getSigningKeys",
    operation_class=PublicOperation,
    responses=documented_errors(NotFound),
)
async def signing_keys(
    services: NamedDependency[Services], client_id: FromPath[str]
) -> Response[JwkSet]:
    keys = await services.clients.signing_keys(client_id)
    return Response(keys, headers={"Cache-Control": "public, max-age=300"})
