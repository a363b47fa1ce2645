"""Extra central connections for the events backlog, one thread each.

The agent's thread reads a batch from the buffer and encodes it; a lane thread streams it with COPY over its
own connection. While the server ingests one batch, the agent already encodes the next one for another lane.
A lane takes the fast route only (ledger row + COPY straight into the table, one transaction); if anything
fails, its transaction is rolled back and the agent sends that batch again on its own sequential path (with
retries, the staging fallback and dead letters). Only the agent's thread touches the SQLite buffer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from edge.store.outbox import Batch
from sync.agent.deliver import SKIPPED, Delivery, Route, SkewWatch, Target, claim, copy_pieces


class Aborted(Exception):
    """The agent could not produce the whole batch: the lane must not commit it."""


@dataclass
class LaneJob:
    batch: Batch
    ledger: tuple[str, str, int]
    target: Target
    box_now_us: int
    claimed: Future[datetime | None] = field(default_factory=Future)  # central time; None: delivered before
    pieces: queue.SimpleQueue[bytes | None | Aborted] = field(default_factory=queue.SimpleQueue)
    skew: SkewWatch | None = None  # set by the agent before the last piece
    done: Future[Delivery] = field(default_factory=Future)

    def feed(self, pieces: Iterable[bytes], skew: SkewWatch) -> None:
        """Hand over the payload piece by piece as `pieces` produces it (`skew` watches its rows). On any error
        the lane is told to abort, so an incomplete batch is never committed."""
        try:
            for piece in pieces:
                self.pieces.put(piece)
        except BaseException:
            self.pieces.put(Aborted())
            raise
        self.skew = skew
        self.pieces.put(None)


class Lane:
    """A thread with its own central connection, delivering the jobs submitted to it in order."""

    def __init__(self, connect: Callable[[], psycopg.Connection], name: str) -> None:
        self._connect = connect
        self._conn: psycopg.Connection | None = None
        self._jobs: queue.SimpleQueue[LaneJob | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: LaneJob) -> LaneJob:
        self._jobs.put(job)
        return job

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                try:
                    job.done.set_result(self._deliver(job))
                except BaseException as e:  # handed back to the agent, which sends the batch itself
                    if self._conn is not None:
                        self._conn.close()
                        self._conn = None
                    if not job.claimed.done():
                        job.claimed.set_exception(e)
                    job.done.set_exception(e)
        finally:
            if self._conn is not None:
                self._conn.close()

    @staticmethod
    def _pieces(job: LaneJob) -> Iterator[bytes]:
        while (piece := job.pieces.get()) is not None:
            if isinstance(piece, Aborted):
                raise piece
            yield piece

    def _deliver(self, job: LaneJob) -> Delivery:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        conn = self._conn
        with conn.transaction():
            central_now = claim(conn, job.ledger, job.batch.row_count)
            job.claimed.set_result(central_now)
            if central_now is None:
                return SKIPPED
            copy_pieces(conn, job.target.copy, self._pieces(job))
            assert job.skew is not None
            job.skew.record(conn, job.ledger, job.box_now_us)
        return Delivery(duplicate=False, route=Route.COPY, dead=0, flagged=job.skew.count)
