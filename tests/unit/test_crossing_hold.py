"""Counting rules tuned against ground truth: held crossings, end-of-source flush, relink height gate."""

import numpy as np

from edge.config import CounterSettings
from edge.counting.crossing import LineCounter
from edge.counting.line import Line
from edge.vision.detections import Tracks

DOOR = Line("door", 0, 100, 200, 100)  # "in" is downwards on the image


def tracks(*people: tuple[int, float, float, float]) -> Tracks:
    """(track_id, foot x, foot y, box height) -> tracks."""
    xyxy = np.array([[x - 10, y - h, x + 10, y] for _, x, y, h in people], np.float32).reshape(-1, 4)
    return Tracks(np.array([p[0] for p in people], np.int64), xyxy, np.full(len(people), 0.9, np.float32))


def feed(counter: LineCounter, path: list[list[tuple[int, float, float, float]]]) -> list[tuple[str, int, int, int]]:
    """(direction, track, crossing frame, frame it was returned on) of every counted crossing."""
    out = []
    for frame, people in enumerate(path, start=1):
        out += [(c.direction, c.track_id, c.frame, frame) for c in counter.update(tracks(*people), frame)]
    return out


def test_a_crossing_is_returned_after_the_hold_with_the_frame_it_happened_on():
    c = LineCounter([DOOR], CounterSettings(hold_s=0.4))
    assert feed(c, [[(1, 50, y, 50)] for y in range(80, 140, 5)]) == [("in", 1, 6, 10)]  # y=105 on frame 6
    assert c.totals["door"] == {"in": 1, "out": 0}


def test_a_slow_crossing_is_dated_when_the_feet_crossed_not_when_they_left_the_band():
    c = LineCounter([DOOR], CounterSettings(hold_s=0.4))
    ys = [90, 95, 99, 101, 102, 101, 103, 108, 115]  # over the line on frame 4, out of the 3.75 px band on 8
    assert feed(c, [[(1, 50, y, 50)] for y in ys] + [[(1, 50, 120, 50)]] * 4) == [("in", 1, 4, 12)]


def test_feet_wobbling_on_the_line_date_the_crossing_from_their_last_step_over_it():
    c = LineCounter([DOOR], CounterSettings(hold_s=0))
    ys = [90, 101, 99, 101, 99, 102, 110]  # last goes over on frame 6, confirmed on 7
    assert feed(c, [[(1, 50, y, 50)] for y in ys]) == [("in", 1, 6, 7)]


def test_a_box_jumping_over_the_line_and_back_within_the_hold_is_not_counted():
    c = LineCounter([DOOR], CounterSettings(hold_s=0.4))
    ys = [90] * 5 + [108, 109, 91] + [90] * 10  # e.g. the box briefly covers someone behind
    assert feed(c, [[(1, 50, y, 50)] for y in ys]) == []
    assert c.totals["door"] == {"in": 0, "out": 0}


def test_coming_back_after_the_hold_counts_both_ways():
    c = LineCounter([DOOR], CounterSettings(hold_s=0.4))
    ys = [90] * 3 + [110] * 6 + [90] * 6
    assert [e[:3] for e in feed(c, [[(1, 50, y, 50)] for y in ys])] == [("in", 1, 4), ("out", 1, 10)]


def test_hold_zero_counts_on_the_frame_of_the_crossing():
    c = LineCounter([DOOR], CounterSettings(hold_s=0))
    assert feed(c, [[(1, 50, 90, 50)], [(1, 50, 110, 50)]]) == [("in", 1, 2, 2)]


def test_flush_returns_what_is_still_held_when_the_source_ends():
    c = LineCounter([DOOR], CounterSettings(hold_s=0.4))
    assert feed(c, [[(1, 50, 90, 50)], [(1, 50, 110, 50)]]) == []
    assert [(x.direction, x.frame) for x in c.flush()] == [("in", 2)]
    assert c.flush() == [] and c.totals["door"] == {"in": 1, "out": 0}


def test_a_held_crossing_is_counted_even_if_the_track_is_lost_meanwhile():
    c = LineCounter([DOOR], CounterSettings(hold_s=0.4))
    assert feed(c, [[(1, 50, 90, 50)], [(1, 50, 110, 50)]] + [[]] * 4) == [("in", 1, 2, 6)]


def test_a_new_track_of_a_very_different_height_does_not_inherit_a_lost_ones_sides():
    s = CounterSettings(hold_s=0)
    lost_above = [[(1, 50, 90, 100)]]  # e.g. a box that covered two people
    # born just below the line with half the height: someone else, counted as a fresh track (no crossing)
    assert feed(LineCounter([DOOR], s), lost_above + [[(2, 50, 110, 50)]] * 3) == []
    # the same person re-born with a similar box after an ID switch: the passage is counted once
    assert [e[:2] for e in feed(LineCounter([DOOR], s), lost_above + [[(2, 50, 110, 90)]] * 3)] == [("in", 2)]


def test_memory_stays_bounded_with_crossings_held():
    c = LineCounter([DOOR], CounterSettings(hold_s=0.4, forget_s=1.0))
    for frame in range(1, 400):
        tid = frame // 5  # a new person every 5 frames, each crossing once, 50 px from the previous one
        c.update(tracks((tid, 25 + 50 * (tid % 4), 90 if frame % 5 < 2 else 110, 50)), frame)
    c.flush()
    assert c.tracked_states <= 4 and c.totals["door"] == {"in": 80, "out": 0}
