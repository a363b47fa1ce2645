"""Box side of the sync: numbered batches fixed in the SQLite buffer before sending, sent marks, dead letters,
pruning, alerts. Schema: edge/store/schema.py (migrations 1-3).

A batch is fixed (stream, number, seq range or minute snapshot) in one SQLite transaction before it is sent,
so a re-send after a crash carries exactly the same rows. Batch numbers and seq cursors live in
`sync_streams` and never go back, even when old batches and rows are pruned.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from edge.records import now_us
from edge.store.buffer import Buffer
from edge.store.schema import SEQ_TABLES, SYNC_SCHEMA_VERSION, Stream


@dataclass(frozen=True, kw_only=True)
class Batch:
    stream: Stream
    ledger_stream: str           # the stream's name in the central ledger: unique to this buffer
    batch_no: int
    first_seq: int
    last_seq: int
    row_count: int
    created_us: int


@dataclass(frozen=True)
class Pending:
    """Rows of a stream not yet in any batch: how many and the time stamp of the oldest."""

    rows: int
    oldest_us: int | None


class OutboxView:
    """Read-only queries on a buffer's sync state (works on a read-only connection)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def _cursor(self, stream: Stream) -> tuple[int, int, str]:
        next_seq, next_batch_no, ledger = self.conn.execute(
            "SELECT next_seq, next_batch_no, ledger_stream FROM sync_streams WHERE stream = ?", (stream,)).fetchone()
        return next_seq, next_batch_no, ledger

    def pending(self, stream: Stream, limit: int = -1) -> Pending:
        """Rows not in any batch yet, counted up to `limit` (-1: all): enough to decide on a batch, cheaply."""
        if stream == Stream.MINUTES:
            n, oldest = self.conn.execute(
                "SELECT COUNT(*), MIN(m.updated_us) FROM sync_dirty_minutes d JOIN minute_counts m "
                "USING (camera, line, minute_us)").fetchone()
            return Pending(n, oldest)
        table = SEQ_TABLES[Stream(stream)]
        next_seq, _, _ = self._cursor(stream)
        n = self.conn.execute(f"SELECT COUNT(*) FROM (SELECT 1 FROM {table} WHERE seq >= ? LIMIT ?)",
                              (next_seq, limit)).fetchone()[0]
        oldest = self.conn.execute(f"SELECT ts_us FROM {table} WHERE seq >= ? ORDER BY seq LIMIT 1",
                                   (next_seq,)).fetchone()
        return Pending(n, oldest[0] if oldest else None)

    def backlog(self, stream: Stream) -> Pending:
        """Everything not yet confirmed by central, batched or not: rows and the time stamp of the oldest."""
        pending = self.pending(stream)
        batched, first_seq, first_batch = self.conn.execute(
            "SELECT COALESCE(SUM(row_count), 0), MIN(first_seq), MIN(batch_no) FROM sync_batches "
            "WHERE stream = ? AND sent_us IS NULL", (stream,)).fetchone()
        oldest = pending.oldest_us
        if first_batch is not None:
            if stream == Stream.MINUTES:
                row = self.conn.execute("SELECT MIN(updated_us) FROM sync_minute_rows WHERE batch_no = ?",
                                        (first_batch,)).fetchone()
            else:
                row = self.conn.execute(
                    f"SELECT ts_us FROM {SEQ_TABLES[Stream(stream)]} WHERE seq >= ? ORDER BY seq LIMIT 1", (first_seq,)
                ).fetchone()
            oldest = row[0] if row and row[0] is not None else oldest
        return Pending(pending.rows + batched, oldest)

    def unsent(self, stream: Stream) -> list[Batch]:
        """Batches fixed but not yet confirmed by central, oldest first."""
        rows = self.conn.execute(
            "SELECT b.stream, s.ledger_stream, b.batch_no, b.first_seq, b.last_seq, b.row_count, b.created_us "
            "FROM sync_batches b JOIN sync_streams s USING (stream) "
            "WHERE b.stream = ? AND b.sent_us IS NULL ORDER BY b.batch_no",
            (stream,),
        ).fetchall()
        return [
            Batch(
                stream=Stream(r[0]),
                ledger_stream=r[1],
                batch_no=r[2],
                first_seq=r[3],
                last_seq=r[4],
                row_count=r[5],
                created_us=r[6],
            )
            for r in rows
        ]

    def dead_letter_count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM sync_dead_letters").fetchone()[0])

    def batches_sent(self) -> dict[Stream, int]:
        """Batches central has confirmed, per stream, since the buffer was made: batch numbers are never reused,
        so it only grows (pruning sent batches does not lower it)."""
        rows = self.conn.execute(
            "SELECT s.stream, s.next_batch_no - 1 - (SELECT COUNT(*) FROM sync_batches b "
            "WHERE b.stream = s.stream AND b.sent_us IS NULL) FROM sync_streams s").fetchall()
        return {Stream(stream): int(n) for stream, n in rows}

    def retries(self) -> int:
        """Deliveries the sync agent has tried again, since the buffer was made."""
        return int(self.conn.execute("SELECT value FROM sync_counters WHERE name = 'retries'").fetchone()[0])

    def streams(self) -> list[Stream]:
        """The streams of this buffer's schema (one not migrated yet, read by `edge status`, may lack some)."""
        return [Stream(s) for (s,) in self.conn.execute("SELECT stream FROM sync_streams")]

    def summary(self, now_us: int) -> dict[str, float | int]:
        """Rows not yet confirmed by central (all streams), how long the oldest has waited (the sync lag),
        rows in the dead-letter table."""
        backlogs = [self.backlog(s) for s in self.streams()]
        oldest = min((b.oldest_us for b in backlogs if b.oldest_us is not None), default=None)
        return {
            "rows_pending": sum(b.rows for b in backlogs),
            "oldest_pending_age_s": max(0.0, (now_us - oldest) / 1e6) if oldest is not None else 0.0,
            "dead_letters": self.dead_letter_count(),
        }


class Outbox(OutboxView):
    """The sync agent's view of the box buffer, writes included. Use as a context manager."""

    def __init__(self, path: Path | str, synchronous: str = "normal") -> None:
        self._buffer = Buffer(path, synchronous=synchronous)  # creates or migrates the schema
        self.path = self._buffer.path
        super().__init__(self._buffer.conn)

    def close(self) -> None:
        self._buffer.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cut(self, stream: Stream, limit: int, now_us: int) -> Batch | None:
        """Fix the next batch of up to `limit` rows not yet batched; None when there are none."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            next_seq, batch_no, ledger = self._cursor(stream)
            if stream == Stream.MINUTES:
                n = self.conn.execute(
                    "INSERT INTO sync_minute_rows SELECT ?, camera, line, minute_us, count_in, count_out, updated_us "
                    "FROM sync_dirty_minutes JOIN minute_counts USING (camera, line, minute_us) "
                    "ORDER BY updated_us LIMIT ?",
                    (batch_no, limit),
                ).rowcount
                self.conn.execute(
                    "DELETE FROM sync_dirty_minutes WHERE (camera, line, minute_us) IN "
                    "(SELECT camera, line, minute_us FROM sync_minute_rows WHERE batch_no = ?)",
                    (batch_no,),
                )
                first, last = 0, 0
            else:
                last, n = self.conn.execute(
                    f"SELECT MAX(seq), COUNT(*) FROM (SELECT seq FROM {SEQ_TABLES[Stream(stream)]} WHERE seq >= ? "
                    "ORDER BY seq LIMIT ?)",
                    (next_seq, limit),
                ).fetchone()
                first = next_seq
            if n == 0:
                return None
            batch = Batch(
                stream=Stream(stream),
                ledger_stream=ledger,
                batch_no=batch_no,
                first_seq=first,
                last_seq=last,
                row_count=n,
                created_us=now_us,
            )
            self.conn.execute(
                "INSERT INTO sync_batches (stream, batch_no, first_seq, last_seq, row_count, created_us) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (stream, batch_no, first, last, n, now_us),
            )
            self.conn.execute(
                "UPDATE sync_streams SET next_seq = ?, next_batch_no = ? WHERE stream = ?",
                (last + 1 if stream != Stream.MINUTES else next_seq, batch_no + 1, stream),
            )
        return batch

    def rows(self, batch: Batch, select: str, device_id: str, chunk: int = 2000) -> Iterator[list[tuple]]:
        """The batch's rows in order, `chunk` at a time; `select` lists the stream's column expressions
        (`:device` stands for the device id)."""
        args = {"device": device_id, "batch_no": batch.batch_no, "first": batch.first_seq, "last": batch.last_seq}
        if batch.stream == Stream.MINUTES:
            sql = f"SELECT {select} FROM sync_minute_rows WHERE batch_no = :batch_no ORDER BY camera, line, minute_us"
        else:
            sql = f"SELECT {select} FROM {SEQ_TABLES[batch.stream]} WHERE seq BETWEEN :first AND :last ORDER BY seq"
        cursor = self.conn.execute(sql, args)
        try:
            while rows := cursor.fetchmany(chunk):
                yield rows
        finally:
            cursor.close()

    def record_dead_letters(
        self, batch: Batch, columns: tuple[str, ...], dead: list[tuple[tuple, str]], now_us: int
    ) -> None:
        """Replace the batch's dead letters (a retried batch may reject fewer or other rows)."""
        with self.conn:
            self.conn.execute(
                "DELETE FROM sync_dead_letters WHERE stream = ? AND batch_no = ?", (batch.stream, batch.batch_no)
            )
            self.conn.executemany(
                "INSERT INTO sync_dead_letters (stream, batch_no, row_json, error, created_us) VALUES (?, ?, ?, ?, ?)",
                [
                    (batch.stream, batch.batch_no, json.dumps(dict(zip(columns, row))), error, now_us)
                    for row, error in dead
                ],
            )

    def mark_sent(self, batch: Batch, now_us: int) -> None:
        with self.conn:
            self.conn.execute(
                "UPDATE sync_batches SET sent_us = ? WHERE stream = ? AND batch_no = ?",
                (now_us, batch.stream, batch.batch_no),
            )
            if batch.stream == Stream.MINUTES:
                self.conn.execute("DELETE FROM sync_minute_rows WHERE batch_no = ?", (batch.batch_no,))

    def alert(self, kind: str, message: str, now_us: int) -> None:
        """Record an alert for the operator; the alerts stream delivers it to central `box_alerts`."""
        with self.conn:
            self.conn.execute(
                "INSERT INTO sync_alerts (ts_us, kind, message) VALUES (?, ?, ?)", (now_us, kind, message)
            )

    def count_retry(self) -> None:
        """One more delivery tried again (read by `edge run`'s /metrics, which runs in another process)."""
        with self.conn:
            self.conn.execute("UPDATE sync_counters SET value = value + 1 WHERE name = 'retries'")

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in (self.path, Path(f"{self.path}-wal")) if p.exists())

    def prune(self, cutoff_us: int) -> int:
        """Delete rows of batches sent before `cutoff_us`; never an unsent row, never the newest row of a table
        (SQLite would reuse its seq). Minute counts go once older than the cutoff and not waiting to be sent."""
        deleted = 0
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            for stream, table in SEQ_TABLES.items():
                sent_upto, unsent_from, newest = self.conn.execute(
                    "SELECT (SELECT MAX(last_seq) + 1 FROM sync_batches WHERE stream = ?1 AND sent_us <= ?2), "
                    "(SELECT MIN(first_seq) FROM sync_batches WHERE stream = ?1 AND sent_us IS NULL), "
                    f"(SELECT MAX(seq) FROM {table})",
                    (stream, cutoff_us),
                ).fetchone()
                if sent_upto is None or newest is None:
                    continue
                bound = min(b for b in (sent_upto, unsent_from, newest) if b is not None)
                deleted += self.conn.execute(f"DELETE FROM {table} WHERE seq < ?", (bound,)).rowcount
            deleted += self.conn.execute(
                "DELETE FROM minute_counts WHERE minute_us < ?1 AND updated_us < ?1 AND NOT EXISTS "
                "(SELECT 1 FROM sync_dirty_minutes d WHERE d.camera = minute_counts.camera "
                "AND d.line = minute_counts.line AND d.minute_us = minute_counts.minute_us)",
                (cutoff_us,),
            ).rowcount
            self.conn.execute("DELETE FROM sync_batches WHERE sent_us <= ?", (cutoff_us,))
        return deleted


def sync_metrics(path: Path, now: int | None = None) -> dict[str, float | int]:
    """Sync metrics of the buffer at `path` (opened read-only), for `edge status`: `OutboxView.summary`
    at `now` (UTC microseconds, default the current time); {} when the buffer has no sync state yet."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] < SYNC_SCHEMA_VERSION:
            return {}
        return OutboxView(conn).summary(now_us() if now is None else now)
    finally:
        conn.close()
