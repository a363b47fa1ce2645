"""`edge status`: what an operator needs at a glance, from the box's buffer (opened read-only), and a verdict a
monitoring script can use: `problems` is empty only when every camera is online or degraded and the sync lag is
within its limit."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.config import BoxConfig
from edge.errors import UserError
from edge.humanize import ago
from edge.records import now_us
from edge.store.outbox import OutboxView


def _open_readonly(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise UserError(f"buffer {path} does not exist yet: start `edge run` (or check [buffer] path in the config)")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        conn.execute("SELECT 1 FROM crossings LIMIT 1")
    except sqlite3.Error as e:
        raise UserError(f"cannot read buffer {path}: {e}: is it an edge-counter buffer?") from None
    return conn


def local_midnight_us(now: int) -> int:
    """The start of the box's local day containing `now` (UTC microseconds)."""
    local = datetime.fromtimestamp(now / 1e6).astimezone()
    return int(local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp() * 1e6)


def box_status(config: BoxConfig, root: Path = Path("/"), max_sync_lag_s: float = 900.0) -> dict[str, Any]:
    """Per camera: status, fps, last crossing, today's in/out per line; buffer depth and size; disk use; the
    problems that make `edge status` exit 1. Times are UTC microseconds; paths are read under `root`."""
    path = root / Path(config.buffer.path).relative_to("/") if Path(config.buffer.path).is_absolute() \
        else Path(config.buffer.path)
    now = now_us()
    midnight = local_midnight_us(now)
    stale_after = 3 * config.health.interval_s * 1e6
    with _open_readonly(path) as conn:
        cameras = {}
        for cam in config.cameras:
            health = conn.execute(
                "SELECT ts_us, status, fps_in, fps_processed, drop_rate, error FROM camera_health "
                "WHERE camera = ? ORDER BY seq DESC LIMIT 1", (cam.name,)).fetchone()
            last = conn.execute("SELECT MAX(ts_us) FROM crossings WHERE camera = ?", (cam.name,)).fetchone()[0]
            status = "unknown"
            if health:
                status = health[1] if now - health[0] <= stale_after else "stale"
            today = {ln.name: {"in": 0, "out": 0} for ln in cam.lines}
            for line, direction, n in conn.execute(
                    "SELECT line, direction, COUNT(*) FROM crossings WHERE camera = ? AND ts_us >= ? "
                    "GROUP BY line, direction", (cam.name, midnight)):
                today.setdefault(line, {"in": 0, "out": 0})[direction] = n
            cameras[cam.name] = {
                "today": today,
                "status": status,
                "fps_in": health[2] if health else None,
                "fps_processed": health[3] if health else None,
                "drop_rate": health[4] if health else None,
                "error": health[5] if health else None,
                "last_health_us": health[0] if health else None,
                "last_crossing_us": last,
            }
        rows = conn.execute("SELECT COUNT(*) FROM crossings").fetchone()[0]
        sync = OutboxView(conn).summary(now)
    size = sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    disk = shutil.disk_usage(path.parent)
    problems = [f"camera {name} is {c['status']}" + (f" ({c['error']})" if c["error"] else "")
                for name, c in cameras.items() if c["status"] not in ("online", "degraded")]
    if max_sync_lag_s and sync["oldest_pending_age_s"] > max_sync_lag_s:
        problems.append(f"sync lag {sync['oldest_pending_age_s']:.0f} s is over {max_sync_lag_s:g} s: "
                        "is `edge sync` running and central reachable?")
    return {
        "device_id": config.device_id,
        "ok": not problems,
        "problems": problems,
        "cameras": cameras,
        "buffer": {"path": str(path), "bytes": size, "crossings": rows},
        "sync": sync,
        "disk": {
            "total_bytes": disk.total,
            "free_bytes": disk.free,
            "used_percent": round(100 * disk.used / disk.total, 1),
        },
    }


def render(status: dict[str, Any]) -> str:
    now = now_us()
    out = [f"device {status['device_id']}", f"{'camera':<16}{'status':<10}{'fps in':>8}{'fps proc':>10}  last crossing"]
    for name, c in status["cameras"].items():
        fps_in = f"{c['fps_in']:.1f}" if c["fps_in"] is not None else "-"
        fps_p = f"{c['fps_processed']:.1f}" if c["fps_processed"] is not None else "-"
        last = ago(None if c["last_crossing_us"] is None else (now - c["last_crossing_us"]) / 1e6)
        out.append(
            f"{name:<16}{c['status']:<10}{fps_in:>8}{fps_p:>10}  {last}" + (f"  ({c['error']})" if c["error"] else "")
        )
    out.append(f"today since local midnight: {'camera':<16}{'line':<16}{'in':>7}{'out':>7}")
    for name, c in status["cameras"].items():
        for line, n in c["today"].items():
            out.append(f"{'':<28}{name:<16}{line:<16}{n['in']:>7}{n['out']:>7}")
    b, d = status["buffer"], status["disk"]
    out.append(f"buffer {b['path']}: {b['crossings']} crossings, {b['bytes'] / 1e6:.1f} MB")
    s = status["sync"]
    out.append(
        f"sync: {s['rows_pending']} rows pending, lag {s['oldest_pending_age_s']:.0f} s, "
        f"{s['dead_letters']} dead letters"
    )
    out.append(f"disk: {d['used_percent']}% used, {d['free_bytes'] / 1e9:.1f} GB free")
    out += [f"PROBLEM {p}" for p in status["problems"]] or ["all well"]
    return "\n".join(out)
