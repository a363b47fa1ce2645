"""`edge eval --suite`: every sequence of a suite through the box's own chain, scored, and its misses explained.

A sequence's frames are decoded and detected (or its labelled boxes taken as detections), then tracked and
counted by the same CameraPipeline as `edge count` and `edge run`, numbered at the video's frame rate: with
`detect_fps` below it, frames are skipped as a live box would skip them, and the durations stay the same.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import numpy as np

from edge.config import CounterSettings, DetectorSettings, MotionSettings, TrackerSettings
from edge.counting.pipeline import CameraPipeline
from edge.eval.diagnosis import Frames, Miss, classify
from edge.eval.groundtruth import GtBox, gt_crossings, load_boxes, paths
from edge.eval.gt_detections import gt_detections
from edge.eval.scoring import Score, evaluate, matched_gt, pool, total_abs_error
from edge.eval.suite import Sequence, Suite
from edge.run.parallel import ordered_map, prefetch
from edge.video.file import FileSource
from edge.video.pacer import Pacer
from edge.vision.detections import Detections, Region, Tracks, within
from edge.vision.motion import MotionGate


class DetectionsFrom(StrEnum):
    MODEL = "model"  # the detector, as the box runs it
    GT = "gt"        # the labelled boxes: the ceiling of tracking and counting


@dataclass(frozen=True, kw_only=True)
class EvalOptions:
    source: DetectionsFrom = DetectionsFrom.MODEL
    drop: float = 0.0            # with gt boxes: share of boxes dropped at random
    jitter: float = 0.0          # with gt boxes: edge noise as a fraction of the box size
    seed: int = 0
    detect_fps: float | None = None  # process frames at this rate (None: every frame of the video)
    detector: DetectorSettings = field(default_factory=DetectorSettings)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    counter: CounterSettings = field(default_factory=CounterSettings)
    motion: MotionSettings = field(default_factory=MotionSettings)  # the gate as `edge run` has it (model only)


@dataclass(frozen=True)
class SequenceReport:
    name: str
    frames: int
    processed: int
    tolerance_frames: int
    rows: list[Score]
    misses: dict[Miss, int]
    cpu_ms_per_frame: float | None  # detection CPU (all threads) per processed frame; None with gt boxes
    detected: int                   # processed frames the motion gate let through to the detector

    @property
    def total(self) -> Score:
        return self.rows[-1]

    @property
    def abs_error(self) -> int:
        return total_abs_error(self.rows)

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "frames": self.frames, "processed": self.processed,
                "tolerance_frames": self.tolerance_frames, "total": self.total.as_dict(),
                "abs_error": self.abs_error, "misses": {m.value: self.misses.get(m, 0) for m in Miss},
                "cpu_ms_per_frame": self.cpu_ms_per_frame, "detected": self.detected,
                "rows": [r.as_dict() for r in self.rows]}


@dataclass(frozen=True)
class SuiteReport:
    sequences: list[SequenceReport]
    committed_f1: float | None

    @property
    def pooled(self) -> Score:
        return pool([s.total for s in self.sequences], "pooled")

    @property
    def abs_error(self) -> int:
        return sum(s.abs_error for s in self.sequences)

    def as_dict(self) -> dict[str, object]:
        pooled = self.pooled
        misses = Counter[Miss]()
        for s in self.sequences:
            misses.update(s.misses)
        return {"sequences": [s.as_dict() for s in self.sequences], "pooled": pooled.as_dict(),
                "abs_error": self.abs_error, "abs_error_pct": round(100 * self.abs_error / max(pooled.gt, 1), 2),
                "misses": {m.value: misses.get(m, 0) for m in Miss}, "committed_f1": self.committed_f1}


Detect = Callable[[np.ndarray], Detections]
DetectRegion = Callable[[np.ndarray, Region], Detections]  # Detector.region: a crop at the whole frame's scale


def _due(fps: float, detect_fps: float | None) -> Callable[[int], bool]:
    """Whether frame `index` (1-based) of a `fps` video is processed at `detect_fps`, as a live box paces it."""
    if detect_fps is None or detect_fps >= fps:
        return lambda index: True
    pacer = Pacer(1e6 / detect_fps)
    return lambda index: pacer.due(round((index - 1) * 1e6 / fps))


def _model_frames(video: Path, fps: float, options: EvalOptions, detect: Detect, workers: int,
                  cpu: list[float]) -> Iterator[tuple[int, Detections, np.ndarray | None]]:
    """Every due frame detected (in parallel, ahead of the consumer), with its image for the motion gate."""
    source = FileSource(video)
    due = _due(fps, options.detect_fps)
    try:
        frames = (f for f in source if due(f.index))
        start = time.process_time()
        for frame, dets in ordered_map(prefetch(frames, lambda f: f), lambda f: (f, detect(f.image)), workers):
            yield frame.index, dets, frame.image
        cpu.append(time.process_time() - start)
    finally:
        source.close()


def _gt_frames(truth: dict[int, list[GtBox]], count: int, fps: float,
               options: EvalOptions) -> Iterator[tuple[int, Detections, np.ndarray | None]]:
    rng, due = np.random.default_rng(options.seed), _due(fps, options.detect_fps)
    for index in range(1, count + 1):
        if due(index):
            yield index, gt_detections(truth.get(index, []), rng, options.drop, options.jitter), None


def evaluate_sequence(seq: Sequence, data_dir: Path, tolerance_s: float, options: EvalOptions,
                      detect: Detect | None = None, workers: int = 1,
                      detect_region: DetectRegion | None = None) -> SequenceReport:
    """Count one sequence with the pipeline and score it; `detect` is required unless boxes come from the gt."""
    video, gt_path = seq.files(data_dir)
    truth = load_boxes(gt_path, seq.gt_scale)
    lines = seq.counting_lines()
    cpu: list[float] = []
    if options.source == DetectionsFrom.GT:
        length = FileSource(video)
        count = max(length.frame_count, max(truth, default=0))
        length.close()
        stream = _gt_frames(truth, count, seq.fps, options)
    else:
        assert detect is not None
        stream = _model_frames(video, seq.fps, options, detect, workers, cpu)
    pipe = CameraPipeline("eval", seq.name, lines, "eval", options.tracker, options.counter, seq.fps)
    gate = MotionGate(options.motion, lines, seq.fps)
    detections: dict[int, Detections] = {}
    tracks: dict[int, Tracks] = {}
    counted, last, processed = [], 0, 0
    for index, dets, image in stream:
        processed, last = processed + 1, index
        if image is not None and not gate.needs_detection(image, index, pipe.tracks):
            continue  # as `edge run`: a frame the gate holds back never reaches the tracker
        if (region := gate.region) is not None and image is not None:  # as `edge run`: only a crop is detected
            dets = detect_region(image, region) if detect_region else dets[within(dets.xyxy, region)]
        counted += pipe.step(dets, index, round(index * 1e6 / seq.fps), region)
        detections[index], tracks[index] = dets, pipe.tracks
    counted += pipe.finish(round(last * 1e6 / seq.fps))
    window = max(1, round(tolerance_s * seq.fps))
    gt = gt_crossings(paths(truth), lines)
    gt_events = [(c.line, str(c.direction), c.frame) for c in gt]
    events = [(e.line, str(e.direction), e.frame) for e in counted]
    rows = evaluate(gt_events, events, [ln.name for ln in lines], window)
    hit = matched_gt(gt_events, events, window)
    seen = Frames(truth, detections, tracks)
    misses = Counter(classify(c, seen, window) for i, c in enumerate(gt) if i not in hit)
    return SequenceReport(seq.name, max(last, max(truth, default=0)), processed, window, rows, dict(misses),
                          round(1000 * cpu[0] / max(processed, 1), 2) if cpu else None, len(detections))


def run_suite(suite: Suite, data_dir: Path, options: EvalOptions, detect: Detect | None = None,
              workers: int = 1, on_sequence: Callable[[SequenceReport], None] | None = None,
              detect_region: DetectRegion | None = None) -> SuiteReport:
    """Every sequence, in order; every file is checked before the first one is counted."""
    suite.check_files(data_dir)
    reports = []
    for seq in suite.sequences:
        report = evaluate_sequence(seq, data_dir, suite.tolerance_s, options, detect, workers, detect_region)
        reports.append(report)
        if on_sequence is not None:
            on_sequence(report)
    return SuiteReport(reports, suite.committed_f1)
