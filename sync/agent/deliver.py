"""Central side of the sync: one batch, one transaction.

The ledger row (device, stream, batch number) goes in first: if it is already there the batch was delivered
before and is skipped whole. Otherwise the rows are sent with binary COPY straight into the target table. If
that route is rejected (a duplicate key, a bad row) it is rolled back to a savepoint and the batch goes the
fallback route: COPY into a temporary staging table, then INSERT ... ON CONFLICT DO NOTHING, bisecting down to
the offending rows, which are handed back as dead letters while the rest is delivered. Upsert streams
(per-minute counts) always take the staging route with ON CONFLICT DO UPDATE, so later values win.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from operator import itemgetter

import psycopg
from psycopg import sql

from edge.errors import UserError
from sync.agent.binary import EncodeError, RowEncoder, supported
from sync.agent.retry import is_data_error
from sync.connect import describe
from sync.streams import StreamSpec

log = logging.getLogger("edge.sync")

DeadRows = list[tuple[tuple, str]]

_CATALOG = """
    SELECT a.attname, format_type(a.atttypid, a.atttypmod),
           CASE t.typtype WHEN 'e' THEN 'text' WHEN 'd' THEN b.typname ELSE t.typname END
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type b ON b.oid = t.typbasetype
    WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
"""
# RETURNING received_at (its DEFAULT now(), the transaction's start), not now(): on a distributed sync_batches
# Citus refuses "non-IMMUTABLE functions are not allowed in the RETURNING clause".
_LEDGER = ("INSERT INTO sync_batches (device_id, stream, batch_no, row_count) VALUES (%s, %s, %s, %s) "
           "ON CONFLICT (device_id, stream, batch_no) DO NOTHING RETURNING received_at")
_SKEW = ("INSERT INTO sync_clock_skew (device_id, stream, batch_no, flagged_rows, min_ts, max_ts, box_clock_offset_s) "
         "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING")


@dataclass(frozen=True)
class Target:
    """A stream's central table as found in the catalog: columns sent (in COPY order) and the statements."""

    spec: StreamSpec
    columns: tuple[str, ...]
    select: str                  # SQLite select list producing the encoder's rows
    encoder: RowEncoder
    time_index: int
    copy: sql.Composed           # COPY straight into the table
    stage: sql.Composed          # CREATE TEMP staging table
    stage_copy: sql.Composed
    from_stage: sql.Composed     # INSERT ... SELECT FROM staging ON CONFLICT ...


def prepare(conn: psycopg.Connection, spec: StreamSpec) -> Target:
    """Match the stream's fields against the central table; EdgeError when the schema cannot take them."""
    catalog = {name: (decl, base) for name, decl, base in conn.execute(_CATALOG, (spec.table,)).fetchall()}
    conn.rollback()
    if not catalog:
        raise UserError(f"central table {spec.table} does not exist or is not visible to this role: "
                        "run `edge central migrate` on the central database")
    chosen = []  # (box expression, central column, declared type, encoder type)
    for field in spec.fields:
        name = next((c for c in field.central if c in catalog), None)
        if name is not None and not supported(catalog[name][1]):
            log.warning("central %s.%s has type %s, not sent", spec.table, name, catalog[name][0])
            name = None
        if name is None:
            if field.required:
                raise UserError(f"central table {spec.table} has no usable column for {field.box} "
                                f"(expected {' or '.join(field.central)}): run `edge central migrate`")
            continue
        chosen.append((field.box, name, *catalog[name]))
    encoder = RowEncoder([c[3] for c in chosen], packed_text=spec.packed_text)
    select = encoder.select([c[0] for c in chosen])
    chosen = [chosen[i] for i in encoder.order]
    cols = sql.SQL(", ").join(sql.Identifier(c[1]) for c in chosen)
    table, stage = sql.Identifier(spec.table), sql.Identifier(f"sync_stage_{spec.name}")
    if spec.upsert_key:
        updates = sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c[1]))
                                     for c in chosen if c[1] not in spec.upsert_key)
        conflict = sql.SQL("ON CONFLICT ({}) DO UPDATE SET {}").format(
            sql.SQL(", ").join(map(sql.Identifier, spec.upsert_key)), updates)
    else:
        conflict = sql.Composed([sql.SQL("ON CONFLICT DO NOTHING")])
    return Target(
        spec=spec,
        columns=tuple(c[1] for c in chosen),
        select=select,
        encoder=encoder,
        time_index=[c[0] for c in chosen].index(spec.time_field),
        copy=sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(table, cols),
        stage=sql.SQL("CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DROP").format(
            stage, sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c[1]), sql.SQL(c[2])) for c in chosen)),
        stage_copy=sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(stage, cols),
        from_stage=sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} {}").format(table, cols, cols, stage, conflict),
    )


class Route(StrEnum):
    """How a batch reached its table."""

    COPY = "copy"          # binary COPY straight in
    STAGING = "staging"    # COPY refused: staging table + INSERT ... ON CONFLICT DO NOTHING, bad rows bisected out
    UPSERT = "upsert"      # an upsert stream: staging + ON CONFLICT DO UPDATE
    SKIPPED = "skipped"    # the ledger had it: delivered before


@dataclass(frozen=True, kw_only=True)
class Delivery:
    duplicate: bool              # the ledger already had the batch: nothing inserted
    route: Route
    dead: int
    flagged: int                 # rows further than the clock-skew limit from central time


SKIPPED = Delivery(duplicate=True, route=Route.SKIPPED, dead=0, flagged=0)
Chunks = Iterable[Sequence[tuple]]


class SkewWatch:
    """Counts rows whose time is further than `limit_s` from central time, chunk by chunk as they stream."""

    def __init__(self, time_index: int, central_now: datetime, limit_s: float) -> None:
        self.index, self.now_us = time_index, int(central_now.timestamp() * 1_000_000)
        self.limit_us = int(limit_s * 1_000_000)
        self.count = 0
        self.low: int | None = None
        self.high: int | None = None

    def watch(self, chunks: Chunks) -> Iterator[Sequence[tuple]]:
        key = itemgetter(self.index)
        low, high = self.now_us - self.limit_us, self.now_us + self.limit_us
        for rows in chunks:
            if rows and (key(min(rows, key=key)) < low or key(max(rows, key=key)) > high):
                times = [r[self.index] for r in rows if not low <= r[self.index] <= high]
                self.count += len(times)
                self.low = min(times) if self.low is None else min(self.low, *times)
                self.high = max(times) if self.high is None else max(self.high, *times)
            yield rows

    def record(self, conn: psycopg.Connection, ledger: tuple[str, str, int], box_now_us: int) -> None:
        if self.count and self.low is not None and self.high is not None:
            ts = [datetime.fromtimestamp(t / 1e6, UTC) for t in (self.low, self.high)]
            conn.execute(_SKEW, (*ledger, self.count, *ts, (box_now_us - self.now_us) / 1e6))


def claim(conn: psycopg.Connection, ledger: tuple[str, str, int], row_count: int) -> datetime | None:
    """Insert the batch's ledger row (inside the caller's transaction): central's time, or None when the
    ledger already has it (delivered before: skip it whole)."""
    received = conn.execute(_LEDGER, (*ledger, row_count)).fetchone()
    return received[0] if received else None


def copy_pieces(conn: psycopg.Connection, statement: sql.Composed, pieces: Iterable[bytes]) -> None:
    """One binary COPY of an encoded payload, piece by piece as it is produced."""
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for piece in pieces:
            copy.write(piece)


def _copy(conn: psycopg.Connection, statement: sql.Composed, encoder: RowEncoder, chunks: Chunks) -> None:
    copy_pieces(conn, statement, encoder.payload(chunks))


def _copy_refused(e: BaseException) -> bool:
    """The COPY route was refused by its rows: a data error, or on Citus any COPY error with SQLSTATE XX000.
    Citus 13.2 reports a shard's COPY error (a duplicate key, a CHECK) as internal_error, the shard's code lost,
    so the staging route is tried: its INSERT ... ON CONFLICT keeps the shard's code, which tells data errors
    (dead letters) from the rest (raised)."""
    return is_data_error(e) or (isinstance(e, psycopg.Error) and e.sqlstate == "XX000")


def _staged(conn: psycopg.Connection, target: Target, rows: list[tuple]) -> DeadRows:
    """Staging + INSERT ... ON CONFLICT; on a data error, bisect (each half in a savepoint) to the bad rows."""
    conn.execute(target.stage)

    def attempt(part: list[tuple]) -> DeadRows:
        try:
            with conn.transaction():
                _copy(conn, target.stage_copy, target.encoder, [part])
                conn.execute(target.from_stage)
                conn.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(f"sync_stage_{target.spec.name}")))
            return []
        except (psycopg.Error, EncodeError) as e:
            if not is_data_error(e):
                raise
            if len(part) == 1:
                state = getattr(e, "sqlstate", None) or "encode"
                return [(part[0], f"{state}: {describe(e)}")]
            mid = len(part) // 2
            return attempt(part[:mid]) + attempt(part[mid:])

    return attempt(rows)


def deliver(conn: psycopg.Connection, target: Target, ledger: tuple[str, str, int], row_count: int,
            read: Callable[[], Chunks], *, box_now_us: int, skew_limit_s: float,
            on_dead: Callable[[DeadRows], None]) -> Delivery:
    """Deliver one batch in one central transaction. `ledger` is its key (device id, ledger stream name,
    batch number); `read()` yields its rows in chunks (called again for the fallback route). `on_dead` runs
    before the commit: dead letters are recorded locally first, so a crash after the commit cannot lose them.
    Raises on errors other than data errors."""
    with conn.transaction():
        central_now = claim(conn, ledger, row_count)
        if central_now is None:
            return SKIPPED
        skew = SkewWatch(target.time_index, central_now, skew_limit_s)
        dead: DeadRows = []
        route = Route.UPSERT if target.spec.upsert_key else Route.COPY
        if route == Route.COPY:
            try:
                with conn.transaction():
                    _copy(conn, target.copy, target.encoder, skew.watch(read()))
            except (psycopg.Error, EncodeError) as e:
                if not _copy_refused(e):
                    raise
                route = Route.STAGING
        if route != Route.COPY:
            skew = SkewWatch(target.time_index, central_now, skew_limit_s)
            dead = _staged(conn, target, [r for rows in skew.watch(read()) for r in rows])
        skew.record(conn, ledger, box_now_us)
        if dead:
            on_dead(dead)
    return Delivery(duplicate=False, route=route, dead=len(dead), flagged=skew.count)
