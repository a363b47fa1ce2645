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
