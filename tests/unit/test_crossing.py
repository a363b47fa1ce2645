"""Line counting: direction, jitter, segment ends, re-born tracks, bounded memory."""

import numpy as np

from edge.counting.crossing import LineCounter
from edge.counting.line import Line
from edge.vision.detections import Tracks

H = 50.0  # box height: hysteresis band = 0.075 * 50 = 3.75 px


def tracks(*people: tuple[int, float, float]) -> Tracks:
    """(track_id, foot x, foot y) -> tracks with H-high boxes."""
    ids = np.array([p[0] for p in people], np.int64)
    xyxy = np.array([[x - 10, y - H, x + 10, y] for _, x, y in people], np.float32).reshape(-1, 4)
    return Tracks(ids, xyxy, np.full(len(people), 0.9, np.float32))


def run(counter: LineCounter, path: list[list[tuple[int, float, float]]]) -> list[tuple[str, str, int, int]]:
    out = []
    for frame, people in enumerate(path, start=1):
        out += [(c.line, c.direction, c.track_id, c.frame) for c in counter.update(tracks(*people), frame)]
    return out


LINE = Line("door", 0, 100, 200, 100)  # A->B to the right: "in" is downwards on the image


def test_walking_down_is_in_and_up_is_out():
    c = LineCounter([LINE])
    down = [[(1, 50, y)] for y in range(80, 125, 4)]
    # y = 80, 84, ..., 100 (frame 6) is on the line: inside the 3.75 px band; 104 (frame 7) confirms
    assert run(c, down) == [("door", "in", 1, 7)]
    up = [[(2, 150, y)] for y in range(125, 75, -4)]
    assert [e[:3] for e in run(c, up)] == [("door", "out", 2)]
    assert c.totals == {"door": {"in": 1, "out": 1}}


def test_a_track_born_inside_the_band_counts_when_it_leaves_on_the_other_side():
    c = LineCounter([LINE])
    assert [e[:2] for e in run(c, [[(1, 50, y)] for y in range(98, 120, 3)])] == [("door", "in")]
    c = LineCounter([LINE])
    assert run(c, [[(1, 50, y)] for y in range(98, 70, -3)]) == []  # left on the side it was born on


def test_jitter_on_the_line_is_not_counted():
    c = LineCounter([LINE])
    wobble = [[(1, 50 + f, 100 + (3 if f % 2 else -3))] for f in range(60)]
    assert run(c, [[(1, 50, 80)]] + wobble + [[(1, 50, 80)]]) == []


def test_walking_along_the_line_with_feet_on_it_is_not_counted():
    c = LineCounter([LINE])
    along = [[(1, x, 100 + 3.5 * np.sin(x / 7))] for x in range(0, 200, 3)]
    assert run(c, along) == []


def test_passing_beyond_the_segment_end_is_not_counted():
    c = LineCounter([LINE])
    assert run(c, [[(1, 260, y)] for y in range(60, 140, 5)]) == []


def test_a_track_reborn_after_an_id_switch_is_not_counted_twice():
    c = LineCounter([LINE])
    first = [[(1, 50, y)] for y in range(80, 112, 4)]  # crosses in as track 1
    second = [[(2, 50, y)] for y in range(114, 140, 4)]  # same person, new id, just below the line
    events = run(c, first + second)
    assert [e[:2] for e in events] == [("door", "in")]


def test_a_track_that_starts_past_the_line_after_a_lost_one_is_counted_once():
    c = LineCounter([LINE])
    before = [[(1, 50, y)] for y in range(60, 92, 4)]  # lost just above the line
    after = [[(2, 52, y)] for y in range(112, 140, 4)]  # reborn below it
    assert [e[:3] for e in run(c, before + after)] == [("door", "in", 2)]


def test_two_people_crossing_side_by_side_are_both_counted():
    c = LineCounter([LINE])
    path = [[(1, 50, y), (2, 80, y)] for y in range(80, 125, 4)]
    assert sorted(e[2] for e in run(c, path)) == [1, 2]


def test_several_lines_count_independently():
    c = LineCounter([LINE, Line("side", 100, 0, 100, 200)])
    path = [[(1, x, 50)] for x in range(60, 140, 5)]  # left to right across "side" only
    assert [e[:2] for e in run(c, path)] == [("side", "out")]


def test_memory_of_dead_tracks_is_evicted():
    c = LineCounter([LINE])
    for f in range(1, 2001):  # an endless stream of short-lived tracks
        c.update(tracks((f, 10 + f % 100, 30)), f)
    assert c.tracked_states <= c.forget_frames + 1


def test_events_carry_the_capture_time_of_the_frame_they_happened_on():
    from edge.counting.pipeline import CameraPipeline
    from edge.vision.detections import Detections

    pipe = CameraPipeline("box1", "cam", [LINE], "m")
    events = []
    for frame, y in enumerate(range(60, 160, 4), start=1):
        dets = Detections(np.array([[40, y - H, 60, y]], np.float32), np.array([0.9], np.float32))
        events += pipe.step(dets, frame, ts_us=1_000_000 * frame)
    events += pipe.finish(ts_us=10**12)
    assert len(events) == 1 and events[0].ts_us == 1_000_000 * events[0].frame


def test_lines_replaced_while_counting_lose_nothing_and_count_nothing_twice():
    """A line moved under a person who stands still is not a crossing; a crossing held on a line that moves or goes
    is counted at once; an unchanged line keeps counting as before."""
    other = Line("side", 100, 0, 100, 300)
    c = LineCounter([LINE, other])
    # person 1 has crossed "door" (held for hold_frames); person 2 stands at y = 150, below "door"
    walk = [[(1, 50, y), (2, 150, 150)] for y in range(80, 108, 4)]  # y = 104 on frame 7 confirms the side
    assert run(c, walk) == []  # still held
    moved = Line("door", 0, 200, 200, 200)  # now below person 2: the side they are on changes
    settled = c.replace_lines([moved, other])
    assert [(x.line, x.direction, x.track_id) for x in settled] == [("door", "in", 1)]  # counted, not lost
    frame = len(walk)
    out = []
    for f, people in enumerate([[(1, 50, 112), (2, 150, 150)]] * 10, start=frame + 1):
        out += c.update(tracks(*people), f)
    assert out == []  # nobody walked: the moved line counts nobody, the held crossing is not counted again
    assert c.totals["door"] == {"in": 1, "out": 0}
    # the moved line counts from where people are: person 2 walks down over it
    out = []
    for f, y in enumerate(range(150, 240, 4), start=frame + 11):
        out += c.update(tracks((2, 150, y)), f)
    assert [(x.line, x.direction, x.track_id) for x in out] == [("door", "in", 2)]
    # a removed line is forgotten, a kept one keeps its sides
    assert c.replace_lines([other]) == [] and c.lines == [other]
