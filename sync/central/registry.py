"""Register a box, its cameras and lines in the central database (idempotent upserts)."""

from __future__ import annotations

import secrets

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from edge.config import BoxConfig
from edge.errors import UserError
from sync.central.roles import create_device_role
from sync.connect import connect, describe, one


def camera_id(device_id: str, camera: str) -> str:
    """The central id of a box's camera (Citus distribution column)."""
    return f"{device_id}/{camera}"


def register(dsn: str, config: BoxConfig) -> None:
    """Upsert the device, its cameras and their lines in one transaction; lines no longer configured are deactivated."""
    with connect(dsn, timeout_s=5) as conn:
        try:
            with conn.transaction():
                _upsert(conn, config)
        except psycopg.Error as e:
            raise UserError(f"central database refused the registration: {describe(e, dsn)}: "
                            "run `edge central migrate` there, or pass --admin-dsn") from None


def _upsert(conn: psycopg.Connection, config: BoxConfig) -> None:
    conn.execute("INSERT INTO devices (device_id) VALUES (%s) ON CONFLICT (device_id) DO NOTHING", (config.device_id,))
    for cam in config.cameras:
        cid = camera_id(config.device_id, cam.name)
        conn.execute(
            "INSERT INTO camera_configurations (camera_id, device_id, camera_name, is_active) "
            "VALUES (%s, %s, %s, true) ON CONFLICT (camera_id) DO UPDATE SET is_active = true "
            "WHERE camera_configurations.is_active IS DISTINCT FROM true",
            (cid, config.device_id, cam.name))
        for ln in cam.lines:
            conn.execute(
                "INSERT INTO counting_lines (camera_id, line_name, x1, y1, x2, y2, is_active) "
                "VALUES (%s, %s, %s, %s, %s, %s, true) ON CONFLICT (camera_id, line_name) DO UPDATE SET "
                "x1 = excluded.x1, y1 = excluded.y1, x2 = excluded.x2, y2 = excluded.y2, is_active = true "
                "WHERE (counting_lines.x1, counting_lines.y1, counting_lines.x2, counting_lines.y2, "
                "counting_lines.is_active) IS DISTINCT FROM (excluded.x1, excluded.y1, excluded.x2, excluded.y2, true)",
                (cid, ln.name, *ln.a, *ln.b))
        conn.execute("UPDATE counting_lines SET is_active = false WHERE camera_id = %s AND is_active "
                     "AND NOT line_name = ANY(%s)", (cid, [ln.name for ln in cam.lines]))


def box_role_dsn(admin_dsn: str, device_id: str, previous_dsn: str | None) -> str:
    """Create (or re-enable) the box's least-privilege role; the DSN the box syncs with.

    The password of `previous_dsn` is kept when it belongs to the same role, so re-running changes nothing.
    """
    role = f"box_{device_id}"
    old = conninfo_to_dict(previous_dsn) if previous_dsn else {}
    password = str(old["password"]) if old.get("user") == role and old.get("password") else secrets.token_urlsafe(24)
    return make_conninfo(admin_dsn, user=create_device_role(admin_dsn, device_id, password), password=password)


def check_delivery(dsn: str, device_id: str) -> None:
    """The box's DSN reaches central, logs in as the box's own role, finds the schema migrated and may deliver
    crossings (what `edge sync` will need). UserError saying what is wrong; Unavailable when unreachable."""
    role = f"box_{device_id}"
    with connect(dsn, timeout_s=5) as conn:
        try:
            user, superuser, events, sync_rules = one(conn.execute(
                "SELECT current_user, rolsuper, to_regclass('counting_events') IS NOT NULL, "
                "to_regproc('sync_login_device') IS NOT NULL FROM pg_roles WHERE rolname = current_user"))
            may_insert = events and one(conn.execute("SELECT has_table_privilege('counting_events', 'INSERT')"))[0]
        except psycopg.Error as e:
            raise UserError(f"central database refused the check: {describe(e, dsn)}") from None
    if user != role or superuser:
        what = "a superuser" if superuser else "another role"
        raise UserError(f"the DSN logs in as {user} ({what}), not as this box's role {role}: give this box its own "
                        "least-privilege DSN (`edge provision --admin-dsn ADMIN_DSN` creates it)")
    if not (events and sync_rules):
        raise UserError("central database is not migrated (no counting_events table or sync rules): "
                        "run `edge central migrate` there")
    if not may_insert:
        raise UserError(f"role {role} may not insert counting events: create it again with --admin-dsn")
