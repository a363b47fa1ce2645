"""The motion gate on hand-made frames: what wakes the detector and what does not."""

from __future__ import annotations

import numpy as np

from edge.config import MotionSettings
from edge.counting.line import Line
from edge.vision.detections import Tracks
from edge.vision.motion import MotionGate

DOOR = Line("door", 100, 200, 300, 200)  # watched: x 100..300, y 200 +- 0.2 * 480 (with the default margin)
NOBODY = Tracks.empty()


def frame(*blocks: tuple[int, int, int]) -> np.ndarray:
    """A 640x480 grey scene with bright 40x40 blocks at (x, y) of the given level."""
    img = np.full((480, 640, 3), 60, np.uint8)
    for x, y, level in blocks:
        img[y:y + 40, x:x + 40] = level
    return img


def decisions(gate: MotionGate, frames: list[np.ndarray], tracks: Tracks = NOBODY) -> list[bool]:
    return [gate.needs_detection(f, i, tracks) for i, f in enumerate(frames, start=1)]


def test_a_still_scene_is_detected_first_then_only_every_max_quiet_s():
    gate = MotionGate(MotionSettings(max_quiet_s=2.0), [DOOR], rate_hz=10)
    got = decisions(gate, [frame()] * 45)
    assert [i for i, d in enumerate(got, start=1) if d] == [1, 21, 41]


def test_movement_near_a_line_wakes_the_detector_movement_elsewhere_does_not():
    gate = MotionGate(MotionSettings(), [DOOR], rate_hz=10)
    assert decisions(gate, [frame(), frame((560, 20, 250)), frame((180, 180, 250))]) == [True, False, True]


def test_slow_change_adds_up_against_the_last_detected_frame():
    gate = MotionGate(MotionSettings(threshold=20), [DOOR], rate_hz=10)
    levels = [60, 68, 76, 84, 92]  # +8 a frame: never 20 from one frame to the next
    assert decisions(gate, [frame((180, 180, lv)) for lv in levels]) == [True, False, False, True, False]


def test_a_person_standing_near_a_line_keeps_the_detector_on():
    gate = MotionGate(MotionSettings(), [DOOR], rate_hz=10)
    standing = Tracks(np.array([7]), np.array([[180, 120, 220, 205]], np.float32), np.array([0.8], np.float32))
    far = Tracks(np.array([8]), np.array([[560, 10, 600, 60]], np.float32), np.array([0.8], np.float32))
    assert decisions(gate, [frame()] * 5, standing) == [True] * 5
    gate = MotionGate(MotionSettings(), [DOOR], rate_hz=10)
    assert decisions(gate, [frame()] * 5, far) == [True, False, False, False, False]


def test_detect_always_turns_the_gate_off_and_a_new_resolution_is_looked_at():
    gate = MotionGate(MotionSettings(detect_always=True), [DOOR], rate_hz=10)
    assert decisions(gate, [frame()] * 4) == [True] * 4
    gate = MotionGate(MotionSettings(), [DOOR], rate_hz=10)
    assert gate.needs_detection(frame(), 1, NOBODY) and not gate.needs_detection(frame(), 2, NOBODY)
    assert gate.needs_detection(np.full((720, 1280, 3), 60, np.uint8), 3, NOBODY)


def test_after_a_failed_detection_the_next_frame_is_detected():
    gate = MotionGate(MotionSettings(), [DOOR], rate_hz=10)
    assert decisions(gate, [frame()] * 2) == [True, False]
    gate.reset()  # the detector failed on the frame it was given: it saw nothing
    assert gate.needs_detection(frame(), 3, NOBODY)


def person(feet_x: float, feet_y: float, height: float = 100) -> Tracks:
    box = [feet_x - height / 4, feet_y - height, feet_x + height / 4, feet_y]
    return Tracks(np.array([1]), np.array([box], np.float32), np.array([0.8], np.float32))


def test_a_person_about_but_not_close_to_a_line_is_looked_at_every_busy_interval():
    gate = MotionGate(MotionSettings(busy_interval_s=0.2), [DOOR], rate_hz=10)
    about = person(200, 270)  # in the watched area (y 200 +- 96), feet 0.7 of a height from the door
    assert decisions(gate, [frame()] * 6, about) == [True, False, True, False, True, False]
    gate = MotionGate(MotionSettings(busy_interval_s=0.3), [DOOR], rate_hz=10)
    assert decisions(gate, [frame()] * 6, about) == [True, False, False, True, False, False]


def test_a_person_close_to_a_line_gets_every_frame_and_zone_is_in_their_own_heights():
    gate = MotionGate(MotionSettings(), [DOOR], rate_hz=10)
    assert decisions(gate, [frame()] * 4, person(200, 245)) == [True] * 4  # 0.45 of a height away
    far_small = person(200, 245, height=60)  # the same feet, a smaller (farther) person: 0.75 of a height
    gate = MotionGate(MotionSettings(), [DOOR], rate_hz=10)
    assert decisions(gate, [frame()] * 4, far_small) == [True, False, True, False]
    beyond_the_end = person(360, 205)  # beside the door's extension, 60 px past its end: 0.6 of a height
    gate = MotionGate(MotionSettings(), [DOOR], rate_hz=10)
    assert decisions(gate, [frame()] * 4, beyond_the_end) == [True, False, True, False]


def test_a_busy_interval_of_zero_detects_every_frame_while_people_are_about():
    gate = MotionGate(MotionSettings(busy_interval_s=0), [DOOR], rate_hz=10)
    assert decisions(gate, [frame()] * 4, person(200, 270)) == [True] * 4


def test_movement_right_after_a_detection_waits_for_the_busy_interval():
    gate = MotionGate(MotionSettings(), [DOOR], rate_hz=10)
    moving = [frame(), frame((180, 180, 250)), frame((190, 180, 250)), frame((200, 180, 250))]
    assert decisions(gate, moving) == [True, False, True, False]


def test_between_whole_looks_only_a_crop_around_the_people_close_to_a_line_is_detected():
    gate = MotionGate(MotionSettings(), [DOOR], rate_hz=10)  # the default
    close = person(200, 245)  # box x 175..225, y 145..245; grown by half its height (50)
    regions = []
    for i in range(1, 5):
        assert gate.needs_detection(frame(), i, close)
        regions.append(gate.region)
    assert regions == [None, (125, 95, 275, 295), None, (125, 95, 275, 295)]
    gate = MotionGate(MotionSettings(busy_crops=False), [DOOR], rate_hz=10)  # whole frames only
    assert decisions(gate, [frame()] * 4, close) == [True] * 4 and gate.region is None


def test_a_crop_that_would_be_most_of_the_frame_is_the_whole_frame():
    gate = MotionGate(MotionSettings(busy_crops=True), [DOOR], rate_hz=10)
    tall = person(200, 245, height=240)  # grown by 120 on each side: 360 x 480 of a 640 x 480 frame
    assert decisions(gate, [frame()] * 3, tall) == [True] * 3 and gate.region is None
