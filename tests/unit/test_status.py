"""`edge status` from a real buffer: table and JSON."""

import json

from typer.testing import CliRunner

from edge.cli import app
from edge.records import CameraHealth, CrossingEvent, now_us, uuid7
from edge.store.buffer import Buffer


def write_config(tmp_path, db):
    cfg = tmp_path / "box.toml"
    cfg.write_text(f'device_id = "box1"\n[buffer]\npath = "{db}"\n'
                   '[[cameras]]\nname = "door"\nsource = "a.mp4"\n[[cameras]]\nname = "yard"\nsource = "b.mp4"\n')
    return cfg


def test_status_table_and_json(tmp_path):
    db = tmp_path / "buffer.sqlite"
    t = now_us()
    with Buffer(db) as b:
        b.record_frame(
            [
                CrossingEvent(
                    event_id=uuid7(t),
                    device_id="box1",
                    camera="door",
                    line="l",
                    direction="in",
                    track_id=1,
                    ts_us=t - 5_000_000,
                    frame=3,
                    score=0.9,
                    model="m",
                )
            ],
            t,
        )
        b.record_health(
            [
                CameraHealth(
                    ts_us=t,
                    device_id="box1",
                    camera="door",
                    status="online",
                    fps_in=10.0,
                    fps_processed=9.9,
                    drop_rate=0.0,
                    latency_p50_ms=40.0,
                    latency_p95_ms=60.0,
                    reconnects=0,
                    last_frame_us=t,
                    width=480,
                    height=360,
                    error=None,
                ),
                CameraHealth(
                    ts_us=t - 10**9,
                    device_id="box1",
                    camera="yard",
                    status="offline",
                    fps_in=0,
                    fps_processed=0,
                    drop_rate=1,
                    latency_p50_ms=None,
                    latency_p95_ms=None,
                    reconnects=7,
                    last_frame_us=None,
                    width=None,
                    height=None,
                    error="nothing listens on 127.0.0.1:9",
                ),
            ]
        )
    cfg = write_config(tmp_path, db)
    r = CliRunner().invoke(app, ["status", "--config", str(cfg), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["cameras"]["door"]["status"] == "online" and s["cameras"]["door"]["last_crossing_us"] == t - 5_000_000
    assert s["cameras"]["yard"]["status"] == "stale"  # its last record is far older than 3 health intervals
    assert s["buffer"]["crossings"] == 1 and s["disk"]["free_bytes"] > 0
    assert s["sync"]["rows_pending"] >= 1 and s["sync"]["oldest_pending_age_s"] >= 5  # nothing delivered yet
    r = CliRunner().invoke(app, ["status", "--config", str(cfg)])
    assert r.exit_code == 0
    door = next(line for line in r.stdout.splitlines() if line.startswith("door"))
    assert "online" in door and "5 s ago" in door
    assert "nothing listens" in r.stdout and "rows pending" in r.stdout


def test_status_without_a_buffer_says_what_to_do(tmp_path):
    cfg = write_config(tmp_path, tmp_path / "none.sqlite")
    r = CliRunner().invoke(app, ["status", "--config", str(cfg)])
    assert r.exit_code == 2 and "does not exist yet: start `edge run`" in r.stderr
    assert not (tmp_path / "none.sqlite").exists()
