"""BufferWriter: crossings a full buffer refuses are held in order and stored once when it accepts writes again."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from edge.records import BoxHealth, now_us
from edge.store.buffer import Buffer
from edge.store.held import HeldWrites
from tests.support.sync import camera_health, crossing, full

UNLIMITED = 1073741823


def stored(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT track_id, direction FROM crossings WHERE camera = 'door' ORDER BY track_id"
        ).fetchall()


def test_refused_crossings_are_held_and_stored_once_when_the_buffer_takes_writes_again(tmp_path, caplog):
    path = tmp_path / "b.sqlite"
    with Buffer(path, "normal") as buffer:
        writer = HeldWrites(buffer)
        assert writer.record_frame([crossing(track_id=1)], now_us()) and writer.unsaved() is None
        full(buffer)
        with caplog.at_level(logging.ERROR, "edge.buffer"):
            for i in range(2, 40):
                assert not writer.record_frame(
                    [crossing(track_id=i, direction=("in", "out")[i % 2]) for _ in range(30)], now_us()
                )
        assert len(writer.held) == 38 * 30
        assert [r.message for r in caplog.records] == ["buffer refuses writes, crossings held in memory"]  # once
        assert "full" in caplog.records[0].error
        lost = writer.unsaved()
        assert lost and str(path) in lost and "1140 crossings not stored" in lost and "free disk space" in lost
        writer.record_health(
            [], BoxHealth(ts_us=now_us(), device_id="box1", cpu_percent=1.0, mem_mb=2.0, buffer_bytes=3, pending_rows=4)
        )  # a sample: skipped, no raise
        assert stored(path) == [(1, "in")]  # nothing partial went in

        buffer.conn.execute(f"PRAGMA max_page_count = {UNLIMITED}")
        assert writer.retry(now_us()) and writer.unsaved() is None and not writer.held
        assert len(stored(path)) == 1 + 38 * 30  # each once
        totals = buffer.totals()["door"]["entrance"]
        assert totals == {"in": 1 + 19 * 30, "out": 19 * 30}
        assert writer.retry(now_us()) and len(stored(path)) == 1 + 38 * 30  # nothing held: nothing written


def test_a_bug_in_what_is_written_is_raised_not_held(tmp_path):
    with Buffer(tmp_path / "b.sqlite", "normal") as buffer:
        writer = HeldWrites(buffer)
        event = crossing()
        writer.record_frame([event], now_us())
        with pytest.raises(sqlite3.IntegrityError):  # the same event id twice: holding it would block every write
            writer.record_frame([event], now_us())


def test_at_most_limit_crossings_are_held_the_oldest_go_first(tmp_path):
    with Buffer(tmp_path / "b.sqlite", "normal") as buffer:
        writer = HeldWrites(buffer, limit=5)
        full(buffer)
        for i in range(8):
            writer.record_frame([crossing(track_id=i)], now_us())
        assert [e.track_id for e in writer.held] == [3, 4, 5, 6, 7] and writer.dropped == 3
        buffer.conn.execute(f"PRAGMA max_page_count = {UNLIMITED}")
        health = camera_health(now_us(), "door", fps_processed=10.0, latency_p50_ms=1.0, latency_p95_ms=2.0)
        writer.record_health(
            [health],
            BoxHealth(ts_us=now_us(), device_id="box1", cpu_percent=1.0, mem_mb=2.0, buffer_bytes=3, pending_rows=4),
        )
        assert writer.retry(now_us()) and [t for t, _ in stored(tmp_path / "b.sqlite")] == [3, 4, 5, 6, 7]
