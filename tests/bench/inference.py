"""`make bench` (box section): `edge count` end to end vs a bare decode + inference loop, same run.

The bare loop decodes every frame with OpenCV, letterboxes it and runs the onnxruntime session on
`--threads` intra-op threads, one frame after the other, nothing else: the plain way to run the model,
which the full pipeline (plus NMS, tracking, counting, SQLite) is measured against. `edge count --threads N`
itself decodes ahead in a thread and runs N single-threaded inference calls at once.
Runs alternate (bare, pipeline, bare, ...) so both see the same machine state; the ratio reported is
the median of the per-pair ratios, which cancels load that drifts between pairs.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from edge.vision.detector import letterbox
from models.paths import data_dir
from models.registry import locate, open_session, spec

LINES = ["--line", "v240:240,60,240,330", "--line", "h150:0,150,480,150"]


def bare_fps(video: Path, model_path: Path, threads: int) -> tuple[float, int]:
    """Frames/s of decode + letterbox + session.run over every frame."""
    m = spec("yolox-nano")
    session = open_session(m, model_path, threads)
    cap = cv2.VideoCapture(str(video))
    n, start = 0, time.perf_counter()
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        blob, _ = letterbox(frame, m.input_size)
        session.run([m.output_name], {m.input_name: blob})
        n += 1
    cap.release()
    return n / (time.perf_counter() - start), n


def pipeline_run(video: Path, model_path: Path, threads: int) -> tuple[float, int, float]:
    """`edge count ... --db` in a child process: (frames/s, frames, peak RSS MiB of the child)."""
    with tempfile.TemporaryDirectory() as d:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        out = subprocess.run([sys.executable, "-m", "edge.cli", "count", str(video), *LINES, "--model", str(model_path),
                              "--threads", str(threads), "--db", str(Path(d) / "b.sqlite"), "--json"],
                             check=True, capture_output=True, text=True).stdout
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res = json.loads(out)
    return res["fps"], res["frames"], max(rss, before) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--video", type=Path, default=data_dir() / "footage/pets09-s2l1/video.avi")
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    model_path = locate(spec("yolox-nano"), args.model)
    bare, pipe, rss = [], [], 0.0
    for _ in range(args.repeat):
        fps, frames = bare_fps(args.video, model_path, args.threads)
        bare.append(fps)
        fps, frames_p, peak = pipeline_run(args.video, model_path, args.threads)
        pipe.append(fps)
        rss = max(rss, peak)
        assert frames_p == frames, (frames_p, frames)
    b, p = statistics.median(bare), statistics.median(pipe)
    ratios = [y / x for x, y in zip(bare, pipe)]
    print(
        f"machine: {platform.processor() or platform.machine()}, {len_cpus()} cores, python {platform.python_version()}"
    )
    print(
        f"video: {args.video.name}, {frames} frames, {args.repeat} runs each; bare loop: one call at a time on "
        f"{args.threads} onnxruntime threads; edge count --threads {args.threads}: "
        f"{args.threads} one-thread calls at once"
    )
    print(f"bare decode+inference : {b:7.1f} frames/s  (runs: {', '.join(f'{x:.1f}' for x in bare)})")
    print(f"edge count end to end : {p:7.1f} frames/s  (runs: {', '.join(f'{x:.1f}' for x in pipe)})")
    print(
        f"ratio (median of pairs): {statistics.median(ratios):6.3f}  (pairs: {', '.join(f'{r:.3f}' for r in ratios)}; "
        "target >= 0.9)"
    )
    print(f"peak RSS (edge count) : {rss:7.1f} MiB")


def len_cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    main()
