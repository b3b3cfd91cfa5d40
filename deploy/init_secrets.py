"""The compose demo's secrets, generated on its first start (``deploy/compose.yaml``'s
``secrets`` service runs this once per ``up``; nothing secret is written in ``deploy/``).

Into DIRECTORY (the ``secrets`` volume), each file only if it is missing, so restarts keep
them: ``postgres_password`` (read by PostgreSQL through ``POSTGRES_PASSWORD_FILE``),
``database_url`` (the gateways' ``GATEWAY_DATABASE_URL_FILE``, holding that password),
``admin_key`` (``GATEWAY_ADMIN_KEY_FILE``), and MinIO's root user and password
``minio_user`` / ``minio_password`` (MinIO's own, and the gateways' S3 credentials through
``GATEWAY_OUTPUT_S3_ACCESS_KEY_ID_FILE`` / ``GATEWAY_OUTPUT_S3_SECRET_ACCESS_KEY_FILE``).
Each file is readable by its reader's user only (mode 0400; owned by PostgreSQL's uid 999 or
the gateway image's uid 10001 when run as root).
Nothing is printed: the operator reads the admin key with
``docker compose exec gateway-1 cat /run/gateway-secrets/admin_key``.

Usage: ``python init_secrets.py DIRECTORY``
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

POSTGRES_UID = 999  # the postgres image's user
GATEWAY_UID = 10001  # deploy/Dockerfile's user


def _write_once(path: Path, value: str, owner: int) -> None:
    if path.exists():
        return
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(value + "\n")
    if os.geteuid() == 0:
        os.chown(path, owner, owner)


def init_secrets(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    password_file = directory / "postgres_password"
    if password_file.exists():
        password = password_file.read_text(encoding="utf-8").strip()
    else:
        password = secrets.token_urlsafe(32)  # URL-safe: it goes into the database URL as is
        _write_once(password_file, password, POSTGRES_UID)
    _write_once(
        directory / "database_url",
        f"postgresql://gateway:{password}@postgres:5432/gateway",
        GATEWAY_UID,
    )
    _write_once(directory / "admin_key", "gw_admin_" + secrets.token_urlsafe(32), GATEWAY_UID)
    # Read by MinIO (root in its container) and by the gateways.
    _write_once(directory / "minio_user", "gateway-" + secrets.token_hex(4), GATEWAY_UID)
    _write_once(directory / "minio_password", secrets.token_urlsafe(32), GATEWAY_UID)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    init_secrets(Path(sys.argv[1]))
