"""`edge status` from a real buffer: table and JSON."""

import json

from typer.testing import CliRunner

from edge.cli import app
from edge.records import CameraHealth, CrossingEvent, now_us, uuid7
from edge.run.status import local_midnight_us
from edge.store.buffer import Buffer
from tests.support.sync import camera_health


def write_config(tmp_path, db, cameras=("door", "yard")):
    cfg = tmp_path / "box.toml"
    cfg.write_text(f'device_id = "box1"\n[buffer]\npath = "{db}"\n' + "".join(
        f'[[cameras]]\nname = "{c}"\nsource = "{c}.mp4"\n'
        'lines = [{ name = "entrance", a = [0, 1], b = [9, 1] }, { name = "Tür", a = [0, 5], b = [9, 5] }]\n'
        for c in cameras))
    return cfg


def crossing(t, camera="door", line="entrance", direction="in", track=1):
    return CrossingEvent(event_id=uuid7(t), device_id="box1", camera=camera, line=line, direction=direction,
                         track_id=track, ts_us=t, frame=3, score=0.9, model="m")


def health(t, camera="door", status="online"):
    return CameraHealth(ts_us=t, device_id="box1", camera=camera, status=status, fps_in=10.0, fps_processed=9.9,
                        drop_rate=0.0, latency_p50_ms=40.0, latency_p95_ms=60.0, reconnects=0, last_frame_us=t,
                        width=480, height=360, error=None)


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
                camera_health(t, "door", fps_processed=9.9, latency_p95_ms=60.0, width=480, height=360),
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
    assert r.exit_code == 1, r.output  # yard is stale: monitoring must notice
    assert not json.loads(r.stdout)["ok"] and json.loads(r.stdout)["problems"][0].startswith("camera yard is stale")
    s = json.loads(r.stdout)
    assert s["cameras"]["door"]["status"] == "online" and s["cameras"]["door"]["last_crossing_us"] == t - 5_000_000
    assert s["cameras"]["yard"]["status"] == "stale"  # its last record is far older than 3 health intervals
    assert s["buffer"]["crossings"] == 1 and s["disk"]["free_bytes"] > 0
    assert s["sync"]["rows_pending"] >= 1 and s["sync"]["oldest_pending_age_s"] >= 5  # nothing delivered yet
    r = CliRunner().invoke(app, ["status", "--config", str(cfg)])
    assert r.exit_code == 1 and "PROBLEM camera yard is stale" in r.stdout
    door = next(line for line in r.stdout.splitlines() if line.startswith("door"))
    assert "online" in door and "5 s ago" in door
    assert "nothing listens" in r.stdout and "rows pending" in r.stdout


def test_status_without_a_buffer_says_what_to_do(tmp_path):
    cfg = write_config(tmp_path, tmp_path / "none.sqlite")
    r = CliRunner().invoke(app, ["status", "--config", str(cfg)])
    assert r.exit_code == 2 and "does not exist yet: start `edge run`" in r.stderr
    assert not (tmp_path / "none.sqlite").exists()


def test_all_well_exits_0_and_today_is_counted_per_line(tmp_path):
    db = tmp_path / "buffer.sqlite"
    t = now_us()
    midnight = local_midnight_us(t)
    with Buffer(db) as b:
        b.record_frame([crossing(t - 1000, direction="in", track=1), crossing(t - 900, direction="in", track=2),
                        crossing(t - 800, line="Tür", direction="out", track=3),
                        crossing(midnight - 10**6, direction="out", track=4)],  # yesterday: not today's
                       t - 120 * 10**6)  # buffered two minutes ago, not delivered since
        b.record_health([health(t)])
    cfg = write_config(tmp_path, db, cameras=("door",))
    r = CliRunner().invoke(app, ["status", "--config", str(cfg), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["ok"] and s["cameras"]["door"]["today"] == {"entrance": {"in": 2, "out": 0}, "Tür": {"in": 0, "out": 1}}
    table = CliRunner().invoke(app, ["status", "--config", str(cfg)]).stdout
    assert any(ln.split() == ["door", "Tür", "0", "1"] for ln in table.splitlines()) and "all well" in table
    # the sync lag: the crossings wait for two minutes; over a limit that is a problem too
    r = CliRunner().invoke(app, ["status", "--config", str(cfg), "--max-sync-lag", "60"])
    assert r.exit_code == 1 and "PROBLEM sync lag" in r.stdout


def test_a_camera_that_never_reported_is_a_problem(tmp_path):
    db = tmp_path / "buffer.sqlite"
    with Buffer(db) as b:
        b.record_health([health(now_us(), camera="door")])
    r = CliRunner().invoke(app, ["status", "--config", str(write_config(tmp_path, db)), "--max-sync-lag", "0"])
    assert r.exit_code == 1 and "PROBLEM camera yard is unknown" in r.stdout


def test_status_reads_a_box_under_a_root_without_its_secrets(tmp_path):
    """An image being prepared: config, secrets and buffer under ROOT, paths in the config as on the box."""
    root = tmp_path / "image"
    (root / "etc/edge-counter").mkdir(parents=True)
    (root / "var/lib/edge-counter").mkdir(parents=True)
    with Buffer(root / "var/lib/edge-counter/buffer.sqlite") as b:
        b.record_health([health(now_us())])
    (root / "etc/edge-counter/box.toml").write_text(
        'device_id = "box1"\nsecrets_file = "/etc/edge-counter/secrets.toml"\n'
        '[buffer]\npath = "/var/lib/edge-counter/buffer.sqlite"\n[[cameras]]\nname = "door"\nsource = "rtsp://a@h/x"\n')
    (root / "etc/edge-counter/secrets.toml").write_text("not even TOML: status does not read it")
    r = CliRunner().invoke(app, ["status", "--root", str(root), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["cameras"]["door"]["status"] == "online"
