"""A camera quiet for 30 s, then busy: the motion gate saves the detector's work and loses no crossing."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from edge.config import MotionSettings, parse_config
from edge.counting.line import parse_line
from edge.run.file_job import count_video
from edge.run.loop import Runner
from tests.support.scenes import quiet_then_busy

LINES = [parse_line("v240:240,60,240,330"), parse_line("h150:0,150,480,150")]
QUIET_S, BUSY_S = 30, 20


@pytest.fixture(scope="module")
def morning(tmp_path_factory, pets_video) -> Path:
    return quiet_then_busy(pets_video, tmp_path_factory.mktemp("scene") / "morning.mp4", QUIET_S, BUSY_S)


@pytest.fixture(scope="module")
def detector(model_path):
    from edge.config import DetectorSettings
    from edge.vision.detector import parallel_detector

    return parallel_detector(DetectorSettings(model_path=model_path))[0]


@pytest.fixture(scope="module")
def every_frame(morning, detector) -> dict[str, dict[str, int]]:
    """The counts with the gate off: every frame detected."""
    result = count_video(morning, LINES, detector, device_id="t", motion=MotionSettings(detect_always=True))
    assert sum(c["in"] + c["out"] for c in result.lines.values()) >= 5  # people do cross in the busy part
    return result.lines


def test_the_gate_counts_a_recorded_morning_exactly_as_detecting_every_frame(morning, detector, every_frame):
    assert count_video(morning, LINES, detector, device_id="t").lines == every_frame


def misses(got: dict[str, dict[str, int]], want: dict[str, dict[str, int]]) -> int:
    return sum(abs(got[ln][d] - want[ln][d]) for ln in want for d in ("in", "out"))


def test_crops_count_a_recorded_morning_within_one_of_detecting_every_frame(morning, detector, every_frame):
    """busy_crops: between two whole looks only the people close to a line are detected, on a crop."""
    crops = count_video(morning, LINES, detector, device_id="t", motion=MotionSettings(busy_crops=True))
    assert misses(crops.lines, every_frame) <= 1, (crops.lines, every_frame)


@pytest.mark.parametrize("crops", [False, True], ids=["whole", "crops"])
def test_live_camera_after_30_quiet_seconds_counts_every_crossing_and_mostly_skips_the_quiet(
        tmp_path, morning, detector, every_frame, rtsp_factory, crops):
    camera = rtsp_factory(morning)
    db = tmp_path / "b.sqlite"
    lines = ('lines = [{ name = "v240", a = [240, 60], b = [240, 330] }, '
             '{ name = "h150", a = [0, 150], b = [480, 150] }]')
    runner = Runner(parse_config(f'device_id = "box1"\n[buffer]\npath = "{db}"\n[health]\ninterval_s = 5\n'
                                 f'[motion]\nbusy_crops = {str(crops).lower()}\n'
                                 f'[[cameras]]\nname = "shop"\nsource = "{camera.url}"\n{lines}\n'), detector)
    thread = threading.Thread(target=runner.run)
    thread.start()
    stream = runner.cameras[0].stream
    try:  # one loop of the scene, and the counter's hold after it
        deadline = time.monotonic() + 2 * (QUIET_S + BUSY_S)
        while stream.pacer.tick < 10 * (QUIET_S + BUSY_S) + 10 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        runner.stop()
        thread.join(timeout=15)
    with sqlite3.connect(db) as conn:
        got = {ln.name: {"in": 0, "out": 0} for ln in LINES}
        for line, direction, n in conn.execute("SELECT line, direction, COUNT(*) FROM crossings WHERE frame <= ? "
                                               "GROUP BY line, direction", (10 * (QUIET_S + BUSY_S),)):
            got[line][direction] = n
        shares = [s for (s,) in conn.execute("SELECT detected_share FROM camera_health WHERE camera = 'shop' "
                                             "AND detected_share IS NOT NULL ORDER BY seq")]
    # live frames are not the file's exactly (a frame dropped at connect): one miss allowed, as for edge run
    assert misses(got, every_frame) <= 1 + crops, (got, every_frame)  # crops: one more (docs/accuracy.md)
    assert min(shares[:4]) < 0.25 and max(shares) > 0.9, shares  # quiet: mostly skipped; busy: detected
