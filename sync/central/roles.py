"""A box's least-privilege central role, created by provisioning with an administrator DSN."""

from __future__ import annotations

import psycopg

from edge.errors import EdgeError
from sync.sync_dsn import redact


def create_device_role(admin_dsn: str, device_id: str, password: str) -> str:
    """Create (or re-enable) role box_<device_id> with `password`; its name. Idempotent.

    The password reaches the server only as a SCRAM verifier computed by libpq (statement logs never show
    it). Needs `edge central migrate` (function sync_device_role, migration 0100) and a CREATEROLE admin.
    """
    try:
        with psycopg.connect(admin_dsn, connect_timeout=10) as conn:
            verifier = conn.pgconn.encrypt_password(password.encode(), f"box_{device_id}".encode(),
                                                    b"scram-sha-256").decode()
            (role,) = conn.execute("SELECT sync_device_role(%s, %s)", (device_id, verifier)).fetchone()
    except psycopg.OperationalError as e:
        raise EdgeError(f"cannot reach the central database: {redact(str(e), admin_dsn)}") from None
    except psycopg.Error as e:
        raise EdgeError(f"central database refused to create the role of device {device_id}: "
                        f"{redact(str(e), admin_dsn)} (run `edge central migrate` there first)") from None
    return str(role)
