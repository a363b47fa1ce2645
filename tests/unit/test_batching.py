"""Batching across cameras: which ready frames share a call, and when batches are used."""

import pytest

from edge.config import Batching
from edge.vision.batching import Probe, group_by_size, probe_frames, use_batches

SMALL, WIDE = (416, 416), (480, 832)


def test_frames_of_one_input_size_share_a_call_in_the_order_the_cameras_came():
    assert group_by_size([SMALL, WIDE, SMALL, WIDE, SMALL], max_batch=8) == [[0, 2, 4], [1, 3]]


def test_a_call_takes_at_most_max_batch_frames():
    assert group_by_size([SMALL] * 5, max_batch=2) == [[0, 1], [2, 3], [4]]
    assert group_by_size([SMALL, WIDE, SMALL, SMALL], max_batch=1) == [[0], [2], [3], [1]]


def test_nothing_ready_is_no_call():
    assert group_by_size([], max_batch=4) == []


def probe(parallel_ms: float, batched_ms: float, frames: int = 4) -> Probe:
    """Three rounds whose median is the given per-frame time (the other rounds are outliers either way)."""
    def rounds(ms: float) -> tuple[float, ...]:
        return (ms * frames / 1000, 10.0, 0.0)

    return Probe(frames, rounds(parallel_ms), rounds(batched_ms))


def test_probe_reports_the_median_round_per_frame():
    p = probe(parallel_ms=8.0, batched_ms=11.0)
    assert p.parallel_ms == pytest.approx(8.0) and p.batched_ms == pytest.approx(11.0)


@pytest.mark.parametrize("setting, cameras, measured, expected", [
    (Batching.ON, 1, None, True),                    # forced: even one camera's frames go through the batch path
    (Batching.OFF, 8, probe(20.0, 5.0), False),      # forced off, however the probe came out
    (Batching.AUTO, 4, probe(8.0, 11.0), False),     # single calls two at once faster (this CPU, shared)
    (Batching.AUTO, 4, probe(8.0, 5.0), True),       # one batched call faster (this CPU, idle)
    (Batching.AUTO, 1, probe(8.0, 5.0), False),      # one camera: nothing to batch
    (Batching.AUTO, 4, None, False),                 # nothing measured: single frames, as before batches
])
def test_batches_are_used_as_set_or_where_the_probe_found_them_faster(setting, cameras, measured, expected):
    assert use_batches(setting, cameras, measured) is expected


def test_the_probe_batches_as_many_frames_as_cameras_could_be_ready_at_most_four():
    assert [probe_frames(n, max_batch=8) for n in (1, 2, 3, 4, 16)] == [2, 2, 3, 4, 4]
    assert probe_frames(16, max_batch=3) == 3
