"""Batches on the real model: a batched call finds what single calls find; `edge run` picks its mode as set or
probed, and says so in its log."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from edge.config import Batching, DetectorSettings
from edge.run.loop import box_detector
from edge.vision.detector import Detector
from tests.support import scenes


@pytest.fixture(scope="module")
def frames(pets_video) -> list[np.ndarray]:
    return scenes.frames(pets_video, 400)[99::100]


def test_one_batched_call_finds_what_single_calls_find(model_path, frames, tmp_path, monkeypatch):
    monkeypatch.setenv("CACHE_DIRECTORY", str(tmp_path))  # the any-size graph is derived for the batch
    detector = Detector(DetectorSettings(model_path=model_path, score_threshold=0.3))
    singles, batched = [detector(f) for f in frames], detector.batch(frames)
    assert [len(d) for d in batched] == [len(d) for d in singles] and sum(len(d) for d in singles) >= 20
    for a, b in zip(singles, batched):
        np.testing.assert_allclose(a.xyxy, b.xyxy, atol=0.05)  # same weights; float sums in another order
        np.testing.assert_allclose(a.score, b.score, atol=1e-4)


def test_a_batch_of_mixed_input_sizes_is_a_programming_error(model_path, frames):
    detector = Detector(DetectorSettings(model_path=model_path))
    with pytest.raises(ValueError, match="mixes input sizes"):
        detector.batch([frames[0], np.zeros((720, 1280, 3), np.uint8)])


def decisions(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "edge.run" and r.message in ("batches", "single frames")]


@pytest.mark.parametrize("setting, cameras, max_batch, probed", [
    (Batching.ON, 4, 8, False),
    (Batching.OFF, 4, 1, False),
    (Batching.AUTO, 1, 1, False),  # one camera: no probe, single frames
])
def test_a_set_mode_needs_no_probe(model_path, caplog, setting, cameras, max_batch, probed):
    with caplog.at_level(logging.INFO, "edge.run"):
        _, calls, got = box_detector(DetectorSettings(model_path=model_path, batching=setting), cameras)
    assert got == max_batch and calls == (1 if max_batch > 1 else 2)
    (record,) = decisions(caplog)
    assert record.setting == str(setting) and hasattr(record, "batched_ms") is probed


def test_auto_probes_both_ways_and_logs_what_it_measured(model_path, caplog):
    with caplog.at_level(logging.INFO, "edge.run"):
        settings = DetectorSettings(model_path=model_path, batching=Batching.AUTO)
        detector, calls, max_batch = box_detector(settings, cameras=6)
    (record,) = decisions(caplog)
    assert record.probe_frames == 4 and record.batched_ms > 0 and record.parallel_ms > 0
    faster = record.batched_ms < record.parallel_ms
    assert (record.message == "batches") is faster and (max_batch == 8) is faster and (calls == 1) is faster
    assert detector.settings.threads == (2 if faster else 1)
