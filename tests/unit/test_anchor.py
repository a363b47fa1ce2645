"""The anchor benchmark (tests/bench/anchor.py): supervision's LineZone in/out mapped onto our directions, and
its bad inputs.

Hand-made walks across lines of every orientation: the direction the anchor reports for each crossing must be
the one the product's own ground-truth rule (edge.eval.groundtruth.gt_crossings) gives for the same foot path.
Those need the benchmark-only extra (`pip install -e '.[anchor]'`): without it there is no anchor to check.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.counting.line import Line
from edge.eval.groundtruth import gt_crossings
from edge.records import Direction
from models.paths import REPO_ROOT
from tests.bench.anchor import crossings, line_zone, sv

needs_sv = pytest.mark.skipif(sv is None, reason="the anchor benchmark's optional extra is not installed")

LINES = [
    Line("east", 100, 200, 300, 200),   # A->B to the right: "in" is downwards on the image
    Line("west", 300, 200, 100, 200),   # the same segment reversed: "in" is upwards
    Line("down", 200, 100, 200, 300),   # A->B downwards: "in" is to the left on the image
    Line("diag", 100, 300, 300, 100),
]


def walk(start: tuple[float, float], end: tuple[float, float], steps: int = 8) -> list[tuple[float, float]]:
    return [(start[0] + (end[0] - start[0]) * t, start[1] + (end[1] - start[1]) * t) for t in np.linspace(0, 1, steps)]


def anchor_directions(line: Line, feet: list[tuple[float, float]]) -> list[Direction]:
    """Feed one tracked 20x60 person whose bottom centre follows `feet` to the anchor's LineZone."""
    zone, out = line_zone(line), []
    for x, y in feet:
        person = sv.Detections(xyxy=np.array([[x - 10, y - 60, x + 10, y]], np.float32),
                               confidence=np.array([0.9], np.float32), tracker_id=np.array([7]))
        out += [d for _, d in crossings(zone, person)]
    return out


@needs_sv
@pytest.mark.parametrize("line", LINES, ids=lambda ln: ln.name)
@pytest.mark.parametrize("path", [((150, 120), (250, 280)), ((250, 280), (150, 120)),
                                  ((120, 150), (280, 250)), ((280, 250), (120, 150))])
def test_anchor_direction_is_ours(line: Line, path: tuple[tuple[float, float], tuple[float, float]]) -> None:
    feet = walk(*path)
    ours = [c.direction for c in gt_crossings({1: [(i, x, y) for i, (x, y) in enumerate(feet, 1)]}, [line])]
    assert len(ours) == 1  # every walk passes through every segment once
    assert anchor_directions(line, feet) == ours


@needs_sv
def test_in_is_left_to_right_hand_side_with_y_down() -> None:
    # Walking down across a line drawn to the right (our right-hand side is below it) is "in"; back up is "out".
    east = LINES[0]
    assert anchor_directions(east, walk((200, 150), (200, 250))) == [Direction.IN]
    assert anchor_directions(east, walk((200, 250), (200, 150))) == [Direction.OUT]


def run_anchor(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **env})


MAIN = "import runpy, sys; sys.argv = ['anchor']; runpy.run_module('tests.bench.anchor', run_name='__main__')"


def test_without_the_extra_it_says_how_to_install_it() -> None:
    r = run_anchor("import sys; sys.modules['supervision'] = None; " + MAIN, {})
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and "make anchor" in r.stderr


@needs_sv
def test_missing_footage_is_a_one_line_error(tmp_path: Path) -> None:
    r = run_anchor(MAIN, {"EDGE_DATA_DIR": str(tmp_path)})
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip().count("\n") == 0 and "EDGE_DATA_DIR" in r.stderr and str(tmp_path) in r.stderr
