"""`edge sync`: deliver the box buffer to the central database, batch by batch, exactly once in effect.

Per stream: first the batches fixed earlier but not confirmed (a crash or an outage came in between), then new
batches as they come due. A batch is marked sent locally only after the central commit; a re-send finds its
ledger row and inserts nothing. Transient errors (connection lost, server restarting) are retried with capped
exponential backoff and jitter; rows central rejects go to the local dead-letter table and the rest flows on.
A backlog of events is streamed over `parallel` connections (sync/agent/lanes.py).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import partial

import psycopg
import tenacity

from edge.config import BoxConfig
from edge.errors import Fatal, Rejected, Unavailable, UserError
from edge.records import now_us
from edge.store.outbox import Batch, Outbox
from edge.store.schema import Stream
from sync.agent.binary import EncodeError
from sync.agent.deliver import DeadRows, Delivery, SkewWatch, Target, deliver, prepare
from sync.agent.lanes import Lane, LaneJob
from sync.agent.policy import batch_due, buffer_alert_due
from sync.agent.retry import retrying
from sync.connect import check_dsn, connect, describe, is_transient
from sync.streams import SPECS, STREAMS

log = logging.getLogger("edge.sync")
HOUSEKEEPING_S = 60.0

OnDelivered = Callable[[Batch, Target, Delivery], None]


@dataclass
class Metrics:
    rows_pending: int = 0
    oldest_pending_age_s: float = 0.0
    batches_sent: int = 0
    rows_sent: int = 0
    duplicates_skipped: int = 0
    retries: int = 0
    dead_letters: int = 0
    clock_skew_rows: int = 0


class Agent:
    """Delivers one box buffer (an `Outbox`) to the central database named by `config.sync.dsn`."""

    def __init__(self, config: BoxConfig, outbox: Outbox, stop: threading.Event | None = None,
                 on_delivered: OnDelivered | None = None) -> None:
        self.device_id = config.device_id
        self.settings = config.sync
        self.dsn: str = self.settings.dsn or ""
        check_dsn(self.settings.dsn)
        self.outbox = outbox
        self.stop = stop or threading.Event()
        self.on_delivered = on_delivered
        self.metrics = Metrics()
        self._conn: psycopg.Connection | None = None
        self._targets: dict[str, Target] = {}   # per connection
        self._paused: dict[Stream, float] = {}      # stream -> monotonic time of its next try after a failure
        self._lanes: list[Lane] = []
        self._last_housekeeping_us = 0
        self._last_alert_us: int | None = None

    def close(self) -> None:
        for lane in self._lanes:
            lane.close()
        self._lanes = []
        self._drop_connection()

    def _connection(self) -> psycopg.Connection:
        """The agent's connection. Fatal when central refuses it for good (password, database, pg_hba, TLS, not
        PostgreSQL): no stream can go and waiting cannot help, so `edge sync` stops with that one line instead
        of retrying forever (the systemd unit starts it again later). An outage raises Unavailable (retried)."""
        if self._conn is None or self._conn.closed:
            try:
                self._conn = connect(self.dsn, timeout_s=self.settings.connect_timeout_s,
                                     application_name=f"edge-sync {self.device_id}")
            except UserError as e:
                raise Fatal(f"{e}; then fix [sync] dsn in the secrets file") from None
            self._targets = {}
        return self._conn

    def _check_connection(self) -> None:
        """Connect once up front, so that a refused DSN stops the agent even with nothing to send."""
        try:
            self._connection()
        except Unavailable:
            pass  # an outage: the deliveries retry

    def _target(self, stream: Stream) -> Target:
        """The stream's central table as this connection finds it; UserError if the schema cannot take it
        (checked again on every attempt until it can: only that stream waits for `edge central migrate`)."""
        conn = self._connection()
        if stream not in self._targets:
            self._targets[stream] = prepare(conn, SPECS[stream])
        return self._targets[stream]

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _retried(self) -> None:
        self.metrics.retries += 1
        self.outbox.count_retry()

    def _on_retry(self, state: tenacity.RetryCallState) -> None:
        self._retried()
        e = state.outcome.exception() if state.outcome else None
        log.warning("central unavailable, retrying", extra={
            "attempt": state.attempt_number, "sleep_s": round(state.upcoming_sleep, 2),
            "error": describe(e, self.dsn) if e else ""})

    def _attempt(self, batch: Batch) -> tuple[Target, Delivery]:
        target = self._target(batch.stream)
        conn = self._connection()

        def on_dead(dead: DeadRows) -> None:
            readable = [(tuple(target.encoder.readable(row)), error) for row, error in dead]
            self.outbox.record_dead_letters(batch, target.columns, readable, now_us())

        try:
            result = deliver(conn, target, (self.device_id, batch.ledger_stream, batch.batch_no), batch.row_count,
                             lambda: self.outbox.rows(batch, target.select, self.device_id),
                             box_now_us=now_us(), skew_limit_s=self.settings.clock_skew_s, on_dead=on_dead)
        except psycopg.Error:
            self._drop_connection()
            raise
        return target, result

    def send(self, batch: Batch) -> None:
        """Deliver one batch (retrying transient errors), then mark it sent. Unavailable when central cannot be
        reached, Rejected when it refuses the batch."""
        try:
            for attempt in retrying(self.settings, self._on_retry, self.stop):
                with attempt:
                    target, result = self._attempt(batch)
        except (psycopg.Error, Unavailable) as e:
            where = f"({batch.stream} batch {batch.batch_no}): {describe(e, self.dsn)}"
            if is_transient(e):
                raise Unavailable(f"central database unreachable {where}") from None
            raise Rejected(f"central database refused the batch {where}") from None
        self._finish(batch, target, result)

    def _finish(self, batch: Batch, target: Target, result: Delivery) -> None:
        """After the central commit: mark the batch sent, count it, say what needs attention."""
        self.outbox.mark_sent(batch, now_us())
        m = self.metrics
        m.batches_sent += 1
        m.duplicates_skipped += result.duplicate
        m.rows_sent += 0 if result.duplicate else batch.row_count - result.dead
        m.dead_letters += result.dead
        m.clock_skew_rows += result.flagged
        if result.dead:
            message = f"{result.dead} {batch.stream} rows rejected by central, kept in sync_dead_letters"
            log.error(message, extra={"stream": batch.stream, "batch": batch.batch_no})
            if batch.stream != Stream.ALERTS:  # an alert about rejected alerts could be rejected in turn, forever
                self.outbox.alert("dead_letter", message, now_us())
        if result.flagged:
            log.warning("rows stamped far from central time (clock skew?)",
                        extra={"stream": batch.stream, "batch": batch.batch_no, "rows": result.flagged})
        if self.on_delivered:
            self.on_delivered(batch, target, result)

    def _batches(self, stream: Stream, draining: bool) -> Iterator[Batch]:
        """Batches fixed earlier and not confirmed, then new ones as they come due, up to the rows that were
        waiting when the stream's turn began. A stream fed while it goes (the current minute's counts, rewritten
        at every crossing, when a delivery takes longer than `max_wait_s`) would otherwise keep its turn for
        ever and the other streams would wait: the events did, on Citus, for as long as a box kept counting."""
        yield from self.outbox.unsent(stream)
        size = self.settings.batch_size
        budget = self.outbox.pending(stream).rows
        while budget > 0 and not self.stop.is_set() and batch_due(self.outbox.pending(stream, size), now_us(),
                                                                   size, self.settings.max_wait_s, draining):
            batch = self.outbox.cut(stream, size, now_us())
            if batch is None:
                return
            budget -= batch.row_count
            yield batch

    def _send_through_lanes(self, batches: Iterator[Batch]) -> None:
        """Events: each batch goes to the next lane; this thread reads and encodes while the lanes' COPYs run.
        At the first batch a lane could not deliver, pipelining stops and the failed batches go again on the
        sequential path."""
        try:
            target = self._target(Stream.EVENTS)
        except (psycopg.Error, Unavailable):  # unreachable: the sequential path retries
            self._drop_connection()
            for batch in batches:
                self.send(batch)
            return
        if not self._lanes:
            self._lanes = [Lane(partial(connect, self.dsn, timeout_s=self.settings.connect_timeout_s,
                                        application_name=f"edge-sync {self.device_id} lane {i}"), f"sync-lane-{i}")
                           for i in range(self.settings.parallel)]
        in_flight: deque[LaneJob] = deque()
        failed: list[Batch] = []
        for i, batch in enumerate(batches):
            job = self._lanes[i % len(self._lanes)].submit(
                LaneJob(batch, (self.device_id, batch.ledger_stream, batch.batch_no), target, now_us()))
            in_flight.append(job)
            try:
                central_now = job.claimed.result()
            except Exception:
                central_now = None  # the lane failed: settled below
            if central_now is not None:
                skew = SkewWatch(target.time_index, central_now, self.settings.clock_skew_s)
                try:
                    job.feed(target.encoder.payload(skew.watch(self.outbox.rows(batch, target.select,
                                                                                self.device_id))), skew)
                except EncodeError:
                    pass  # the lane aborts; the sequential path isolates the row
            while in_flight and (in_flight[0].done.done() or len(in_flight) > len(self._lanes)):
                self._settle(in_flight.popleft(), target, failed)
            if failed:
                break
        while in_flight:
            self._settle(in_flight.popleft(), target, failed)
        for batch in failed:
            self.send(batch)

    def _settle(self, job: LaneJob, target: Target, failed: list[Batch]) -> None:
        try:
            result = job.done.result()
        except Exception as e:
            self._retried()
            log.warning("lane could not deliver, sending the batch again", extra={
                "batch": job.batch.batch_no, "error": describe(e, self.dsn)})
            failed.append(job.batch)
            return
        self._finish(job.batch, target, result)

    def step(self, draining: bool) -> None:
        """Send unconfirmed batches, then every batch that is due (all pending rows when draining).

        A stream that cannot be delivered (its table missing centrally, a batch refused) does not hold the
        others up: it waits `retry_max_s` before its next try (not when draining), and its error is raised
        once the other streams are done."""
        errors = []
        for spec in STREAMS:
            stream = spec.stream
            if not draining and time.monotonic() < self._paused.get(stream, 0.0):
                continue
            try:
                batches = self._batches(stream, draining)
                if stream == Stream.EVENTS and self.settings.parallel > 1:
                    self._send_through_lanes(batches)
                else:
                    for batch in batches:
                        self.send(batch)
            except (UserError, Rejected) as e:  # Unavailable: no stream can go now, the caller waits
                self._paused[stream] = time.monotonic() + self.settings.retry_max_s
                errors.append(str(e))
            else:
                self._paused.pop(stream, None)
        if errors:
            raise Rejected("; ".join(errors))

    def housekeeping(self, force: bool = False) -> None:
        """Every minute: prune sent rows past retention, alert on buffer size, refresh and log the metrics."""
        now = now_us()
        if not force and now - self._last_housekeeping_us < HOUSEKEEPING_S * 1e6:
            return
        self._last_housekeeping_us = now
        pruned = self.outbox.prune(now - int(self.settings.retention_s * 1e6))
        size = self.outbox.size_bytes()
        if buffer_alert_due(size, self.settings.alert_buffer_bytes, self._last_alert_us, now):
            self._last_alert_us = now
            message = f"buffer is {size / 1e6:.0f} MB, over the {self.settings.alert_buffer_bytes / 1e6:.0f} MB limit"
            log.error(message, extra={"path": str(self.outbox.path)})
            self.outbox.alert("buffer_size", message, now)
        self.refresh_metrics()
        log.info("sync metrics", extra={**asdict(self.metrics), "pruned": pruned, "buffer_bytes": size})

    def refresh_metrics(self) -> Metrics:
        summary = self.outbox.summary(now_us())
        self.metrics.rows_pending = int(summary["rows_pending"])
        self.metrics.oldest_pending_age_s = float(summary["oldest_pending_age_s"])
        return self.metrics

    def drain(self) -> Metrics:
        """`--once`: deliver everything buffered now, and the alert housekeeping may raise; an EdgeError when
        something could not be delivered."""
        self._check_connection()
        self.step(draining=True)
        self.housekeeping(force=True)
        self.step(draining=True)
        return self.refresh_metrics()

    def run(self) -> None:
        """Until `stop` is set: deliver as batches come due; on a failure, log it and try again later (Fatal when
        central refuses the connection)."""
        self._check_connection()
        while not self.stop.is_set():
            try:
                self.step(draining=False)
                self.housekeeping()
            except Unavailable as e:
                log.error(str(e))
                self.stop.wait(self.settings.retry_max_s)
                continue
            except (UserError, Rejected) as e:  # the streams that failed wait retry_max_s; the others go on
                log.error(str(e))
            except sqlite3.OperationalError as e:  # disk full, I/O error: nothing sent is lost, try again later
                log.error("buffer refuses writes", extra={"path": str(self.outbox.path), "error": str(e),
                                                          "fix": "free disk space or check the buffer file"})
                self.stop.wait(self.settings.retry_max_s)
                continue
            self.stop.wait(self.settings.poll_s)
