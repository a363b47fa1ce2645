"""`make anchor`: the plain library pipeline on the accuracy suite, to measure our lead over it (issue 11).

supervision's ByteTrack (its defaults, frame rate from the sequence) and one LineZone per line with the
bottom-centre anchor, fed by the product's own detector (YOLOX-Nano, 416 letterbox, boxes scoring >= 0.1,
default DetectorSettings) on every frame, scored by the product's own rules: gt crossings from
edge.eval.groundtruth, events dated at the frame LineZone reports them, matched within round(tolerance_s * fps)
frames by edge.eval.scoring, misses explained by edge.eval.diagnosis. By default the same run also scores our
pipeline exactly as `edge eval --suite` does (edge.eval.run.run_suite with its defaults), so the two sets of
figures share the machine and the session.

supervision is a benchmark-only extra (`pip install -e '.[anchor]'`), never a dependency of the product;
0.30.x is the last release with sv.ByteTrack.

    PYTHONPATH=$PWD .venv/bin/python -m tests.bench.anchor [--suite FILE] [--anchor-only] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import typer

from edge.cli_errors import one_line_errors
from edge.config import DetectorSettings
from edge.counting.line import Line
from edge.errors import UserError
from edge.eval.diagnosis import Frames, classify
from edge.eval.groundtruth import gt_crossings, load_boxes, paths
from edge.eval.report import render
from edge.eval.run import Detect, EvalOptions, SequenceReport, SuiteReport, run_suite
from edge.eval.scoring import Score, evaluate, matched_gt
from edge.eval.suite import Sequence, Suite, load_suite
from edge.records import Direction
from edge.run.parallel import ordered_map, prefetch
from edge.video.file import FileSource
from edge.vision.detections import Detections, Tracks
from edge.vision.detector import parallel_detector
from models.paths import REPO_ROOT, data_dir

try:
    import supervision as sv
except ImportError:  # the optional extra: main() says how to install it
    sv = None

SUITE = REPO_ROOT / "tests" / "accuracy" / "suite.toml"


def line_zone(line: Line) -> sv.LineZone:
    """A LineZone over the segment A->B that triggers on the bottom centre of the box (where the feet are)."""
    return sv.LineZone(start=sv.Point(line.x1, line.y1), end=sv.Point(line.x2, line.y2),
                       triggering_anchors=[sv.Position.BOTTOM_CENTER])


def crossings(zone: sv.LineZone, tracked: sv.Detections) -> Iterator[tuple[int, Direction]]:
    """(track id, our direction) of every crossing `zone` reports on this frame.

    LineZone counts "in" a move onto the side where (B - A) x (P - A) < 0. With image y pointing down that is
    the left-hand side of A->B, so its "in" is our "out" and its "out" our "in" (tests/unit/test_anchor.py).
    """
    crossed_in, crossed_out = zone.trigger(tracked)
    for tid in tracked.tracker_id[crossed_out]:
        yield int(tid), Direction.IN
    for tid in tracked.tracker_id[crossed_in]:
        yield int(tid), Direction.OUT


def evaluate_anchor(seq: Sequence, data: Path, tolerance_s: float, detect: Detect, workers: int) -> SequenceReport:
    """Detect every frame of `seq`, track with sv.ByteTrack, count with sv.LineZone, score as `edge eval`."""
    video, gt_path = seq.files(data)
    truth = load_boxes(gt_path, seq.gt_scale)
    lines = seq.counting_lines()
    with warnings.catch_warnings():  # deprecated since 0.28, gone in 0.31: why the extra pins 0.30.x
        warnings.simplefilter("ignore", FutureWarning)
        tracker = sv.ByteTrack(frame_rate=seq.fps)
    zones = {line.name: line_zone(line) for line in lines}
    detections: dict[int, Detections] = {}
    tracks: dict[int, Tracks] = {}
    events: list[tuple[str, str, int]] = []
    source = FileSource(video)
    start = time.process_time()
    try:
        for frame, dets in ordered_map(prefetch(iter(source), lambda f: f), lambda f: (f, detect(f.image)), workers):
            tracked = tracker.update_with_detections(sv.Detections(xyxy=dets.xyxy, confidence=dets.score))
            for name, zone in zones.items():
                events += [(name, str(direction), frame.index) for _, direction in crossings(zone, tracked)]
            detections[frame.index] = dets
            tracks[frame.index] = Tracks(tracked.tracker_id, tracked.xyxy, tracked.confidence)
    finally:
        source.close()
    cpu_s, last = time.process_time() - start, max(detections, default=0)
    window = max(1, round(tolerance_s * seq.fps))
    gt = gt_crossings(paths(truth), lines)
    gt_events = [(c.line, str(c.direction), c.frame) for c in gt]
    rows = evaluate(gt_events, events, [line.name for line in lines], window)
    hit, seen = matched_gt(gt_events, events, window), Frames(truth, detections, tracks)
    misses = Counter(classify(c, seen, window) for i, c in enumerate(gt) if i not in hit)
    return SequenceReport(seq.name, max(last, max(truth, default=0)), len(detections), window, rows, dict(misses),
                          round(1000 * cpu_s / max(len(detections), 1), 2), len(detections))


def run_anchor(suite: Suite, data: Path, detect: Detect, workers: int) -> SuiteReport:
    suite.check_files(data)
    return SuiteReport([evaluate_anchor(seq, data, suite.tolerance_s, detect, workers) for seq in suite.sequences],
                       None)


def _cells(s: Score, err: int) -> str:
    return f"{s.counted:>8}{s.matched:>8}{s.precision:>7.3f}{s.recall:>7.3f}{s.f1:>7.3f}{err:>6}"


def side_by_side(anchor: SuiteReport, ours: SuiteReport) -> str:
    """Per sequence and pooled: the anchor's figures, ours, and our F1 lead."""
    head = f"{'counted':>8}{'matched':>8}{'P':>7}{'R':>7}{'F1':>7}{'|err|':>6}"
    out = [f"{'':<14}{'':>6}{'anchor (supervision)':^43}  {'ours (edge eval --suite)':^43}",
           f"{'sequence':<14}{'gt':>6}{head}  {head}{'F1 lead':>9}"]
    pairs = [(a.name, a.total, a.abs_error, o.total, o.abs_error) for a, o in zip(anchor.sequences, ours.sequences)]
    pairs.append(("pooled", anchor.pooled, anchor.abs_error, ours.pooled, ours.abs_error))
    for name, a, a_err, o, o_err in pairs:
        out.append(f"{name:<14}{a.gt:>6}{_cells(a, a_err)}  {_cells(o, o_err)}{o.f1 - a.f1:>+9.3f}")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", type=Path, default=SUITE, help="suite file (default tests/accuracy/suite.toml)")
    ap.add_argument("--anchor-only", action="store_true", help="skip scoring our pipeline in the same run")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    try:
        with one_line_errors():
            if sv is None or not hasattr(sv, "ByteTrack"):
                raise UserError("supervision 0.30.x is not installed: run `make anchor` "
                                "(pip install -e '.[anchor]'), the benchmark-only extra")
            suite = load_suite(args.suite)
            suite.check_files(data_dir())
            detect, workers = parallel_detector(DetectorSettings())
            anchor = run_anchor(suite, data_dir(), detect, workers)
            ours = None if args.anchor_only else run_suite(suite, data_dir(), EvalOptions(), detect, workers)
    except typer.Exit as e:
        sys.exit(e.exit_code)
    if args.json:
        print(json.dumps({"supervision": sv.__version__, "anchor": anchor.as_dict(),
                          "ours": ours.as_dict() if ours else None}))
        return
    print(f"anchor: supervision {sv.__version__} ByteTrack (defaults) + LineZone (bottom centre), same detector\n")
    print(render(anchor))
    if ours is not None:
        print("\nours: edge eval --suite, same run\n")
        print(render(ours))
        print()
        print(side_by_side(anchor, ours))


if __name__ == "__main__":
    main()
