"""The installer's snapshot: labels that never collide, sized for the image, and the counted foot point marked."""

import itertools

import numpy as np
import pytest

from edge.counting.line import Line
from edge.vision.detections import Detections
from provisioning.snapshot import FOOT_COLOUR, Style, draw, layout


def crossing_lines(width: int, height: int) -> list[Line]:
    """Two lines sharing their midpoint (the worst case for arrows and names), and a third close by."""
    cx, cy = width / 2, height / 2
    return [Line("entrance", 0, cy, width, cy), Line("Tür", cx, height * 0.1, cx, height * 0.9),
            Line("exit", width * 0.2, height * 0.2, width * 0.8, height * 0.8)]


@pytest.mark.parametrize("width, height", [(480, 360), (1920, 1080)])
def test_labels_of_crossing_lines_never_collide_and_scale_with_the_image(width, height):
    for lines in (crossing_lines(width, height)[:2], crossing_lines(width, height)):
        labels, arrows = layout(lines, width, height)
        assert sorted(lb.text for lb in labels) == sorted([ln.name for ln in lines] + ["in", "out"] * len(lines))
        for a, b in itertools.combinations(labels, 2):
            overlap = a.box[0] < b.box[2] and b.box[0] < a.box[2] and a.box[1] < b.box[3] and b.box[1] < a.box[3]
            assert not overlap, (a, b)
        for lb in labels:
            assert 0 <= lb.box[0] < lb.box[2] <= width and 0 <= lb.box[1] < lb.box[3] <= height
            assert lb.box[3] - lb.box[1] >= 0.045 * height  # a plate at least 1/22 of the picture tall
        assert len({a.start for a in arrows}) == len(lines)  # each line's arrows start at a point of their own
    assert Style.for_size(1920, 1080).stroke >= 3 * Style.for_size(480, 360).stroke - 1


def test_people_are_boxed_and_their_foot_point_marked():
    frame = np.full((360, 480, 3), 128, np.uint8)
    people = Detections(np.array([[100, 100, 140, 220]], np.float32), np.array([0.82], np.float32))
    img = draw(frame, [Line("entrance", 0, 300, 480, 300)], people)
    assert (np.abs(img[220, 120].astype(int) - FOOT_COLOUR).max() < 40)  # bottom centre of the box
    assert not np.array_equal(img[100:220, 100], frame[100:220, 100])  # the box's left edge is drawn
