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
from typing import Annotated, Optional

import typer

from edge import log
from edge.cli_errors import one_line_errors
from edge.config import BOX_CONFIG
from edge.errors import UserError
from provisioning.cli import provision_command
from sync.agent.cli import sync_command
from sync.central.cli import central_app

app = typer.Typer(help="edge-counter: count people crossing lines in camera video.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
app.add_typer(central_app, name="central")
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
        detector, calls = parallel_detector(DetectorSettings(model_path=model, threads=threads))
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
    video: Annotated[Path, typer.Argument(help="recorded video file")],
    gt: Annotated[Path, typer.Option("--gt", help="MOTChallenge ground truth (frame,id,x,y,w,h,flag,...)")],
    line: LineOpt = None,
    gt_scale: Annotated[float, typer.Option(help="multiply gt box coordinates by this")] = 1.0,
    tolerance_frames: Annotated[Optional[int], typer.Option(help="match window (default: 1 s of video)")] = None,
    model: ModelOpt = None,
    threads: Annotated[int, typer.Option(help="single-threaded inference calls at once (0 = one per core)")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Count a labelled video and score it against ground truth, per line and direction."""
    from edge.config import DetectorSettings
    from edge.counting.line import parse_line
    from edge.eval.groundtruth import gt_crossings, load_tracks
    from edge.eval.scoring import evaluate, total_abs_error
    from edge.run.file_job import count_video
    from edge.vision.detector import parallel_detector

    with one_line_errors():
        lines = [parse_line(s) for s in line or []]
        if not lines:
            raise UserError("no --line given: add at least one --line NAME:x1,y1,x2,y2")
        truth = gt_crossings(load_tracks(gt, gt_scale), lines)
        detector, calls = parallel_detector(DetectorSettings(model_path=model, threads=threads))
        result = count_video(video, lines, detector, device_id="eval", workers=calls)
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


@app.command()
def run(config: ConfigOpt = BOX_CONFIG) -> None:
    """Count on every camera of the box until SIGTERM (a recorded-file camera runs to its end)."""
    from edge.config import load_config
    from edge.run.loop import run as run_box

    with one_line_errors():
        run_box(load_config(config), config)


@app.command()
def status(
    config: ConfigOpt = BOX_CONFIG,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Per camera: online/offline, fps, last crossing; buffer depth, sync lag, disk use."""
    from edge.config import load_config
    from edge.run.status import box_status, render

    with one_line_errors():
        result = box_status(load_config(config))
    typer.echo(json.dumps(result) if as_json else render(result))


if __name__ == "__main__":
    app()
