"""Register a box, its cameras and lines in the central database (idempotent upserts)."""

from __future__ import annotations

import psycopg

from edge.config import BoxConfig
from edge.errors import EdgeError


def camera_id(device_id: str, camera: str) -> str:
    """The central id of a box's camera (Citus distribution column)."""
    return f"{device_id}/{camera}"


def register(dsn: str, config: BoxConfig) -> None:
    """Upsert the device, its cameras and their lines in one transaction; lines no longer configured are deactivated."""
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn, conn.transaction():
            conn.execute("INSERT INTO devices (device_id) VALUES (%s) ON CONFLICT (device_id) DO NOTHING",
                         (config.device_id,))
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
    except psycopg.OperationalError as e:
        raise EdgeError(f"cannot reach the central database: {_first_line(e)}") from None
    except psycopg.Error as e:
        raise EdgeError(f"central database refused the registration: {_first_line(e)}: "
                        "run `edge central migrate` there, or pass --admin-dsn") from None


def _first_line(e: Exception) -> str:
    """The first line of a driver message (libpq never includes the password)."""
    return (str(e).strip().splitlines() or ["unknown error"])[0]
