"""`edge status` from a real buffer: table and JSON."""

import json

from typer.testing import CliRunner

from edge.buffer import Buffer
from edge.cli import app
from edge.records import CameraHealth, CrossingEvent, now_us, uuid7


def write_config(tmp_path, db):
    cfg = tmp_path / "box.toml"
    cfg.write_text(f'device_id = "box1"\n[buffer]\npath = "{db}"\n'
                   '[[cameras]]\nname = "door"\nsource = "a.mp4"\n[[cameras]]\nname = "yard"\nsource = "b.mp4"\n')
    return cfg


def test_status_table_and_json(tmp_path):
    db = tmp_path / "buffer.sqlite"
    t = now_us()
    with Buffer(db) as b:
        b.record_frame([CrossingEvent(uuid7(t), "box1", "door", "l", "in", 1, t - 5_000_000, 3, 0.9, "m")], t)
        b.record_health([CameraHealth(t, "box1", "door", "online", 10.0, 9.9, 0.0, 40.0, 60.0, 0, t, 480, 360, None),
                         CameraHealth(t - 10**9, "box1", "yard", "offline", 0, 0, 1, None, None, 7, None, None, None,
                                      "nothing listens on 127.0.0.1:9")])
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
