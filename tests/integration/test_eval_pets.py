"""`edge eval` end to end on real labelled footage (PETS09-S2L1): the accuracy we claim, so a regression fails."""

import json

import pytest
from typer.testing import CliRunner

from edge.cli import app
from edge.counting.line import parse_line
from edge.eval.groundtruth import gt_crossings, load_tracks

# the issue's two lines, three of ours across the walkways, and h200 along the walkway (docs/accuracy.md)
LINES = ["v240:240,60,240,330", "h150:0,150,480,150", "v120:120,90,120,330", "v360:360,60,360,330",
         "d1:100,330,400,80", "h200:50,200,450,200"]


# Whole frames at every look: F1 0.991, |err| 3, no false count on the issue's two lines (4 Dec evening; 0.988 and
# 4 when this scene was tuned). With the default crops on busy cameras: 0.982 and 6 (3.7%), one false count on
# h150: this scene is where crops cost most; over the suite's three the cost is 0.003 of pooled F1 (docs/accuracy.md).
@pytest.mark.parametrize("crops, least_f1, most_error, most_false", [("--no-busy-crops", 0.985, 4, 0),
                                                                     ("--busy-crops", 0.975, 6, 1)])
def test_accuracy_on_pets(pets_video, pets_gt, model_path, crops, least_f1, most_error, most_false):
    args = ["eval", str(pets_video), "--gt", str(pets_gt), "--model", str(model_path), "--json", crops]
    result = CliRunner().invoke(app, args + [a for ln in LINES for a in ("--line", ln)])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["frames"] == 795 and out["tolerance_frames"] == 10  # 1 s of the 10 fps video
    rows = {(r["line"], r["direction"]): r for r in out["rows"]}
    assert len(rows) == 2 * len(LINES) + 1
    total = rows[("total", "both")]
    assert total["gt"] == 162  # ground-truth crossings of these lines
    for r in rows.values():
        assert r["matched"] + r["false"] == r["counted"] and r["matched"] + r["missed"] == r["gt"]
    # summed over line x direction; the original target was 0.97 / 3%; the library recipe got 0.81
    assert out["f1"] >= least_f1 and out["total_abs_error"] <= most_error, out
    issue = [rows[(ln, d)] for ln in ("v240", "h150") for d in ("in", "out")]
    assert sum(r["false"] for r in issue) <= most_false and sum(r["missed"] for r in issue) <= 2


def test_gt_scale_maps_the_original_annotation_onto_the_video(pets_gt):
    lines = [parse_line(s) for s in LINES]
    original = pets_gt.with_name("gt.txt")  # 768x576 annotation space; the video is 480x360
    assert gt_crossings(load_tracks(original, 0.625), lines) == gt_crossings(load_tracks(pets_gt), lines)
