"""Suite files, gt boxes as detections, and the miss diagnosis, on hand-made inputs (the real suite: integration)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edge.cli import app
from edge.errors import UserError
from edge.eval.diagnosis import Frames, Miss, classify
from edge.eval.groundtruth import GtBox, GtCrossing, load_boxes
from edge.eval.gt_detections import gt_detections
from edge.eval.scoring import match_pairs, matched_gt
from edge.eval.suite import load_suite
from edge.records import Direction
from edge.vision.detections import Detections, Tracks

SUITE = """
tolerance_s = 1.0
[[sequences]]
name = "s1"
path = "footage/s1"
fps = 10
lines = [{ name = "door", a = [0, 100], b = [200, 100], why = "across the door" }]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


def test_a_suite_file_is_read_with_its_lines_and_reasons(tmp_path):
    suite = load_suite(write(tmp_path, SUITE))
    seq = suite.sequences[0]
    assert (seq.name, seq.fps, seq.video, seq.gt) == ("s1", 10, "video.mp4", "gt.txt")
    assert seq.lines[0].why == "across the door"
    assert seq.counting_lines()[0].name == "door"


@pytest.mark.parametrize(("text", "words"), [
    ("tolerance_s = 1.0\n", "sequences: Field required"),
    (SUITE.replace("fps = 10", "fps = 0"), "sequences[0].fps: Input should be greater than 0"),
    (SUITE.replace("why =", "whom ="), "unknown key"),
    (SUITE.replace('lines = [{ name = "door"', 'lines = [{ name = "d", a = [0, 0], b = [9, 9] }, { name = "d"'),
     "line name 'd' is used twice"),
    (SUITE.replace("lines = [", "lines = [], x = ["), "not valid TOML"),
    (SUITE.replace("[0, 100], b = [200, 100]", "[5, 5], b = [5, 5]"), "has zero length"),
])
def test_a_malformed_suite_is_one_line_naming_the_key(tmp_path, text, words):
    with pytest.raises(UserError) as e:
        load_suite(write(tmp_path, text))
    assert words in str(e.value) and "\n" not in str(e.value)


def test_missing_files_and_malformed_gt_are_one_line_errors_through_the_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGE_DATA_DIR", str(tmp_path))
    run = CliRunner().invoke
    suite = write(tmp_path, SUITE)
    cases = [
        (["--suite", str(tmp_path / "none.toml")], "cannot read suite"),
        (["--suite", str(suite)], "video " + str(tmp_path / "footage/s1/video.mp4") + " does not exist"),
        (["--suite", str(suite), "--detections", "yolo"], "--detections 'yolo' is unknown"),
        (["--suite", str(suite), "--drop", "0.2"], "--drop and --jitter apply to --detections gt only"),
        (["--suite", str(suite), "--detections", "gt", "--drop", "1.5"], "fractions in [0, 1)"),
        (["x.mp4", "--suite", str(suite)], "leave out VIDEO"),
    ]
    for args, words in cases:
        r = run(app, ["eval", *args])
        assert r.exit_code == 2 and words in r.stderr and r.stderr.count("\n") == 1, (args, r.stderr)
    (tmp_path / "footage/s1").mkdir(parents=True)
    (tmp_path / "footage/s1/video.mp4").write_bytes(b"")
    (tmp_path / "footage/s1/gt.txt").write_text("1,1,10,10,5\n")
    r = run(app, ["eval", "--suite", str(suite), "--detections", "gt"])
    assert r.exit_code == 2 and "gt.txt line 1 is malformed" in r.stderr and r.stderr.count("\n") == 1


def test_gt_boxes_become_confident_detections_dropped_and_jittered_repeatably(tmp_path):
    boxes = [GtBox(i, (10.0 * i, 0.0, 10.0 * i + 8, 20.0)) for i in range(200)]
    exact = gt_detections(boxes, np.random.default_rng(0))
    assert len(exact) == 200 and np.all(exact.score == 0.9) and exact.xyxy[3].tolist() == [30, 0, 38, 20]
    dropped = gt_detections(boxes, np.random.default_rng(0), drop=0.25)
    assert 120 < len(dropped) < 180
    a = gt_detections(boxes, np.random.default_rng(1), jitter=0.05)
    b = gt_detections(boxes, np.random.default_rng(1), jitter=0.05)
    assert np.array_equal(a.xyxy, b.xyxy) and not np.array_equal(a.xyxy, exact.xyxy)
    assert np.all(a.xyxy[:, 2:] > a.xyxy[:, :2])


def test_gt_files_with_visibility_and_flags(tmp_path):
    gt = tmp_path / "gt.txt"
    gt.write_text("1,1,10,20,5,10,1,1,0.25\n1,2,0,0,5,10,0,1,1\n2,1,12,20,5,10,1,1,1\n")
    boxes = load_boxes(gt, 2.0)
    assert boxes[1] == [GtBox(1, (20.0, 40.0, 30.0, 60.0), 0.25)] and len(boxes[2]) == 1


def test_matching_tells_which_labelled_events_were_met():
    assert match_pairs([10, 30, 50], [31, 9], 2) == [(0, 1), (1, 0)]
    gt = [("a", "in", 10), ("a", "out", 12), ("b", "in", 10)]
    assert matched_gt(gt, [("a", "in", 11), ("b", "out", 10)], 2) == {0}


BOX = (40.0, 60.0, 60.0, 100.0)  # the person, feet at y = 100 on the crossing frame


def frames(detected: range, tracked: dict[int, int]) -> Frames:
    """Person 7 labelled on frames 1..20; detected on `detected`; covered by track id `tracked[f]`."""
    truth = {f: [GtBox(7, BOX)] for f in range(1, 21)}
    dets = {f: Detections(np.array([BOX], np.float32), np.array([0.8], np.float32)) if f in detected
            else Detections.empty() for f in range(1, 21)}
    tracks = {f: Tracks(np.array([tracked[f]]), np.array([BOX], np.float32), np.array([0.8], np.float32))
              if f in tracked else Tracks.empty() for f in range(1, 21)}
    return Frames(truth, dets, tracks)


CROSSING = GtCrossing("door", Direction.IN, 7, 10)


def test_a_miss_is_put_down_to_detection_tracking_or_counting():
    every = range(1, 21)
    assert classify(CROSSING, frames(range(1, 8), {}), 10) == Miss.NOT_DETECTED  # unseen from frame 8 on
    assert classify(CROSSING, frames(every, {f: 3 for f in range(1, 10)} | {f: 4 for f in range(10, 21)}),
                    10) == Miss.LOST_BY_TRACKER  # an id switch at the line
    assert classify(CROSSING, frames(every, {f: 3 for f in range(12, 21)}), 10) == Miss.LOST_BY_TRACKER  # late
    assert classify(CROSSING, frames(every, {f: 3 for f in every}), 10) == Miss.NOT_COUNTED  # followed across
