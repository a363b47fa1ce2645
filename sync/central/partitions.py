"""Partition maintenance of the range-partitioned central tables (policy: the partition_policy table).

Partitions cover whole UTC days or months. `maintain` creates those from the current period to `ahead_days`
ahead and those holding rows that sit in DEFAULT inside the retention window (the rows move in), detaches
and drops partitions wholly older than the retention, and reports what is left in DEFAULT: rows stamped
outside [now - retention, now + ahead], usually a box clock far off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import psycopg
from psycopg import sql

from edge.errors import UserError
from sync.connect import connect, describe, one

_LOCK_TIMEOUT = "10s"  # DDL on a busy parent waits at most this long, then maintain fails and can be re-run

_KEY = """
    SELECT a.attname, d.relname
    FROM pg_partitioned_table p
    JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
    LEFT JOIN pg_class d ON d.oid = p.partdefid
    WHERE p.partrelid = to_regclass(%s)
"""
_BOUNDS = r"""
    SELECT c.relname, b[1]::timestamptz, b[2]::timestamptz
    FROM pg_inherits i
    JOIN pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']*)''\) TO \(''([^'']*)''\)') b
    WHERE i.inhparent = to_regclass(%s) AND b IS NOT NULL
"""
_COLUMNS = """
    SELECT attname FROM pg_attribute
    WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped AND attgenerated = ''
    ORDER BY attnum
"""


@dataclass(frozen=True)
class DefaultRows:
    table: str
    rows: int
    oldest: datetime | None
    newest: datetime | None


@dataclass
class MaintainReport:
    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    default_rows: list[DefaultRows] = field(default_factory=list)


@dataclass(frozen=True)
class _Table:
    name: str
    granularity: str  # day | month
    retention: timedelta
    key: str
    default: str

    def start(self, ts: datetime) -> datetime:
        day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
        return day.replace(day=1) if self.granularity == "month" else day

    def next(self, start: datetime) -> datetime:
        if self.granularity == "day":
            return start + timedelta(days=1)
        return (start + timedelta(days=32)).replace(day=1)

    def partition_name(self, start: datetime) -> str:
        return f"{self.name}_p{start:%Y%m%d}" if self.granularity == "day" else f"{self.name}_p{start:%Y%m}"


def maintain(dsn: str, ahead_days: int = 7, retention_days: int | None = None,
             backfill_days: int = 0) -> MaintainReport:
    """Create, retire and report partitions of every table in partition_policy.

    `retention_days`, when given, overrides each table's policy for this run; `backfill_days` also creates
    the partitions of that many past days (within retention), before importing history in bulk.
    """
    if ahead_days < 0 or backfill_days < 0 or (retention_days is not None and retention_days < 1):
        raise UserError("--ahead-days and --backfill-days must be >= 0, --retention-days >= 1")
    report = MaintainReport()
    with connect(dsn, autocommit=True, utc=True) as conn:
        try:
            tables = _tables(conn, retention_days)
            now = one(conn.execute("SELECT now()"))[0]
            for table in tables:
                _maintain_table(conn, table, now, timedelta(days=ahead_days), timedelta(days=backfill_days), report)
        except psycopg.Error as e:
            raise UserError(f"partition maintenance failed: {describe(e)}") from None
    return report


def _tables(conn: psycopg.Connection, retention_days: int | None) -> list[_Table]:
    try:
        policies = conn.execute("SELECT table_name, granularity, retention_days FROM partition_policy "
                                "ORDER BY table_name").fetchall()
    except psycopg.errors.UndefinedTable:
        raise UserError("no partition_policy table: run `edge central migrate` first") from None
    tables = []
    for name, granularity, days in policies:
        found = conn.execute(_KEY, (name,)).fetchone()
        if found is None or found[1] is None:
            raise UserError(f"{name} is not a range-partitioned table with a DEFAULT partition")
        tables.append(_Table(name, granularity, timedelta(days=retention_days or days), found[0], found[1]))
    return tables


def _maintain_table(conn: psycopg.Connection, table: _Table, now: datetime, ahead: timedelta,
                    backfill: timedelta, report: MaintainReport) -> None:
    bounds = conn.execute(_BOUNDS, (table.name,)).fetchall()
    cutoff, horizon = now - table.retention, now + ahead
    wanted = set()
    start = table.start(max(now - backfill, cutoff))
    while start < horizon:
        wanted.add(start)
        start = table.next(start)
    parked = conn.execute(sql.SQL("SELECT DISTINCT date_trunc({}, {}) FROM {} WHERE {} >= %s AND {} < %s").format(
        sql.Literal(table.granularity), sql.Identifier(table.key), sql.Identifier(table.default),
        sql.Identifier(table.key), sql.Identifier(table.key)), (cutoff, horizon)).fetchall()
    wanted.update(table.start(p) for (p,) in parked)
    for lo in sorted(wanted):
        hi = table.next(lo)
        if not any(b_lo < hi and lo < b_hi for _, b_lo, b_hi in bounds):
            _create(conn, table, lo, hi)
            report.created.append(table.partition_name(lo))
    for name, _, hi in sorted(bounds, key=lambda b: b[1]):
        if hi <= cutoff:
            with conn.transaction():
                conn.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
                conn.execute(sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(
                    sql.Identifier(table.name), sql.Identifier(name)))
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
            report.dropped.append(name)
    rows, oldest, newest = one(conn.execute(sql.SQL("SELECT count(*), min({}), max({}) FROM {}").format(
        sql.Identifier(table.key), sql.Identifier(table.key), sql.Identifier(table.default))))
    if rows:
        report.default_rows.append(DefaultRows(table.name, rows, oldest, newest))


def _create(conn: psycopg.Connection, table: _Table, lo: datetime, hi: datetime) -> None:
    """Create the partition [lo, hi); rows of that range parked in DEFAULT move into it, in one transaction."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for (c,) in conn.execute(_COLUMNS, (table.name,)).fetchall())
    parent, key = sql.Identifier(table.name), sql.Identifier(table.key)
    with conn.transaction():
        conn.execute(f"SET LOCAL lock_timeout = '{_LOCK_TIMEOUT}'")
        # INCLUDING GENERATED: the rows move without their generated columns (device_id of the camera tables),
        # which a plain LIKE would copy as ordinary NOT NULL columns left without a value.
        conn.execute(sql.SQL("CREATE TEMP TABLE partition_moving (LIKE {} INCLUDING GENERATED) ON COMMIT DROP"
                             ).format(parent))
        conn.execute(sql.SQL("WITH d AS (DELETE FROM {} WHERE {} >= %s AND {} < %s RETURNING {}) "
                             "INSERT INTO partition_moving ({}) SELECT * FROM d").format(
            sql.Identifier(table.default), key, key, cols, cols), (lo, hi))
        conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
            sql.Identifier(table.partition_name(lo)), parent, sql.Literal(lo.isoformat()), sql.Literal(hi.isoformat())))
        conn.execute(sql.SQL("INSERT INTO {} ({}) SELECT {} FROM partition_moving").format(parent, cols, cols))
