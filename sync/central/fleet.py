"""The operators' fleet view (`edge central fleet`): every box known centrally, worst first, in one query.

A box is known when it is registered (`devices`) or has delivered anything (`sync_batches`: `edge sync` writes a
ledger row with every batch, box health included). Per box: its latest `box_health` report, its latest delivery,
its active cameras by state, its open camera and box alerts. A box is silent when no report of it reached
central within the threshold (or none ever did), degraded when a camera is not online or an alert is open.
"""

from __future__ import annotations

from dataclasses import asdict, astuple, dataclass

from edge.humanize import ago, duration
from sync.central.citus import is_distributed
from sync.central.interval import minutes
from sync.connect import connect, querying

# Ages are on the central clock (received_at, last_heartbeat): a box clock that is off does not matter.
# The latest report is looked up by box_health's key (device_id, health_ts): first in the partitions of the
# threshold only (pruned at executor start), then, for a box without a report there, in every partition.
# FLEET (one server) and FLEET_CITUS (a distributed database) are built from the pieces below.
_LATEST = """
    LEFT JOIN LATERAL (
        (SELECT b.received_at, b.cpu_percent, b.mem_mb, b.buffer_bytes, b.pending_rows FROM box_health b
         WHERE b.device_id = {key}.device_id AND b.health_ts > now() - %(silent)s ORDER BY b.health_ts DESC LIMIT 1)
        UNION ALL  -- the same row if there is one, so only run (Append is lazy) when there is none
        (SELECT b.received_at, b.cpu_percent, b.mem_mb, b.buffer_bytes, b.pending_rows FROM box_health b
         WHERE b.device_id = {key}.device_id ORDER BY b.health_ts DESC LIMIT 1)
        LIMIT 1) h ON true
    LEFT JOIN LATERAL (SELECT b.received_at FROM sync_batches b WHERE b.device_id = {key}.device_id
                       ORDER BY b.received_at DESC LIMIT 1) s ON true"""
_GROUPS = """cameras AS {m}(  -- active cameras: silent without a report within the threshold, else the reported status
    SELECT c.device_id,
           count(*) FILTER (WHERE h.last_heartbeat >= now() - %(silent)s AND h.status = 'online') AS online,
           count(*) FILTER (WHERE h.last_heartbeat >= now() - %(silent)s AND h.status = 'degraded') AS degraded,
           count(*) FILTER (WHERE h.last_heartbeat >= now() - %(silent)s AND h.status = 'offline') AS offline,
           count(*) FILTER (WHERE h.last_heartbeat IS NULL OR h.last_heartbeat < now() - %(silent)s) AS silent
    FROM camera_configurations c LEFT JOIN camera_health h ON h.camera_id = c.camera_id
    WHERE c.is_active GROUP BY c.device_id
), camera_alerts AS {m}(
    SELECT device_id, count(*) AS open FROM alerts WHERE NOT is_resolved GROUP BY device_id
), box_alerts_open AS {m}(
    SELECT device_id, count(*) AS open FROM box_alerts WHERE NOT is_resolved GROUP BY device_id
)"""
_BOX = """SELECT k.device_id, {report} >= now() - %(silent)s AS reporting,
           extract(epoch FROM now() - {report})::float8 AS report_age_s, {h}.cpu_percent::float8,
           {h}.mem_mb::float8, ({h}.buffer_bytes / 1e6)::float8 AS buffer_mb, {h}.pending_rows,
           extract(epoch FROM now() - {synced})::float8 AS sync_lag_s,
           coalesce(c.online, 0) AS online, coalesce(c.degraded, 0) AS degraded,
           coalesce(c.offline, 0) AS offline, coalesce(c.silent, 0) AS silent,
           coalesce(ca.open, 0) AS camera_alerts, coalesce(ba.open, 0) AS box_alerts"""
_JOINS = """
    LEFT JOIN cameras c ON c.device_id = k.device_id
    LEFT JOIN camera_alerts ca ON ca.device_id = k.device_id
    LEFT JOIN box_alerts_open ba ON ba.device_id = k.device_id"""
_ROWS = """
SELECT b.device_id, st.status, b.report_age_s, b.cpu_percent, b.mem_mb, b.buffer_mb, b.pending_rows, b.sync_lag_s,
       b.online, b.degraded, b.offline, b.silent, b.camera_alerts, b.box_alerts
FROM boxes b
CROSS JOIN LATERAL (SELECT CASE WHEN b.reporting IS NOT TRUE THEN 'silent'
                                WHEN b.degraded + b.offline + b.silent + b.camera_alerts + b.box_alerts > 0
                                THEN 'degraded' ELSE 'ok' END AS status) st
ORDER BY array_position(ARRAY['silent', 'degraded', 'ok'], st.status), b.report_age_s IS NULL,
         b.degraded + b.offline + b.silent DESC, b.camera_alerts + b.box_alerts DESC, b.device_id
"""
FLEET = f"""
WITH RECURSIVE ledger (device_id) AS (  -- every box that delivered: a loose index scan on device_id
    (SELECT device_id FROM sync_batches ORDER BY device_id LIMIT 1)
    UNION ALL
    SELECT (SELECT b.device_id FROM sync_batches b WHERE b.device_id > l.device_id ORDER BY b.device_id LIMIT 1)
    FROM ledger l WHERE l.device_id IS NOT NULL
), known AS (
    SELECT device_id FROM devices UNION SELECT device_id FROM ledger WHERE device_id IS NOT NULL
), {_GROUPS.format(m="")}, boxes AS (
    {_BOX.format(report="h.received_at", synced="s.received_at", h="h")}
    FROM known k{_LATEST.format(key="k")}{_JOINS}
){_ROWS}"""
# On Citus (sync/central/citus.py), the same rows. Citus refuses FLEET twice: a recursive CTE over a distributed
# table ("recursive CTEs are only supported when they contain a filter on the distribution column", even the
# word RECURSIVE), and one query joining the device group (box_health, sync_batches, box_alerts: on device_id)
# with the camera group aggregated by device ("complex joins are only supported when all distributed tables are
# co-located and joined on their distribution columns"). So:
# - `delivered`: the boxes of the ledger, each with its latest report and delivery, all in the device group and
#   joined on device_id: Citus pushes it down whole to every shard. Each shard lists its boxes with DISTINCT
#   over its ledger key instead of the loose index scan (every ledger row is read, in parallel on the workers;
#   docs/benchmarks.md has what it costs). A box with box_health rows has ledger rows (edge sync writes one
#   with every batch);
# - each group's aggregate is a MATERIALIZED CTE (a distributed query into an intermediate result); the final
#   join of those with `devices` (a reference table) runs on the coordinator.
FLEET_CITUS = f"""
WITH delivered AS MATERIALIZED (
    SELECT l.device_id, h.received_at AS report_at, h.cpu_percent, h.mem_mb, h.buffer_bytes, h.pending_rows,
           s.received_at AS synced_at
    FROM (SELECT DISTINCT device_id FROM sync_batches) l{_LATEST.format(key="l")}
), {_GROUPS.format(m="MATERIALIZED ")}, boxes AS (
    {_BOX.format(report="d.report_at", synced="d.synced_at", h="d")}
    FROM (SELECT device_id FROM devices UNION SELECT device_id FROM delivered) k
    LEFT JOIN delivered d ON d.device_id = k.device_id{_JOINS}
){_ROWS}"""

HEADER = ("device", "status", "last report", "cpu %", "mem MB", "buffer MB", "pending", "sync lag",
          "cameras on/deg/off/silent", "alerts cam/box")
_LEFT = {0, 1, 8, 9}  # columns aligned left; numbers and ages right
EMPTY = "no boxes known centrally: none registered in devices, none has delivered (sync_batches)"


@dataclass(frozen=True)
class Cameras:
    """A box's active cameras by state; silent: no report within the threshold."""

    online: int
    degraded: int
    offline: int
    silent: int


@dataclass(frozen=True)
class Box:
    """A row of the fleet view. Ages in seconds on the central clock; None: never happened."""

    device_id: str
    status: str  # silent | degraded | ok
    report_age_s: float | None  # since its latest box_health report arrived
    cpu_percent: float | None  # this and the next three: from that report
    mem_mb: float | None
    buffer_mb: float | None
    pending_rows: int | None
    sync_lag_s: float | None  # since its latest delivery (sync_batches.received_at)
    cameras: Cameras
    open_camera_alerts: int
    open_box_alerts: int


@dataclass(frozen=True)
class FleetReport:
    """Every known box, worst first."""

    silent_minutes: int
    boxes: list[Box]

    def total(self) -> dict[str, int]:
        """Boxes, silent boxes, cameras reported offline, open alerts (camera and box)."""
        return {"boxes": len(self.boxes), "silent": sum(b.status == "silent" for b in self.boxes),
                "cameras_offline": sum(b.cameras.offline for b in self.boxes),
                "open_alerts": sum(b.open_camera_alerts + b.open_box_alerts for b in self.boxes)}

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {"silent_minutes": self.silent_minutes, "boxes": [asdict(b) for b in self.boxes],
                "total": self.total()}


def fleet(dsn: str, silent_minutes: int = 5) -> FleetReport:
    """Every box known centrally, worst first; silent: no box_health report for `silent_minutes`."""
    silent = minutes(silent_minutes, "the silent threshold")
    with connect(dsn, autocommit=True, utc=True) as conn, querying("fleet tables", "reading the fleet"):
        rows = conn.execute(FLEET_CITUS if is_distributed(conn) else FLEET, {"silent": silent}).fetchall()
    return FleetReport(silent_minutes, [Box(*r[:8], Cameras(*r[8:12]), *r[12:]) for r in rows])  # type: ignore[call-arg]


def _cells(b: Box) -> tuple[str, ...]:
    def number(value: float | None, spec: str) -> str:
        return "-" if value is None else format(value, spec)

    return (b.device_id, b.status, ago(b.report_age_s), number(b.cpu_percent, ".0f"), number(b.mem_mb, ".0f"),
            number(b.buffer_mb, ".1f"), number(b.pending_rows, "d"),
            "-" if b.sync_lag_s is None else duration(b.sync_lag_s),
            "/".join(map(str, astuple(b.cameras))), f"{b.open_camera_alerts}/{b.open_box_alerts}")


def render(report: FleetReport) -> list[str]:
    """The table, one line per box, then the total; one line when no box is known."""
    if not report.boxes:
        return [EMPTY]
    rows = [HEADER, *map(_cells, report.boxes)]
    widths = [max(map(len, column)) for column in zip(*rows)]
    lines = ["  ".join(c.ljust(w) if i in _LEFT else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
             for row in rows]
    t = report.total()
    return [*lines, f"total: boxes {t['boxes']}, silent {t['silent']}, cameras offline {t['cameras_offline']}, "
                    f"open alerts {t['open_alerts']}"]
