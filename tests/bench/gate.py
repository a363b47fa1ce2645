"""The motion gate's settings against the accuracy suite: pooled F1 and the share of frames each sequence sends to
the detector, per setting, through the same `run_suite` as `edge eval --suite` (docs/accuracy.md, "Pacing").

    python -m tests.bench.gate "" "crossing_zone=0.25" "busy_interval_s=0,crossing_zone=0"
    python -m tests.bench.gate "busy_crops=false" "" --precision int8

Each argument is a comma-separated list of `[motion]` keys for one run ("" = the defaults); `detect_fps=N`
among them processes frames at that rate, as `edge eval --detect-fps` does. The CPU figures of `edge eval` are not
the box's with crops (every frame is detected whole ahead of the gate); `python -m tests.bench.live --variant crops`
measures those.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.config import DetectorSettings, MotionSettings, Precision
from edge.eval.run import EvalOptions, run_suite
from edge.eval.suite import load_suite
from edge.vision.detector import parallel_detector
from models.paths import data_dir

SUITE = Path(__file__).parents[1] / "accuracy/suite.toml"


def options(setting: str, detector: DetectorSettings) -> EvalOptions:
    values = dict(pair.split("=", 1) for pair in setting.split(",") if pair)
    fps = values.pop("detect_fps", None)
    return EvalOptions(detect_fps=float(fps) if fps else None, detector=detector,
                       motion=MotionSettings.model_validate(values))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("settings", nargs="+", help='e.g. "crossing_zone=0.25,busy_interval_s=0.3"')
    ap.add_argument("--whole-boxes", action="store_true",
                    help="with busy_crops: a crop takes the whole frame's boxes inside it instead of detecting it "
                         "(what pacing and the tracker cost, apart from the detector's view of a crop)")
    ap.add_argument("--precision", type=Precision, default=Precision.FP32, help="fp32, or int8 (edge models quantize)")
    args = ap.parse_args()
    suite = load_suite(SUITE)
    settings = DetectorSettings(precision=args.precision)
    detect, workers = parallel_detector(settings)
    for setting in args.settings:
        region = None if args.whole_boxes else detect.region
        report = run_suite(suite, data_dir(), options(setting, settings), detect, workers, detect_region=region)
        per = ", ".join(f"{s.name} {s.total.f1:.3f} ({s.detected / max(s.processed, 1):.0%} detected)"
                        for s in report.sequences)
        print(f"{setting or 'defaults':<40} pooled F1 {report.pooled.f1:.3f}, |err| {report.abs_error}: {per}",
              flush=True)


if __name__ == "__main__":
    main()
