"""ByteTrack-style tracker on small hand-made sequences."""

import numpy as np

from edge.vision.detections import Detections
from edge.vision.tracker import ByteTracker


def dets(*rows: tuple[float, float, float, float, float]) -> Detections:
    a = np.array(rows, np.float32).reshape(-1, 5)
    return Detections(a[:, :4], a[:, 4])


def box(x: float, y: float, score: float = 0.9) -> tuple[float, float, float, float, float]:
    return (x, y, x + 20, y + 50, score)


def test_two_walkers_keep_their_ids():
    t = ByteTracker()
    ids = []
    for f in range(1, 21):
        out = t.update(dets(box(10 + 3 * f, 100), box(300 - 3 * f, 100)), f)
        ids.append(tuple(out.track_id.tolist()))
    assert ids[0] == ()  # a new track must be seen twice before it is reported
    assert len(set(ids[2:])) == 1 and len(ids[2]) == 2


def test_low_score_detection_keeps_an_occluded_track_alive():
    t = ByteTracker()
    for f in range(1, 6):
        out = t.update(dets(box(10 + 3 * f, 100)), f)
    (tid,) = out.track_id.tolist()
    out = t.update(dets(box(10 + 3 * 6, 100, score=0.2)), 6)  # partly hidden: low score
    assert out.track_id.tolist() == [tid]
    out = t.update(dets(box(10 + 3 * 7, 100)), 7)
    assert out.track_id.tolist() == [tid]


def test_low_score_detection_alone_never_starts_a_track():
    t = ByteTracker()
    for f in range(1, 6):
        assert len(t.update(dets(box(50, 50, score=0.3)), f)) == 0


def test_lost_track_is_found_again_with_its_id_after_a_gap():
    t = ByteTracker()
    for f in range(1, 6):
        out = t.update(dets(box(10 + 3 * f, 100)), f)
    (tid,) = out.track_id.tolist()
    for f in range(6, 11):  # hidden for five frames
        assert len(t.update(Detections.empty(), f)) == 0
    out = t.update(dets(box(10 + 3 * 11, 100)), 11)
    assert out.track_id.tolist() == [tid]


def test_tracks_are_dropped_after_lost_frames():
    t = ByteTracker()
    for f in range(1, 4):
        t.update(dets(box(10, 10)), f)
    for f in range(4, 4 + t.lost_frames + 2):
        t.update(Detections.empty(), f)
    assert t._tracks == []


def test_a_walker_not_looked_at_for_some_frames_is_found_where_their_speed_took_them():
    """Frames the motion gate held back are not fed to the tracker; the prediction spans them (8 px a frame here:
    after a 6-frame gap the walker is 48 px on, beyond both IoU and the gated association from one frame's step)."""
    t = ByteTracker()
    for f in range(1, 11):
        out = t.update(dets(box(10 + 8 * f, 100)), f)
    (tid,) = out.track_id.tolist()
    for f in (17, 18):
        out = t.update(dets(box(10 + 8 * f, 100)), f)
        assert out.track_id.tolist() == [tid]


def test_tracks_outside_the_region_looked_at_are_neither_lost_nor_reported_nor_reborn():
    t = ByteTracker()
    for f in range(1, 4):
        out = t.update(dets(box(10 + 3 * f, 100), box(300, 100)), f)
    left, right = out.track_id.tolist()
    region = (0, 50, 150, 200)  # around the left walker only
    out = t.update(dets(box(10 + 3 * 4, 100)), 4, region)
    assert out.track_id.tolist() == [left]  # the right one was not looked at: not reported, not lost
    out = t.update(dets(box(10 + 3 * 5, 100), box(300, 100)), 5)
    assert out.track_id.tolist() == [left, right]
    out = t.update(dets(box(10 + 3 * 6, 100), box(300, 100)), 6, (0, 50, 150, 200))
    assert out.track_id.tolist() == [left]  # a box of the right one in a crop (not here) would start nothing
    before = len(t._tracks)
    t.update(dets(box(10 + 3 * 7, 100), box(300, 100)), 7, (0, 50, 330, 145))  # right one cut: not inside
    assert len(t._tracks) == before


def test_a_crop_that_misses_a_tracked_person_does_not_lose_them():
    """A whole frame's miss makes a track lost (only confident boxes near it take it back); a crop's only hides it."""
    def lost_after_a_miss(in_a_crop: bool) -> bool:
        t = ByteTracker()
        for f in range(1, 6):
            t.update(dets(box(10 + 3 * f, 100)), f)
        hidden = t.update(Detections.empty(), 6, (0, 50, 150, 200) if in_a_crop else None)
        assert len(hidden) == 0  # not looked at successfully: not reported either way
        return t._tracks[0].lost

    assert lost_after_a_miss(in_a_crop=False) is True
    assert lost_after_a_miss(in_a_crop=True) is False


def test_after_a_crop_the_tracks_shown_are_those_looked_at_and_the_others_as_last_seen():
    from edge.vision.detections import Tracks

    before = Tracks(np.array([1, 2]), np.array([[10, 10, 30, 60], [300, 10, 320, 60]], np.float32),
                    np.array([0.9, 0.8], np.float32))
    looked = Tracks(np.array([1]), np.array([[12, 10, 32, 60]], np.float32), np.array([0.95], np.float32))
    shown = looked.plus(before)
    assert shown.track_id.tolist() == [1, 2] and shown.xyxy[0, 0] == 12 and shown.xyxy[1, 0] == 300
