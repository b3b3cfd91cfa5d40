"""Identifiers. Random parts come from ``secrets``: ids are unguessable, not just unique."""

from __future__ import annotations

import base64
import hashlib
import secrets


def _token(nbytes: int) -> str:
    return base64.b32encode(secrets.token_bytes(nbytes)).decode().rstrip("=").lower()


def new_job_id() -> str:
    return "job_" + _token(15)


def new_client_id() -> str:
    return "cl_" + _token(10)


def new_subscription_id() -> str:
    return "sub_" + _token(15)


def new_lease_token() -> str:
    return _token(15)


def new_api_key() -> str:
    return "gw_" + secrets.token_urlsafe(32)


def hash_api_key(api_key: str) -> str:
    """Keys are stored as SHA-256: they are long and random, so no slow hash is needed."""
    return hashlib.sha256(api_key.encode()).hexdigest()
