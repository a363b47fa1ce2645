"""Which frames are detected at a camera's detect_fps (pure)."""

from edge.video.pacer import Pacer


def test_pacer_numbers_due_frames_in_detection_periods():
    p = Pacer(100_000)
    ticks = [p.tick for ts in (5_000, 98_000, 230_000, 260_000, 2_300_000, 2_390_000) if p.due(ts)]
    assert ticks == [1, 2, 3, 24, 25]  # 260 ms is early (not due); a 2 s outage leaves a gap of 20 periods
