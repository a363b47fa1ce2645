"""Line convention, segment-only crossings and --line parsing."""

import numpy as np
import pytest

from edge.counting.line import Line, check_lines, parse_line
from edge.errors import EdgeError


def test_right_hand_side_is_in_side_with_y_down():
    # A->B points right on the image: its right-hand side as seen on the image is below it.
    line = Line("h", 0, 100, 200, 100)
    assert line.signed_distance(50, 150) == pytest.approx(50)
    assert line.signed_distance(50, 40) == pytest.approx(-60)
    # A->B points down: its right-hand side is to the left on the image.
    down = Line("v", 100, 0, 100, 200)
    assert down.signed_distance(40, 50) > 0
    assert down.signed_distance(160, 50) < 0


def test_crosses_counts_only_the_segment():
    line = Line("h", 0, 100, 200, 100)
    assert line.crosses((50, 80), (60, 120))
    assert line.crosses((60, 120), (50, 80))
    assert not line.crosses((250, 80), (260, 120))  # beyond B: only the extension is crossed
    assert not line.crosses((50, 80), (60, 90))  # same side


def test_parse_line():
    assert parse_line("door:0,150,480,150.5") == Line("door", 0, 150, 480, 150.5)


@pytest.mark.parametrize("spec, words", [
    ("door", "malformed"),
    ("door:1,2,3", "malformed"),
    ("door:a,2,3,4", "non-numeric"),
    ("door:1,2,1,2", "zero length"),
    ("door:nan,2,3,4", "non-finite"),
    ("bad name:1,2,3,4", "invalid"),
])
def test_parse_line_errors_are_one_line_and_say_what_to_do(spec, words):
    with pytest.raises(EdgeError) as e:
        parse_line(spec)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_check_lines_rejects_duplicates_and_lines_outside_the_frame():
    with pytest.raises(EdgeError, match="used twice"):
        check_lines([parse_line("a:0,0,10,10"), parse_line("a:5,5,20,20")], 480, 360)
    with pytest.raises(EdgeError, match="entirely outside the 480x360 frame"):
        check_lines([parse_line("far:500,10,900,10")], 480, 360)
    # partly outside is fine, and so is a segment that spans the frame with both ends outside
    check_lines([parse_line("a:-10,100,900,100"), parse_line("b:-50,-50,600,500")], 480, 360)


def test_distance_to_the_segment_not_its_extension():
    door = Line("door", 100, 200, 300, 200)
    points = np.array([[200, 150], [200, 260], [100, 200], [340, 230], [50, 200]], float)
    assert np.allclose(door.distance(points), [50, 60, 0, 50, 50])
