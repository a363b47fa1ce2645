"""`edge run` against recorded files and a real RTSP server: counting, outages, freezes, bad cameras, SIGTERM."""

from __future__ import annotations

import json
import logging
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.cli import app
from edge.config import parse_config
from edge.errors import EdgeError
from edge.run.loop import Runner
from tests.support import free_port, wait_until
from tests.support.detecting import Hooked
from tests.support.sync import full

LINES = 'lines = [{ name = "v240", a = [240, 60], b = [240, 330] }, { name = "h150", a = [0, 150], b = [480, 150] }]'
FAST = "[capture]\nopen_timeout_s = 3\nread_timeout_s = 1\nfreeze_timeout_s = 2\nbackoff_initial_s = 0.2\n" \
       "backoff_max_s = 1\nffmpeg_options = \"probesize;32\"\n"


def config_text(db: Path, cameras: dict[str, str], interval: float = 0.5) -> str:
    cams = "".join(f'[[cameras]]\nname = "{n}"\nsource = "{s}"\n{LINES}\n' for n, s in cameras.items())
    return f'device_id = "box1"\n[buffer]\npath = "{db}"\n[health]\ninterval_s = {interval}\n{FAST}{cams}'


class Background:
    """A Runner in a thread, stopped (like SIGTERM does) at the end."""

    def __init__(self, text: str, detector) -> None:
        self.runner = Runner(parse_config(text), detector)
        self.thread = threading.Thread(target=self.runner.run)
        self.thread.start()

    def stop(self) -> None:
        self.runner.stop()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive()


@pytest.fixture(scope="module")
def detector(model_path):
    from edge.vision.detector import DetectorSettings, parallel_detector

    return parallel_detector(DetectorSettings(model_path=model_path))[0]  # as edge run builds it


def rows(db: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, args).fetchall()


def wait_for(cond, timeout: float, step: float = 0.2) -> bool:
    """Poll `cond` (a buffer not yet created or migrated counts as not yet)."""
    def check() -> bool:
        try:
            return bool(cond())
        except sqlite3.OperationalError:
            return False

    return wait_until(check, timeout, step)


CLIP_FRAMES = 150


@pytest.fixture(scope="module")
def clip(tmp_path_factory, pets_video) -> Path:
    """The first 15 s of the PETS footage (H.264 copied, not re-encoded): one loop of a test camera."""
    path = tmp_path_factory.mktemp("clip") / "pets15.avi"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(pets_video), "-t", str(CLIP_FRAMES / 10), "-c", "copy",
                    "-an", str(path)], check=True)
    return path


@pytest.fixture(scope="module")
def clip_counts(clip) -> dict[str, dict[str, int]]:
    """What `edge count` finds in the clip, every frame: {line: {"in": n, "out": m}}."""
    counted = CliRunner().invoke(app, ["count", str(clip), "--line", "v240:240,60,240,330",
                                       "--line", "h150:0,150,480,150", "--json"])
    assert counted.exit_code == 0, counted.output
    counts = json.loads(counted.stdout)["lines"]
    assert sum(c["in"] + c["out"] for c in counts.values()) >= 5  # enough crossings for the comparisons to mean a thing
    return counts


def test_file_camera_counts_like_edge_count(tmp_path, clip, clip_counts):
    db = tmp_path / "b.sqlite"
    cfg = tmp_path / "box.toml"
    cfg.write_text(config_text(db, {"pets": str(clip)}))
    r = CliRunner().invoke(app, ["run", "--config", str(cfg)])
    assert r.exit_code == 0, r.output
    got = {
        line: {"in": i, "out": o}
        for line, i, o in rows(db, "SELECT line, SUM(count_in), SUM(count_out) FROM minute_counts GROUP BY line")
    }
    assert got == clip_counts
    assert rows(db, "SELECT COUNT(*) FROM crossings WHERE camera = 'pets'")[0][0] == sum(
        c["in"] + c["out"] for c in clip_counts.values()
    )


def test_a_full_buffer_holds_crossings_until_it_takes_writes_again(tmp_path, clip, clip_counts, detector, caplog):
    runner = Runner(parse_config(config_text(tmp_path / "b.sqlite", {"pets": str(clip)})), detector)
    full(runner.buffer)

    def free_space_midway(call: int) -> None:
        if call == CLIP_FRAMES // 2:
            runner.buffer.conn.execute("PRAGMA max_page_count = 1073741823")  # the disk has room again

    runner.detector = Hooked(detector, free_space_midway)
    with caplog.at_level(logging.WARNING, "edge.buffer"):
        runner.run()  # no error: what was held went in
    back = [r for r in caplog.records if r.message == "buffer writable again"]
    assert len(back) == 1 and back[0].stored > 0  # crossings of the first half were held, then stored
    got = {
        line: {"in": i, "out": o}
        for line, i, o in rows(
            tmp_path / "b.sqlite",
            "SELECT line, SUM(count_in), SUM(count_out) FROM minute_counts WHERE camera = 'pets' GROUP BY line",
        )
    }
    assert got == clip_counts
    assert (
        rows(tmp_path / "b.sqlite", "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM crossings WHERE camera = 'pets'")[0]
        == (sum(c["in"] + c["out"] for c in clip_counts.values()),) * 2
    )


def test_a_buffer_full_to_the_end_fails_the_run_saying_what_was_not_stored(
    tmp_path, clip, clip_counts, detector, caplog
):
    runner = Runner(parse_config(config_text(tmp_path / "b.sqlite", {"pets": str(clip)})), detector)
    full(runner.buffer)
    with pytest.raises(EdgeError) as e, caplog.at_level(logging.ERROR, "edge.buffer"):
        runner.run()
    total = sum(c["in"] + c["out"] for c in clip_counts.values())
    assert f"{total} crossings not stored" in str(e.value) and "database or disk is full" in str(e.value)
    assert "free disk space" in str(e.value) and "\n" not in str(e.value)
    assert any(r.message == "buffer refuses writes, crossings held in memory" for r in caplog.records)
    assert rows(tmp_path / "b.sqlite", "PRAGMA integrity_check")[0][0] == "ok"
    assert rows(tmp_path / "b.sqlite", "SELECT COUNT(*) FROM crossings WHERE camera = 'pets'")[0][0] == 0


def test_rtsp_camera_counts_one_loop_of_the_footage_like_edge_count(
    tmp_path, clip, clip_counts, detector, rtsp_factory
):
    server = rtsp_factory(clip)
    db = tmp_path / "b.sqlite"
    bg = Background(config_text(db, {"cam": server.url}), detector)
    stream = bg.runner.cameras[0].stream
    try:  # the first loop, and the counter's hold after it; frame numbers of the second loop go on from there
        assert wait_for(lambda: stream.pacer.tick > CLIP_FRAMES + 10, 2 * CLIP_FRAMES / 10)
    finally:
        bg.stop()
        server.stop()
    got = {line: {"in": 0, "out": 0} for line in clip_counts}
    for line, direction, n in rows(
        db, "SELECT line, direction, COUNT(*) FROM crossings WHERE frame <= ? GROUP BY line, direction", CLIP_FRAMES
    ):
        got[line][direction] = n
    # live frames are not the file's exactly (arrival jitter, a frame dropped at connect): one miss allowed
    assert sum(abs(got[ln][d] - clip_counts[ln][d]) for ln in got for d in ("in", "out")) <= 1, (got, clip_counts)


def batching_runner(text: str, model_path: Path) -> tuple[Runner, list[int]]:
    """A Runner built as `edge run` builds it with `[model] batching = "on"`, and the frame count of each call."""
    runner = Runner(parse_config(text + f'[model]\nmodel_path = "{model_path}"\nbatching = "on"\n'))
    assert (runner.workers, runner.max_batch) == (1, 8)
    sizes: list[int] = []
    batch = runner.detector.batch
    runner.detector.batch = lambda images: sizes.append(len(images)) or batch(images)  # type: ignore[method-assign]
    return runner, sizes


def test_file_cameras_with_batches_forced_on_count_exactly_like_edge_count(tmp_path, clip, clip_counts, model_path):
    """Files have their next frame ready whenever asked: the two cameras' frames share calls, deterministically."""
    db = tmp_path / "b.sqlite"
    runner, sizes = batching_runner(config_text(db, {"a": str(clip), "b": str(clip)}), model_path)
    runner.run()
    assert sizes.count(2) >= CLIP_FRAMES // 2  # (the motion gate holds back some frames of either camera)
    for cam in ("a", "b"):
        got = {line: {"in": i, "out": o} for line, i, o in rows(
            db, "SELECT line, SUM(count_in), SUM(count_out) FROM minute_counts WHERE camera = ? GROUP BY line", cam)}
        assert got == clip_counts


def test_rtsp_cameras_with_batches_forced_on_count_like_edge_count(tmp_path, clip, clip_counts, model_path,
                                                                   rtsp_factory):
    """`[model] batching = "on"` on live cameras: every call goes through the batch path; counts as without batches
    (the test above and `edge count`). Whether two live frames meet in one call depends on the streams' phases."""
    servers = [rtsp_factory(clip), rtsp_factory(clip)]
    db = tmp_path / "b.sqlite"
    runner, sizes = batching_runner(config_text(db, {f"cam{i}": s.url for i, s in enumerate(servers)}), model_path)
    thread = threading.Thread(target=runner.run)
    thread.start()
    try:
        assert wait_for(lambda: all(c.stream.pacer.tick > CLIP_FRAMES + 10 for c in runner.cameras),
                        2 * CLIP_FRAMES / 10 + 10)
    finally:
        runner.stop()
        thread.join(timeout=15)
        for s in servers:
            s.stop()
    assert not thread.is_alive() and sum(sizes) >= CLIP_FRAMES  # both cameras' frames went through batch calls
    for cam in ("cam0", "cam1"):
        got = {line: {"in": 0, "out": 0} for line in clip_counts}
        for line, direction, n in rows(db, "SELECT line, direction, COUNT(*) FROM crossings WHERE camera = ? AND "
                                           "frame <= ? GROUP BY line, direction", cam, CLIP_FRAMES):
            got[line][direction] = n
        assert sum(abs(got[ln][d] - clip_counts[ln][d]) for ln in got for d in ("in", "out")) <= 1, (cam, got)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_rtsp_counting_two_cameras_beside_bad_ones(tmp_path, rtsp_server, rtsp_factory, pets_video, detector):
    second = rtsp_factory(pets_video)
    dead = f"rtsp://127.0.0.1:{free_port()}/cam"  # unreachable port
    wrong = rtsp_server.url.rsplit("/", 1)[0] + "/no-such-stream"  # wrong URL on a live server
    db = tmp_path / "b.sqlite"
    logs, stream_log = Collect(), logging.getLogger("edge.stream")
    stream_log.addHandler(logs)
    stream_log.setLevel(logging.INFO)
    bg = Background(config_text(db, {"a": rtsp_server.url, "b": second.url, "gone": dead, "wrong": wrong}), detector)
    try:
        assert wait_for(lambda: rows(db, "SELECT COUNT(DISTINCT camera) FROM crossings")[0][0] == 2, 40)
    finally:
        bg.stop()
        stream_log.removeHandler(logs)
        stream_log.setLevel(logging.NOTSET)
        second.stop()  # after the box stopped listening: its reader may still see the server go
    down = {r.camera: r.error for r in logs.records if r.getMessage() == "stream down"}
    assert set(down) == {"gone", "wrong"}  # logged with the camera's name and the camera's own answer, retried:
    assert "nothing listens on" in down["gone"] and "404" in down["wrong"], down
    assert sum(1 for r in logs.records if r.getMessage() == "reconnecting" and r.camera == "wrong") >= 2
    health = rows(db, "SELECT camera, status, fps_in, error, reconnects FROM camera_health ORDER BY seq")
    last = {cam: (status, fps, err, rec) for cam, status, fps, err, rec in health}
    assert last["a"][0] in ("online", "degraded") and last["b"][0] in ("online", "degraded")
    for bad, why in (("gone", "nothing listens on"), ("wrong", "404")):
        assert last[bad][0] == "offline" and why in last[bad][2] and last[bad][3] >= 2
    fps = [f for cam, s, f, *_ in health if cam == "a" and s == "online"]
    assert fps and max(fps) >= 7  # the stream is 10 fps
    assert rows(db, "SELECT COUNT(*) FROM box_health")[0][0] >= 1


def latest_status(db: Path, camera: str = "cam") -> str | None:
    found = rows(db, "SELECT status FROM camera_health WHERE camera = ? ORDER BY seq DESC LIMIT 1", camera)
    return found[0][0] if found else None


def running(db: Path, rtsp_url: str, detector) -> Background:
    """A box on one RTSP camera, returned once its health says online."""
    bg = Background(config_text(db, {"cam": rtsp_url}), detector)
    assert wait_for(lambda: rows(db, "SELECT COUNT(*) FROM camera_health WHERE status = 'online'")[0][0] > 0, 20)
    return bg


def test_server_killed_and_restarted(tmp_path, rtsp_server, detector):
    db = tmp_path / "b.sqlite"
    bg = running(db, rtsp_server.url, detector)
    try:
        rtsp_server.stop(signal.SIGKILL)
        assert wait_for(lambda: latest_status(db) == "offline", 10)
        restarted = time.monotonic()
        rtsp_server.start()
        assert wait_for(lambda: latest_status(db) in ("online", "degraded"), 15)
        assert time.monotonic() - restarted < 10
        n = rows(db, "SELECT COUNT(*) FROM crossings")[0][0]
        assert wait_for(lambda: rows(db, "SELECT COUNT(*) FROM crossings")[0][0] > n, 30)  # counting resumed
    finally:
        bg.stop()
    # no crossing stored twice (ids are unique by schema: compare what was crossed, by whom, when)
    assert (
        rows(
            db,
            "SELECT COUNT(*) FROM (SELECT 1 FROM crossings GROUP BY line, direction, track_id, frame "
            "HAVING COUNT(*) > 1)",
        )[0][0]
        == 0
    )
    assert rows(db, "SELECT MAX(reconnects) FROM camera_health")[0][0] >= 1


def test_frozen_server_is_detected_within_the_freeze_timeout_and_recovers(tmp_path, rtsp_server, detector):
    db = tmp_path / "b.sqlite"
    bg = running(db, rtsp_server.url, detector)
    try:
        rtsp_server.signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        assert wait_for(lambda: latest_status(db) == "offline", 10)
        assert time.monotonic() - frozen_at < 2 + 0.5 + 1.5  # freeze timeout + health interval + slack
        rtsp_server.signal(signal.SIGCONT)
        assert wait_for(lambda: latest_status(db) in ("online", "degraded"), 10)  # reconnected, or never left
    finally:
        bg.stop()
    errors = rows(db, "SELECT DISTINCT error FROM camera_health WHERE status = 'offline'")
    assert any(e and "frozen" in e for (e,) in errors), errors


def test_sigterm_exits_cleanly_with_the_buffer_intact(tmp_path, rtsp_server, rtsp_factory, pets_video, model_path):
    frozen = rtsp_factory(pets_video)
    frozen.signal(signal.SIGSTOP)  # its reader is stuck in an open or a read when SIGTERM comes
    db, cfg, log = tmp_path / "b.sqlite", tmp_path / "box.toml", tmp_path / "run.log"
    cfg.write_text(
        config_text(db, {"cam": rtsp_server.url, "stuck": frozen.url}) + f'[model]\nmodel_path = "{model_path}"\n'
    )
    with open(log, "w") as err:  # a file, not a pipe: a full pipe would block the box
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "--log-level", "info", "run", "--config", str(cfg)], stderr=err
        )
    try:
        # online first: on a loaded machine the first records can come before the camera's first frame
        assert wait_for(lambda: db.exists() and latest_status(db) in ("online", "degraded")
                        and latest_status(db, "stuck") == "offline", 30)
        start, sent_us = time.monotonic(), time.time_ns() // 1000
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - start < 5
    finally:
        proc.kill()
        frozen.signal(signal.SIGCONT)
        frozen.stop()
    assert "camera=cam" in log.read_text()  # structured logs name the camera
    assert rows(db, "PRAGMA integrity_check")[0][0] == "ok"
    final = dict(rows(db, "SELECT camera, status FROM camera_health WHERE ts_us >= ?", sent_us))
    assert final["cam"] in ("online", "degraded") and final["stuck"] == "offline"  # written on the way out


@pytest.mark.parametrize(
    "text, words",
    [
        ('device_id = "b"\n[[cameras]]\nname = "c"\nsource = "x"\nlnes = []\n', "cameras[0].lnes: unknown key"),
        (
            'device_id = "b"\n[[cameras]]\nname = "c"\nsource = "x"\n'
            'lines = [{ name = "l", a = [1, 1], b = [1, 1] }]\n',
            "cameras[0].lines[0]: line 'l' has zero length",
        ),
        ('device_id = "b"\n[[cameras]\n', "is not valid TOML"),
        ('device_id = "b"\n[capture]\nfreeze_timeout_s = -1\n', "capture.freeze_timeout_s"),
        ('device_id = "b"\n[capture]\nread_timeout_s = 9\n', "capture: read_timeout_s (9) must not exceed"),
        ('device_id = "b"\n[motion]\nbusy_interval_s = -0.2\n', "motion.busy_interval_s"),
        ('device_id = "b"\n[motion]\ncrossing_zone = -1\n', "motion.crossing_zone"),
        ('device_id = "b"\n[motion]\nbusy_crops = "sometimes"\n', "motion.busy_crops"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path, text, words):
    cfg = tmp_path / "box.toml"
    cfg.write_text(text)
    r = CliRunner().invoke(app, ["run", "--config", str(cfg)])
    assert r.exit_code == 2 and words in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_pacer_keeps_every_frame_at_equal_rates_and_decimates_faster_streams():
    from edge.video.live import Pacer

    jitter = [0, 13, -9, 17, -15, 4, 0, -18, 11, 6]
    p = Pacer(100_000)
    assert all(p.due(i * 100_000 + j * 1000) for i, j in enumerate(jitter))  # 10 fps stream, 10 fps detection
    p = Pacer(100_000)
    kept = sum(p.due(i * 40_000) for i in range(250))  # 10 s of a 25 fps stream
    assert 99 <= kept <= 101
