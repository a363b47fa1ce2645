"""Central PostgreSQL: connections, versioned migrations (sync/migrations/NNNN_name.sql), summary refresh, alerts."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import psycopg

from edge.errors import EdgeError

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
SUMMARIES = ("realtime_counting_summary", "daily_analytics_summary")
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 0x6564676543  # advisory lock: one migrate at a time
# The alerts inbox: what an operator or a dashboard lists (idx_alerts_unresolved serves it).
OPEN_ALERTS = ("SELECT camera_id, alert_type, severity, title, message, created_at, is_automatic "
               "FROM alerts WHERE NOT is_resolved ORDER BY created_at")
_SECRET = re.compile(r"(password\s*=\s*)\S+|(://[^:/@\s]+:)[^@\s]+@", re.IGNORECASE)


def describe(e: BaseException) -> str:
    """The first line of a driver error, with anything that looks like a password masked."""
    line = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return _SECRET.sub(lambda m: f"{m.group(1)}***" if m.group(1) else f"{m.group(2)}***@", line)


@contextmanager
def connect(dsn: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A connection in UTC (partition bounds are UTC days); EdgeError naming the cause if it cannot be made."""
    try:
        conn = psycopg.connect(dsn, autocommit=autocommit, connect_timeout=10, options="-c TimeZone=UTC")
    except (psycopg.Error, ValueError) as e:
        raise EdgeError(f"cannot connect to the central database: {describe(e)}") from None
    with conn:
        yield conn


@contextmanager
def querying(schema: str, action: str) -> Iterator[None]:
    """Driver errors as one-line EdgeErrors; a missing table or function means `schema` is not migrated yet."""
    try:
        yield
    except (psycopg.errors.UndefinedFunction, psycopg.errors.UndefinedTable) as e:
        raise EdgeError(f"the central database has no {schema} ({describe(e)}): "
                        "run `edge central migrate` first") from None
    except psycopg.Error as e:
        raise EdgeError(f"{action} failed: {describe(e)}") from None


def minutes(value: int, what: str) -> timedelta:
    """`value` minutes of a command option; EdgeError naming `what` unless at least 1."""
    if value < 1:
        raise EdgeError(f"{what} must be at least 1 minute, not {value}")
    return timedelta(minutes=value)


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files, in version order; a misnamed or duplicate version is an error."""
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _MIGRATION_NAME.match(path.name)
        if not m:
            raise EdgeError(f"migration file {path.name} is not named NNNN_name.sql")
        if m.group(1) in found:
            raise EdgeError(f"migrations {found[m.group(1)].path.name} and {path.name} share version {m.group(1)}")
        found[m.group(1)] = Migration(m.group(1), path.stem, path)
    return list(found.values())


def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply the migrations not yet recorded in schema_migrations, each in its own transaction.

    Returns the names applied (empty: already up to date). A recorded migration whose file changed since
    is an error: fix forward with a new migration instead.
    """
    with connect(dsn, autocommit=True) as conn:
        try:
            conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))  # released when the connection closes
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, "
                         "name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
            applied = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
        except psycopg.Error as e:
            raise EdgeError(f"cannot read the applied migrations: {describe(e)}") from None
        done = []
        for mig in migrations(directory):
            if mig.version in applied:
                if applied[mig.version] != mig.checksum:
                    raise EdgeError(f"migration {mig.name} changed after it was applied: add a new migration instead")
                continue
            try:
                with conn.transaction():
                    conn.execute(mig.path.read_text())
                    conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                                 (mig.version, mig.name, mig.checksum))
            except psycopg.Error as e:
                raise EdgeError(f"migration {mig.name} failed (rolled back): {describe(e)}") from None
            done.append(mig.name)
        return done


def refresh(dsn: str, views: tuple[str, ...] = SUMMARIES, *, rebuild: bool = False) -> dict[str, float]:
    """Bring each summary up to date; seconds per summary. The real-time one is refreshed CONCURRENTLY
    (readers are never blocked); the daily one recomputes the days of the minutes changed since its last
    refresh (all days with minutes when `rebuild`: after a camera's time zone changed)."""
    unknown = set(views) - set(SUMMARIES)
    if unknown:
        raise EdgeError(f"unknown summary {', '.join(sorted(unknown))}: choose from {', '.join(SUMMARIES)}")
    statements = {"realtime_counting_summary": ["REFRESH MATERIALIZED VIEW CONCURRENTLY realtime_counting_summary"],
                  "daily_analytics_summary": (["SELECT queue_daily_rebuild()"] if rebuild else [])
                  + ["SELECT refresh_daily_analytics()"]}
    took = {}
    with connect(dsn, autocommit=True) as conn:
        for view in views:
            start = time.perf_counter()
            with querying("summaries", f"refresh of {view}"):
                for statement in statements[view]:
                    conn.execute(statement)
            took[view] = time.perf_counter() - start
    return took


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
    with connect(dsn, autocommit=True) as conn, querying("alerts inbox", "raising alerts"):
        opened, resolved = conn.execute("SELECT * FROM raise_camera_alerts(%s)", (window,)).fetchone()
        rows = conn.execute(OPEN_ALERTS).fetchall()
    return AlertsReport(opened, resolved, [OpenAlert(*r) for r in rows])
