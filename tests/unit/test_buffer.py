"""SQLite buffer: schema, atomic frames, migrations, durability under SIGKILL, broken files."""

import hashlib
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from edge.errors import EdgeError
from edge.records import CrossingEvent, uuid7
from edge.store.buffer import Buffer
from edge.store.schema import MINUTE_US, SCHEMA_VERSION

T0 = 1_764_000_000_000_000  # a whole minute, in microseconds


def event(line: str = "door", direction: str = "in", ts_us: int = T0, frame: int = 1) -> CrossingEvent:
    return CrossingEvent(
        event_id=uuid7(ts_us),
        device_id="box1",
        camera="cam",
        line=line,
        direction=direction,
        track_id=7,
        ts_us=ts_us,
        frame=frame,
        score=0.9,
        model="yolox-nano",
    )


def test_new_buffer_is_wal_at_the_current_schema(tmp_path):
    with Buffer(tmp_path / "b.sqlite") as b:
        assert b.version == SCHEMA_VERSION
        assert b.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert {"crossings", "minute_counts", "camera_health", "box_health"} <= set(b.db.table_names())


def test_frame_results_and_minute_counts(tmp_path):
    with Buffer(tmp_path / "b.sqlite") as b:
        b.record_frame([event(), event(direction="out"), event(line="exit")], now_us=T0)
        b.record_frame([event(ts_us=T0 + MINUTE_US + 5)], now_us=T0)
        rows = b.conn.execute("SELECT line, minute_us, count_in, count_out FROM minute_counts ORDER BY 1, 2").fetchall()
        assert rows == [("door", T0, 1, 1), ("door", T0 + MINUTE_US, 1, 0), ("exit", T0, 1, 0)]
        assert b.totals() == {"cam": {"door": {"in": 2, "out": 1}, "exit": {"in": 1, "out": 0}}}
        assert b.conn.execute("SELECT COUNT(DISTINCT event_id) FROM crossings").fetchone()[0] == 4


def test_a_failing_frame_leaves_nothing_half_written(tmp_path):
    with Buffer(tmp_path / "b.sqlite") as b:
        good = event()
        with pytest.raises(sqlite3.IntegrityError):
            b.record_frame([event(line="other"), good, good], now_us=T0)  # duplicate id: whole frame rolls back
        assert b.conn.execute("SELECT COUNT(*) FROM crossings").fetchone()[0] == 0
        assert b.conn.execute("SELECT COUNT(*) FROM minute_counts").fetchone()[0] == 0


def test_uuid7_is_time_ordered_and_unique():
    ids = [uuid7(T0 + i * 1000) for i in range(1000)]
    assert ids == sorted(ids) and len(set(ids)) == 1000 and ids[0][14] == "7"


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_newer_schema_is_refused_untouched(tmp_path):
    path = tmp_path / "b.sqlite"
    with Buffer(path) as b:
        b.record_frame([event()], now_us=T0)
        b.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        b.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = sha(path)
    with pytest.raises(EdgeError, match=rf"schema version {SCHEMA_VERSION + 1}, newer .* upgrade edge-counter"):
        Buffer(path)
    assert sha(path) == before


def test_a_file_that_is_not_a_database_is_refused_untouched(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("my notes\n" * 100)
    with pytest.raises(EdgeError, match="notes.txt.*not a database"):
        Buffer(path)
    assert path.read_text() == "my notes\n" * 100


def test_unwritable_path_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(EdgeError, match="cannot open buffer database .*choose a writable path"):
        Buffer(blocker / "b.sqlite")


def test_committed_frames_survive_sigkill(tmp_path):
    path = tmp_path / "b.sqlite"
    writer = textwrap.dedent(f"""
        import sys
        from edge.store.buffer import Buffer
        from edge.records import CrossingEvent, uuid7
        b = Buffer({str(path)!r})
        i = 0
        while True:
            i += 1
            e = [CrossingEvent(event_id=uuid7({T0} + i), device_id="box1", camera="cam", line="door", direction=d,
                                  track_id=i, ts_us={T0} + i, frame=i, score=0.9, model="m") for d in ("in", "out")]
            b.record_frame(e, now_us={T0})
            print(i, flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", writer], stdout=subprocess.PIPE, text=True)
    last = 0
    for line in proc.stdout:
        last = int(line)
        if last >= 300:
            break
    proc.kill()
    proc.wait()
    proc.stdout.close()
    with Buffer(path) as b:
        assert b.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n = b.conn.execute("SELECT COUNT(*) FROM crossings").fetchone()[0]
        assert n % 2 == 0 and n >= 2 * last  # whole frames only, every acknowledged one kept
        ((n_in, n_out),) = b.conn.execute("SELECT SUM(count_in), SUM(count_out) FROM minute_counts")
        assert n_in == n_out == n // 2
