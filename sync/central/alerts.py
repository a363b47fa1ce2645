"""The camera alerts inbox: raise and resolve automatic alerts from the health reports, list what is open."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sync.central.interval import minutes
from sync.connect import connect, one, querying

# The alerts inbox: what an operator or a dashboard lists (idx_alerts_unresolved serves it).
OPEN_ALERTS = ("SELECT camera_id, alert_type, severity, title, message, created_at, is_automatic "
               "FROM alerts WHERE NOT is_resolved ORDER BY created_at")


@dataclass(frozen=True)
class OpenAlert:
    """A row of the inbox (OPEN_ALERTS)."""

    camera_id: str
    alert_type: str
    severity: str
    title: str
    message: str | None
    created_at: datetime
    is_automatic: bool


@dataclass(frozen=True)
class AlertsReport:
    """What one raise_alerts() run opened and resolved, and the inbox after it."""

    opened: int
    resolved: int
    open: list[OpenAlert]

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: times in ISO 8601."""
        return {"opened": self.opened, "resolved": self.resolved,
                "open": [{**asdict(a), "created_at": a.created_at.isoformat()} for a in self.open]}


def raise_alerts(dsn: str, window_minutes: int = 5) -> AlertsReport:
    """raise_camera_alerts() over the last `window_minutes` (opens and resolves automatic alerts), then the inbox."""
    window = minutes(window_minutes, "the alert window")
    with connect(dsn, autocommit=True, utc=True) as conn, querying("alerts inbox", "raising alerts"):
        opened, resolved = one(conn.execute("SELECT * FROM raise_camera_alerts(%s)", (window,)))
        rows = conn.execute(OPEN_ALERTS).fetchall()
    return AlertsReport(opened, resolved, [OpenAlert(*r) for r in rows])
