"""Ground-truth crossings, event matching and `edge eval` errors on hand-made truth (PETS: test_eval_pets.py)."""

import pytest
from typer.testing import CliRunner

from edge.cli import app
from edge.counting.line import parse_line
from edge.errors import EdgeError
from edge.eval.groundtruth import GtCrossing, gt_crossings, load_tracks
from edge.eval.scoring import evaluate, match, total_abs_error

LINE = parse_line("door:0,100,200,100")  # "in" = moving down the image

# id 1 walks down across the door (in at frame 3), id 2 walks up across it (out at frame 12),
# id 3 passes beyond the segment's end (no crossing), id 4 crosses down then up (in 22, out 24),
# id 5 crosses while a flag-0 row (ignored) would have made it cross back.
GT = """\
1,1,40,20,20,60,1,-1,-1,-1
2,1,40,30,20,60,1,-1,-1,-1
3,1,40,45,20,60,1,-1,-1,-1
10,2,140,60,20,60,1,-1,-1,-1
11,2,140,50,20,60,1,-1,-1,-1
12,2,140,35,20,60,1,-1,-1,-1
5,3,290,20,20,60,1,-1,-1,-1
6,3,290,60,20,60,1,-1,-1,-1
20,4,90,30,20,60,1,-1,-1,-1
22,4,90,50,20,60,1,-1,-1,-1
24,4,90,30,20,60,1,-1,-1,-1
30,5,60,30,20,60,1,-1,-1,-1
31,5,60,50,20,60,1,-1,-1,-1
32,5,60,20,20,60,0,-1,-1,-1
"""


@pytest.fixture
def gt_file(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text(GT)
    return path


def test_crossings_derived_from_tracks_are_exact(gt_file):
    assert gt_crossings(load_tracks(gt_file), [LINE]) == [
        GtCrossing("door", "in", 1, 3), GtCrossing("door", "out", 2, 12),
        GtCrossing("door", "in", 4, 22), GtCrossing("door", "out", 4, 24), GtCrossing("door", "in", 5, 31)]


def test_gt_scale_multiplies_box_coordinates(gt_file):
    # at half scale everything lies above y = 50: only a line at y = 50 is crossed
    half = parse_line("half:0,50,100,50")
    assert [c.frame for c in gt_crossings(load_tracks(gt_file, 0.5), [half])] == [3, 12, 22, 24, 31]


def test_malformed_and_missing_gt(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1,1,40,20,20,60,1\n2,1,forty,20,20,60,1\n")
    with pytest.raises(EdgeError, match="bad.txt line 2 is malformed"):
        load_tracks(bad)
    with pytest.raises(EdgeError, match="cannot read ground truth"):
        load_tracks(tmp_path / "none.txt")


def test_matching_is_one_to_one_within_the_window():
    assert match([10, 20, 30], [11, 19, 45], 2) == 2
    assert match([10, 11], [10], 5) == 1  # one counted event cannot match two truths
    assert match([10, 14], [12, 16], 2) == 2  # greedy in time order finds the full matching
    assert match([], [3], 2) == 0


def test_scores_per_line_and_direction():
    gt = [("door", "in", 3), ("door", "out", 12), ("door", "in", 22)]
    counted = [("door", "in", 4), ("door", "in", 40), ("door", "out", 13)]
    rows = evaluate(gt, counted, ["door"], tolerance=2)
    by = {(r.line, r.direction): r for r in rows}
    assert (by["door", "in"].gt, by["door", "in"].counted, by["door", "in"].matched) == (2, 2, 1)
    assert by["door", "in"].f1 == pytest.approx(0.5) and by["door", "out"].f1 == 1.0
    total = by["total", "both"]
    assert (total.gt, total.counted, total.matched, total.false, total.missed) == (3, 3, 2, 1, 1)
    assert total.precision == pytest.approx(2 / 3) and total_abs_error(rows) == 0


def test_edge_eval_bad_gt(pets_video, tmp_path):
    r = CliRunner().invoke(app, ["eval", str(pets_video), "--gt", str(tmp_path / "none.txt"), "--line", "a:0,0,9,9"])
    assert r.exit_code == 2 and "cannot read ground truth" in r.stderr
