"""The `edge` command line: count, run, eval, status; and the composition root that mounts the commands of
the other programs: `edge sync` (sync/agent), `edge central` (sync/central) and `edge provision` (provisioning).
Only this module imports across those packages."""

from __future__ import annotations

import os

from edge.run.malloc import limit_arenas

limit_arenas()  # before any thread starts: RSS stays flat over months of camera threads
os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # one-line errors of ours, not FFmpeg's chatter
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from edge import log
from edge.cli_errors import one_line_errors
from edge.config import BOX_CONFIG, DetectorSettings, MotionSettings, Precision
from edge.errors import UserError
from provisioning.cli import provision_command
from sync.agent.cli import sync_command
from sync.central.cli import central_app

if TYPE_CHECKING:
    from edge.eval.run import EvalOptions

app = typer.Typer(help="edge-counter: count people crossing lines in camera video.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
models_app = typer.Typer(help="Model files made at setup (never committed; their sha256 is in the manifest).",
                         no_args_is_help=True)
app.add_typer(central_app, name="central")
app.add_typer(models_app, name="models")
app.command("provision")(provision_command)
app.command("sync")(sync_command)


@app.callback()
def main(log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "warning") -> None:
    log.setup(log_level)


LineOpt = Annotated[
    Optional[list[str]], typer.Option("--line", help="NAME:x1,y1,x2,y2, a directed segment A->B (repeatable)")
]
ModelOpt = Annotated[Optional[Path], typer.Option("--model", help="model file (default: looked up, see README)")]
ConfigOpt = Annotated[Path, typer.Option("--config", help="the box's TOML config")]
PrecisionOpt = Annotated[Precision, typer.Option(help="fp32, or int8 (made by `edge models quantize`)")]
MOTION = MotionSettings()  # the [motion] defaults, which edge eval's switches start from


@app.command()
def count(
    video: Annotated[Path, typer.Argument(help="recorded video file")],
    line: LineOpt = None,
    model: ModelOpt = None,
    db: Annotated[Optional[Path], typer.Option(help="also store results in this SQLite buffer")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    events: Annotated[bool, typer.Option("--events", help="with --json: list every crossing")] = False,
    device_id: Annotated[str, typer.Option(help="device id stored with each event")] = "",
    camera: Annotated[str, typer.Option(help="camera name stored with each event")] = "video",
    threads: Annotated[int, typer.Option(help="single-threaded inference calls at once (0 = one per core)")] = 2,
    precision: PrecisionOpt = Precision.FP32,
) -> None:
    """Count people crossing lines in a recorded video, every frame; print per-line in/out totals."""
    from edge.config import DetectorSettings, default_device_id
    from edge.counting.line import parse_line
    from edge.run.file_job import count_video
    from edge.store.buffer import Buffer
    from edge.vision.detector import parallel_detector

    with one_line_errors():
        lines = [parse_line(s) for s in line or []]
        if not lines:
            raise UserError("no --line given: add at least one --line NAME:x1,y1,x2,y2")
        detector, calls = parallel_detector(DetectorSettings(model_path=model, threads=threads, precision=precision))
        # a recorded file can be counted again: commits survive a killed process (WAL), fsync per frame is not needed
        buffer = Buffer(db, synchronous="normal") if db else None
        try:
            with _progress() as on_frame:
                result = count_video(
                    video,
                    lines,
                    detector,
                    device_id=device_id or default_device_id(),
                    camera=camera,
                    buffer=buffer,
                    on_frame=on_frame,
                    workers=calls,
                )
        finally:
            if buffer:
                buffer.close()
    if as_json:
        out: dict[str, object] = {"frames": result.frames, "fps": round(result.fps, 2), "lines": result.lines}
        if events:
            out["events"] = [
                {"line": e.line, "direction": e.direction, "frame": e.frame, "track_id": e.track_id}
                for e in sorted(result.events, key=lambda e: e.frame)
            ]
        typer.echo(json.dumps(out))
        return
    typer.echo(f"{result.frames} frames in {result.seconds:.1f} s ({result.fps:.0f} frames/s)")
    typer.echo(f"{'line':<16}{'in':>8}{'out':>8}")
    for name, c in result.lines.items():
        typer.echo(f"{name:<16}{c['in']:>8}{c['out']:>8}")
    if db:
        typer.echo(f"stored in {db}")


class _progress:
    """A progress bar on stderr when it is a terminal; otherwise nothing."""

    def __enter__(self) -> Callable[[int], None] | None:
        if not sys.stderr.isatty():
            return None
        self._bar = typer.progressbar(length=0, label="frames", file=sys.stderr, show_pos=True)
        bar = self._bar.__enter__()
        return lambda n: bar.update(n - bar.pos)

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if sys.stderr.isatty():
            self._bar.__exit__(kind, error, tb)


@app.command("eval")
def evaluate_video(
    video: Annotated[Optional[Path], typer.Argument(help="recorded video file (or --suite)")] = None,
    gt: Annotated[Optional[Path], typer.Option("--gt", help="MOTChallenge ground truth (frame,id,x,y,...)")] = None,
    line: LineOpt = None,
    suite: Annotated[Optional[Path], typer.Option(help="score every sequence of a suite file instead (see "
                                                       "tests/accuracy/suite.toml)")] = None,
    detections: Annotated[str, typer.Option(help="with --suite: 'model' (the detector) or 'gt' (labelled boxes: "
                                                 "the ceiling of tracking and counting)")] = "model",
    drop: Annotated[float, typer.Option(help="with --detections gt: share of boxes dropped at random")] = 0.0,
    jitter: Annotated[float, typer.Option(help="with --detections gt: box edge noise, fraction of the size")] = 0.0,
    detect_fps: Annotated[Optional[float], typer.Option(help="with --suite: process frames at this rate, as a "
                                                             "live box would (default: every frame)")] = None,
    detect_always: Annotated[bool, typer.Option(help="detect every frame (the motion gate off)")
                             ] = MOTION.detect_always,
    busy_crops: Annotated[bool, typer.Option(help="between two whole looks at a busy camera, detect only a crop "
                                                  "around the people close to a line ([motion] busy_crops)")
                          ] = MOTION.busy_crops,
    gt_scale: Annotated[float, typer.Option(help="multiply gt box coordinates by this")] = 1.0,
    tolerance_frames: Annotated[Optional[int], typer.Option(help="match window (default: 1 s of video)")] = None,
    model: ModelOpt = None,
    threads: Annotated[int, typer.Option(help="single-threaded inference calls at once (0 = one per core)")] = 2,
    precision: PrecisionOpt = Precision.FP32,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Count labelled video and score it against ground truth: one video per line and direction, or a --suite
    per sequence and pooled, with each miss put down to detection, tracking or counting."""
    from edge.counting.line import parse_line
    from edge.eval.groundtruth import gt_crossings, load_tracks
    from edge.eval.scoring import evaluate, total_abs_error
    from edge.run.file_job import count_video
    from edge.vision.detector import parallel_detector

    motion = MotionSettings(detect_always=detect_always, busy_crops=busy_crops)
    if suite is not None:
        with one_line_errors():
            if video is not None or gt is not None or line:
                raise UserError("--suite scores the suite's own videos and lines: leave out VIDEO, --gt and --line")
            from edge.eval.run import DetectionsFrom, EvalOptions

            if detections not in set(DetectionsFrom):
                raise UserError(f"--detections {detections!r} is unknown: use model or gt")
            options = EvalOptions(source=DetectionsFrom(detections), drop=drop, jitter=jitter, detect_fps=detect_fps,
                                  detector=DetectorSettings(model_path=model, threads=threads, precision=precision),
                                  motion=motion)
            _evaluate_suite(suite, options, as_json)
        return
    with one_line_errors():
        if video is None or gt is None:
            raise UserError("give a VIDEO and its --gt file, or --suite FILE")
        lines = [parse_line(s) for s in line or []]
        if not lines:
            raise UserError("no --line given: add at least one --line NAME:x1,y1,x2,y2")
        truth = gt_crossings(load_tracks(gt, gt_scale), lines)
        detector, calls = parallel_detector(DetectorSettings(model_path=model, threads=threads, precision=precision))
        result = count_video(video, lines, detector, device_id="eval", workers=calls, motion=motion)
    k = tolerance_frames if tolerance_frames is not None else max(1, round(result.video_fps))
    rows = evaluate(
        [(c.line, c.direction, c.frame) for c in truth],
        [(e.line, e.direction, e.frame) for e in result.events],
        [ln.name for ln in lines],
        k,
    )
    total = rows[-1]
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "frames": result.frames,
                    "tolerance_frames": k,
                    "rows": [r.as_dict() for r in rows],
                    "total_abs_error": total_abs_error(rows),
                    "f1": round(total.f1, 4),
                }
            )
        )
        return
    typer.echo(f"{result.frames} frames, match window +-{k} frames")
    typer.echo(
        f"{'line':<10}{'dir':<6}{'gt':>5}{'counted':>9}{'|err|':>7}{'matched':>9}{'false':>7}{'missed':>8}"
        f"{'P':>7}{'R':>7}{'F1':>7}"
    )
    for r in rows:
        typer.echo(
            f"{r.line:<10}{r.direction:<6}{r.gt:>5}{r.counted:>9}{r.abs_error:>7}{r.matched:>9}{r.false:>7}"
            f"{r.missed:>8}{r.precision:>7.3f}{r.recall:>7.3f}{r.f1:>7.3f}"
        )
    err = total_abs_error(rows)
    typer.echo(f"total absolute count error {err} of {total.gt} ({100 * err / max(total.gt, 1):.1f}%)")


def _evaluate_suite(path: Path, options: EvalOptions, as_json: bool) -> None:
    from edge.eval.report import render
    from edge.eval.run import DetectionsFrom, run_suite
    from edge.eval.suite import load_suite
    from edge.vision.detector import parallel_detector
    from models.paths import data_dir

    if not (0 <= options.drop < 1 and 0 <= options.jitter < 1) or (options.detect_fps or 1) <= 0:
        raise UserError("--drop and --jitter are fractions in [0, 1), --detect-fps a rate above 0")
    if (options.drop or options.jitter) and options.source != DetectionsFrom.GT:
        raise UserError("--drop and --jitter apply to --detections gt only")
    suite = load_suite(path)
    suite.check_files(data_dir())
    detect, workers = parallel_detector(options.detector) if options.source == DetectionsFrom.MODEL else (None, 1)
    report = run_suite(suite, data_dir(), options, detect, workers, detect_region=detect.region if detect else None)
    typer.echo(json.dumps(report.as_dict()) if as_json else render(report))


@app.command()
def run(config: ConfigOpt = BOX_CONFIG) -> None:
    """Count on every camera of the box until SIGTERM (a recorded-file camera runs to its end)."""
    from edge.config import load_config
    from edge.run.loop import run as run_box

    with one_line_errors():
        run_box(load_config(config), config)


@models_app.command("quantize")
def quantize_model(
    model: ModelOpt = None,
    data: Annotated[Optional[Path], typer.Option(help="data folder holding footage/ (default: $EDGE_DATA_DIR, "
                                                      "else ../shared/data)")] = None,
    out: Annotated[Optional[Path], typer.Option(help="folder to write it to (default: $CACHE_DIRECTORY/models, "
                                                     "else ~/.cache/edge-counter/models)")] = None,
) -> None:
    """Make the int8 detector (precision = "int8" in the box config's model table): onnxruntime static
    quantisation calibrated on frames of the development footage; refused unless its sha256 is the manifest's."""
    from edge.vision.calibration import make_int8
    from models.paths import data_dir

    with one_line_errors():
        path, made = make_int8(data or data_dir(), out, model_path=model)
    typer.echo(f"wrote {path} ({made.name}, sha256 {made.sha256[:12]}..., as the manifest expects)")


@app.command()
def status(
    config: ConfigOpt = BOX_CONFIG,
    root: Annotated[Path, typer.Option(help="read the box installed under this root (an image)")] = Path("/"),
    max_sync_lag: Annotated[float, typer.Option(help="seconds of sync lag that count as a problem (0: never)")] = 900,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Per camera: online/offline, fps, last crossing, today's in/out per line; buffer depth, sync lag, disk use.
    Exit 0 when all is well, 1 when a camera is offline, stale or unknown or the sync lag is over the limit."""
    from edge.config import load_config
    from edge.run.status import box_status, render

    with one_line_errors():
        root = root.absolute()
        result = box_status(load_config(root / config.absolute().relative_to("/"), root=root, secrets=False),
                            root, max_sync_lag)
    typer.echo(json.dumps(result) if as_json else render(result))
    if result["problems"]:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
