"""A box's least-privilege central role, created by provisioning with an administrator DSN."""

from __future__ import annotations

import psycopg

from edge.errors import UserError
from sync.connect import connect, describe, one


def create_device_role(admin_dsn: str, device_id: str, password: str) -> str:
    """Create (or re-enable) role box_<device_id> with `password`; its name. Idempotent.

    The password reaches the server only as a SCRAM verifier computed by libpq (statement logs never show
    it). Needs `edge central migrate` (function sync_device_role, migration 0100) and a CREATEROLE admin.
    """
    with connect(admin_dsn) as conn:
        try:
            verifier = conn.pgconn.encrypt_password(password.encode(), f"box_{device_id}".encode(),
                                                    b"scram-sha-256").decode()
            (role,) = one(conn.execute("SELECT sync_device_role(%s, %s)", (device_id, verifier)))
        except psycopg.Error as e:
            raise UserError(f"central database refused to create the role of device {device_id}: "
                            f"{describe(e, admin_dsn)} (run `edge central migrate` there first)") from None
    return str(role)
