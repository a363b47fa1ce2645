"""Box side of the sync, no central database: fixed batches, cursors that never go back, pruning, policy."""

from __future__ import annotations

import struct

from edge.records import CrossingEvent
from edge.store.buffer import Buffer
from edge.store.outbox import Outbox, Pending, sync_metrics
from sync.agent.binary import HEADER, TRAILER, RowEncoder
from sync.agent.policy import batch_due, buffer_alert_due
from tests.support.sync import crossing, fill

T0 = 1_764_000_000_000_000
SELECT = "event_id, ts_us"


def add(path, n: int, ts_us: int = T0) -> list[CrossingEvent]:
    events = [crossing(ts_us=ts_us + i, track_id=i) for i in range(n)]
    with Buffer(path, synchronous="normal") as b:
        b.record_frame(events, ts_us)
    return events


def rows(o: Outbox, batch, select: str = SELECT) -> list[tuple]:
    return [r for chunk in o.rows(batch, select, "box1", chunk=2) for r in chunk]


def test_batches_are_fixed_before_sending_and_numbered_in_order(tmp_path):
    db = tmp_path / "b.sqlite"
    events = add(db, 5)
    with Outbox(db) as o:
        assert o.pending("events") == Pending(5, T0)
        first, second = o.cut("events", 3, T0), o.cut("events", 3, T0)
        assert (first.batch_no, first.row_count, second.batch_no, second.row_count) == (1, 3, 2, 2)
        assert o.cut("events", 3, T0) is None
        add(db, 2, T0 + 100)  # rows added later never join a fixed batch: a re-send is the same rows
        assert [r[0] for r in rows(o, second)] == [e.event_id for e in events[3:]]
        assert [b.batch_no for b in o.unsent("events")] == [1, 2]
        o.mark_sent(first, T0)
        assert [b.batch_no for b in o.unsent("events")] == [2]
        assert o.backlog("events") == Pending(4, T0 + 3)
    status = sync_metrics(db, T0 + 3 + 2_000_000)  # read-only, as `edge status` opens it
    assert status == {"rows_pending": 5, "oldest_pending_age_s": 2.0, "dead_letters": 0}


def test_minute_batches_snapshot_the_counts(tmp_path):
    db = tmp_path / "b.sqlite"
    add(db, 3)
    with Outbox(db) as o:
        batch = o.cut("minutes", 100, T0)
        add(db, 2)  # the same minute changes again: a new snapshot, the fixed batch keeps its values
        assert rows(o, batch, ":device || '/' || camera, count_in") == [("box1/door", 3)]
        assert o.pending("minutes").rows == 1
        later = o.cut("minutes", 100, T0)
        assert rows(o, later, "count_in") == [(5,)]


def test_pruning_keeps_unsent_rows_and_never_reuses_numbers(tmp_path):
    db = tmp_path / "b.sqlite"
    add(db, 4)
    with Outbox(db) as o:
        sent, unsent = o.cut("events", 2, T0), o.cut("events", 2, T0)
        o.mark_sent(sent, T0)
        assert o.prune(T0 + 1) == 2  # the sent batch's rows; the minute row is still waiting to be sent
        assert [b.batch_no for b in o.unsent("events")] == [unsent.batch_no]
        assert len(rows(o, unsent)) == 2
        o.mark_sent(unsent, T0)
        o.prune(T0 + 1)
        seqs = [r[0] for r in o.conn.execute("SELECT seq FROM crossings")]
        assert seqs == [4]  # the newest row stays, so SQLite never hands out a sent seq again
        add(db, 1)
        batch = o.cut("events", 10, T0)
        assert (batch.batch_no, batch.first_seq, batch.row_count) == (3, 5, 1)


def test_dead_letters_of_a_retried_batch_are_replaced(tmp_path):
    db = tmp_path / "b.sqlite"
    fill(db, 3)
    with Outbox(db) as o:
        batch = o.cut("events", 10, T0)
        o.record_dead_letters(batch, ("event_id",), [(("a",), "23514: bad"), (("b",), "23514: bad")], T0)
        o.record_dead_letters(batch, ("event_id",), [(("a",), "23514: bad")], T0)
        assert o.dead_letter_count() == 1
        assert o.conn.execute("SELECT row_json FROM sync_dead_letters").fetchone()[0] == '{"event_id": "a"}'


def test_policy():
    assert not batch_due(Pending(0, None), T0, 10, 1.0, draining=True)
    assert batch_due(Pending(10, T0), T0, 10, 1.0, draining=False)
    assert not batch_due(Pending(3, T0), T0 + 500_000, 10, 1.0, draining=False)
    assert batch_due(Pending(3, T0), T0 + 1_000_000, 10, 1.0, draining=False)
    assert batch_due(Pending(3, T0), T0, 10, 1.0, draining=True)
    assert buffer_alert_due(11, 10, None, T0) and not buffer_alert_due(9, 10, None, T0)
    assert not buffer_alert_due(11, 10, T0, T0 + 1_000_000)


def test_binary_encoding_fast_null_and_packed_paths_agree():
    enc = RowEncoder(["text", "int8", "uuid", "timestamptz", "float4"])
    assert enc.order == (1, 2, 3, 4, 0)
    assert (
        enc.select(["cam", "track", "event_id", "ts", "score"]) == "track, replace(event_id, '-', ''), ts, score, cam"
    )
    uid = "019ab697e80075089cd11db32b7f64be"  # as SQLite hands it over
    full = b"".join(enc.payload([[(7, uid, 946_684_800_000_001, 0.5, "cam")]]))
    fields = (
        struct.pack(">iq", 8, 7)
        + struct.pack(">i", 16)
        + bytes.fromhex(uid)
        + struct.pack(">iq", 8, 1)
        + struct.pack(">if", 4, 0.5)
        + struct.pack(">i", 3)
        + b"cam"
    )
    assert full == HEADER + struct.pack(">h", 5) + fields + TRAILER
    with_null = b"".join(enc.payload([[(None, uid, 946_684_800_000_001, 0.5, None)]]))
    assert with_null == (
        HEADER + struct.pack(">h", 5) + b"\xff\xff\xff\xff" + fields[12:-7] + b"\xff\xff\xff\xff" + TRAILER
    )
    packed = RowEncoder(["text", "int8", "text"], packed_text=True)
    assert packed.select(["a", "n", "b"]) == "n, (a) || char(31) || (b)"
    assert packed.readable((7, "a\x1fbc")) == [7, "a", "bc"]
    assert enc.readable((7, uid, 1, 0.5, "cam"))[1] == "019ab697-e800-7508-9cd1-1db32b7f64be"
    assert (
        packed.encode([(7, "a\x1fbc")])
        == packed.encode([(None, "a\x1fbc")]).replace(b"\xff\xff\xff\xff", struct.pack(">iq", 8, 7))
        == (
            struct.pack(">h", 3) + struct.pack(">iq", 8, 7) + struct.pack(">i", 1) + b"a" + struct.pack(">i", 2) + b"bc"
        )
    )
