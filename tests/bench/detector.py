"""Detector speed (issue 15): int8 against fp32, and one batched call against parallel single calls, same run.

1. Precision: `Detector` calls (letterbox + inference + decode, what the box runs per frame) on real frames of each
   suite video at the input size the box gives it, one single-threaded call at a time, fp32 and int8 in turns;
   CPU ms per frame (process time: other engineers' load on the machine does not inflate it the way it does
   wall time) and the ratio int8/fp32, median of the per-round ratios.
2. Batching: N frames at one input size, N = 2, 4, 8, in turns: N single-threaded calls `--threads` at once
   (what `edge run` does without batches) and one call of all N on `--threads` intra-op threads (what it does with
   batches); wall and CPU ms per frame, median of the rounds.
The int8 file must have been made (`edge models quantize`). Load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import onnxruntime

from edge.config import DetectorSettings, Precision
from edge.vision.detector import Detector, batched_detector, parallel_detector
from models.paths import data_dir
from tests.support import scenes

VIDEOS = {"pets09-s2l1 480x360": "footage/pets09-s2l1/video.avi", "mot16-09 1280x720": "footage/mot16-09/video.mp4",
          "kitti-17 1224x370": "footage/kitti-17/video.mp4"}


def timed(work: Callable[..., object], *args: object) -> tuple[float, float]:
    """(wall s, process CPU s) of one call of `work(*args)`."""
    wall, cpu = time.perf_counter(), time.process_time()
    work(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def each(detect: Detector, images: list[np.ndarray]) -> None:
    for image in images:
        detect(image)


def precision(frames: int, rounds: int) -> None:
    fp32 = Detector(DetectorSettings(threads=1))
    int8 = Detector(DetectorSettings(threads=1, precision=Precision.INT8))
    print(f"precision: {frames} frames per round, {rounds} rounds in turns, one single-threaded call at a time")
    print(f"  {'video':<20}{'input':>9}{'fp32 CPU ms':>13}{'int8 CPU ms':>13}{'int8/fp32':>11}  (rounds)")
    for name, path in VIDEOS.items():
        images = scenes.frames(data_dir() / path, frames)
        h, w = fp32.input_size(images[0].shape[:2])
        for det in (fp32, int8):  # warm-up: sessions opened, first calls allocate
            det(images[0])
        a, b = [], []
        for _ in range(rounds):
            a.append(timed(each, fp32, images)[1] / len(images) * 1000)
            b.append(timed(each, int8, images)[1] / len(images) * 1000)
        ratios = [y / x for x, y in zip(a, b)]
        print(f"  {name:<20}{f'{h}x{w}':>9}{statistics.median(a):13.2f}{statistics.median(b):13.2f}"
              f"{statistics.median(ratios):11.3f}  ({', '.join(f'{r:.2f}' for r in ratios)})")


def batching(prec: Precision, sizes: list[int], threads: int, rounds: int) -> None:
    settings = DetectorSettings(threads=threads, precision=prec)
    single, calls = parallel_detector(settings)
    batched = batched_detector(settings)
    image = scenes.frames(data_dir() / VIDEOS["pets09-s2l1 480x360"], 1)[0]
    h, w = single.input_size(image.shape[:2])
    print(f"batching, {prec}, input {h}x{w}: N single-threaded calls {calls} at once vs one call of N on "
          f"{threads} threads; ms per frame, median of {rounds} rounds in turns")
    print(f"  {'N':>3}{'parallel wall':>15}{'batched wall':>14}{'parallel CPU':>14}{'batched CPU':>13}"
          f"{'batched/parallel wall':>23}")
    with ThreadPoolExecutor(calls) as pool:
        for n in sizes:
            images = [image] * n
            p, b = [], []
            for i in range(rounds + 1):  # the first round warms up
                par, bat = timed(lambda xs: list(pool.map(single, xs)), images), timed(batched.batch, images)
                if i:
                    p.append(par)
                    b.append(bat)
            wall_p, cpu_p, wall_b, cpu_b = (statistics.median(x[k] for x in xs) / n * 1000
                                            for xs, k in ((p, 0), (p, 1), (b, 0), (b, 1)))
            ratio = statistics.median(y[0] / x[0] for x, y in zip(p, b))
            print(f"  {n:>3}{wall_p:15.2f}{wall_b:14.2f}{cpu_p:14.2f}{cpu_b:13.2f}{ratio:23.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batches", default="2,4,8")
    args = ap.parse_args()
    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores, onnxruntime "
          f"{onnxruntime.__version__}, OpenCV {cv2.__version__}; load average before: {os.getloadavg()[0]:.2f}")
    precision(args.frames, args.rounds)
    sizes = [int(n) for n in args.batches.split(",")]
    for prec in Precision:
        batching(prec, sizes, args.threads, args.rounds)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
