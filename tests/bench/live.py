"""`make bench` (live section): N simultaneous RTSP cameras, detecting at 10 fps each, for a mix of scenes.

Mixes: "busy" is the PETS loop on every camera (people always present); "typical" is a shop camera, quiet most
of the time: each camera loops 60 s of the empty scene (the footage's median frame) and 15 s of the footage,
four phases spread over the cameras so they are not busy in step; "street" is MOT16-09, 1280x720 at 30 fps
(detected on the larger input `input_size = "auto"` picks for it).

For each N it runs `edge run`'s Runner on N real RTSP servers (../shared/tools/rtsp_serve.py on 127.0.0.1) and
reads the health records it writes: drop rate (wanted frames replaced before detection) over the trial (the
issue's "drop < 1%"; the worst 3-s window of any camera is shown beside it: one frame in it is 3.3%), p95
latency from a frame's capture (its decode by the reader thread) to its result committed in SQLite (the worst
window's), frames/s processed; CPU time of the process per processed frame (robust to other load on the box);
process RSS, whose slope over N is the memory per camera, and its growth during a trial (a leak would show
there); CPU taken by the N camera servers, which share the box here (real cameras would not), and by everything
else on the machine (other people's work: the contention the figures were measured under). Baselines, in the same
run: bare decode + inference frames/s
of the same footage read from the file, with 1 onnxruntime thread (what each of edge run's parallel calls
uses) and with `--threads` (one call at a time on that many threads: the plain bare loop).
"""

from __future__ import annotations

from edge.run.malloc import limit_arenas

limit_arenas()  # as `edge run` does, before any thread starts

import argparse
import os
import platform
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import psutil

from edge.config import parse_config
from edge.log import setup as setup_logging
from edge.run.loop import Runner
from models.paths import data_dir
from models.registry import locate, spec
from tests.bench.inference import bare_fps, len_cpus
from tests.support.rtsp import RtspServer
from tests.support.scenes import frames, quiet_then_busy, write_h264

PETS_LINES = ('lines = [{ name = "v240", a = [240, 60], b = [240, 330] }, '
              '{ name = "h150", a = [0, 150], b = [480, 150] }]')
STREET_LINES = ('lines = [{ name = "p400", a = [400, 470], b = [400, 720] }, '
                '{ name = "p700", a = [700, 450], b = [700, 720] }]')
MIXES = ("busy", "typical", "street")
# Pipelines compared in one run, as [model] keys and other config: "before" is the pipeline before the
# cameras-per-box work (every due frame detected, the shipped 416 letterbox, single frames, fp32), "now" the
# defaults, "whole" the defaults without crops (every look at a busy camera detects the whole frame), "int8" and
# "batches" the defaults with that switch on.
VARIANTS: dict[str, tuple[dict[str, str], str]] = {
    "before": ({"input_size": '"416x416"', "batching": '"off"'}, "[motion]\ndetect_always = true\n"),
    "now": ({}, ""),
    "whole": ({}, "[motion]\nbusy_crops = false\n"),
    "int8": ({"precision": '"int8"'}, ""),
    "batches": ({"batching": '"on"'}, ""),
    "probe": ({"batching": '"auto"'}, ""),
}


def cameras(mix: str, workdir: Path, n: int) -> tuple[list[Path], str]:
    """Each camera's video for a mix, and the camera's lines."""
    pets = data_dir() / "footage/pets09-s2l1/video.avi"
    if mix == "busy":
        return [pets] * n, PETS_LINES
    if mix == "typical":
        days = [workdir / f"typical{k}.mp4" for k in range(min(n, 4))]
        for k, day in enumerate(days):
            if not day.exists():  # made once per run: the baseline and the current pipeline see the same scenes
                quiet_then_busy(pets, day, 60, 15, phase=k / 4)
        return [days[i % len(days)] for i in range(n)], PETS_LINES
    street = workdir / "street.mp4"  # re-encoded: no B-frames, a key frame every second, as cameras send
    if not street.exists():
        write_h264(street, frames(data_dir() / "footage/mot16-09/video.mp4"), fps=30)
    return [street] * n, STREET_LINES


def busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def trial(
    n: int, servers: list[RtspServer], lines: str, variant: str, args: argparse.Namespace, warmup: float
) -> dict[str, float]:
    cameras = [psutil.Process(s.proc.pid) for s in servers[:n] if s.proc]
    model, extra = VARIANTS[variant]
    model = {"model_path": f'"{locate(spec("yolox-nano"))}"', "threads": str(args.threads), **model}
    seconds = args.seconds
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "b.sqlite"
        cams = "".join(
            f'[[cameras]]\nname = "c{i}"\nsource = "{u}"\ndetect_fps = 10\n{lines}\n'
            for i, u in enumerate(s.url for s in servers[:n])
        )
        text = (
            f'device_id = "bench"\n[buffer]\npath = "{db}"\n[health]\ninterval_s = {warmup}\n'
            + "[model]\n" + "".join(f"{k} = {v}\n" for k, v in model.items())
            + f'[capture]\nffmpeg_options = "probesize;32"\n{extra}{cams}'
        )
        proc = psutil.Process()
        runner = Runner(parse_config(text))  # its own detector, as edge run builds it (batching probe included)
        thread = threading.Thread(target=runner.run)
        thread.start()
        time.sleep(warmup)
        cpu0, rss0 = sum(proc.cpu_times()[:2]), proc.memory_info().rss
        cam0, box0 = sum(sum(c.cpu_times()[:2]) for c in cameras), busy_s()
        time.sleep(seconds)
        cpu = sum(proc.cpu_times()[:2]) - cpu0
        cam_cpu = sum(sum(c.cpu_times()[:2]) for c in cameras) - cam0
        others = busy_s() - box0 - cpu - cam_cpu
        rss = proc.memory_info().rss
        runner.stop()
        thread.join(timeout=20)
        with sqlite3.connect(db) as conn:  # every record but each camera's first (connect) and last (stop)
            rows = conn.execute(
                "SELECT status, fps_processed, drop_rate, latency_p95_ms, latency_p50_ms, camera, error, "
                "detected_share "
                "FROM camera_health h "
                "WHERE seq > (SELECT MIN(seq) FROM camera_health g WHERE g.camera = h.camera) "
                "AND seq < (SELECT MAX(seq) FROM camera_health g WHERE g.camera = h.camera)"
            ).fetchall()
    fps = sum(r[1] for r in rows) / max(len(rows), 1) * n
    return {
        "n": n,
        "fps": fps,
        "offline": sum(r[0] == "offline" for r in rows),
        "why": sorted({f"{r[5]}: {r[6]}" for r in rows if r[0] == "offline"}),
        "drop": sum(r[2] for r in rows) / len(rows) if rows else 1.0,  # of the trial: windows are equally long
        "worst": max((r[2] for r in rows), default=1.0),
        "p95": max((r[3] if r[3] is not None else float("inf") for r in rows), default=float("inf")),
        "p50": sorted(r[4] or 0.0 for r in rows)[len(rows) // 2] if rows else float("inf"),
        "cpu_ms": 1000 * cpu / max(fps * seconds, 1),
        "detected": sum(r[7] or 0.0 for r in rows) / max(len(rows), 1),
        "rss": rss / 2**20,
        "growth": (rss - rss0) / 2**20,
        "servers": 100 * cam_cpu / seconds,
        "others": max(0.0, 100 * others / seconds),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mix", choices=MIXES, action="append", help="scene mix (repeatable; default: busy, typical)")
    ap.add_argument("--counts", default="1,2,4,6,8,10,12,14,16,18,20,24,28,32")
    ap.add_argument("--variant", choices=VARIANTS, action="append",
                    help="pipeline (repeatable; default: before, now): " + ", ".join(VARIANTS))
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument(
        "--threads",
        type=int,
        default=2,
        help="[model] threads: parallel single-threaded inference calls in edge run, "
        "onnxruntime threads of the bare baseline",
    )
    args = ap.parse_args()
    setup_logging("WARNING")  # streams that go down, in logfmt with their camera
    counts = [int(c) for c in args.counts.split(",")]
    load = os.getloadavg()[0]
    model_path = locate(spec("yolox-nano"))
    pets = data_dir() / "footage/pets09-s2l1/video.avi"
    bare1, _ = bare_fps(pets, model_path, 1)
    bare, _ = bare_fps(pets, model_path, args.threads)
    print(f"machine: {platform.machine()}, {len_cpus()} cores; [model] threads = {args.threads}; "
          f"{args.seconds:g} s per trial after warm-up; load average before the run {load:.2f}")
    print(f"baseline: bare decode+inference of the PETS file {bare1:.1f} frames/s with 1 thread "
          f"({1000 / bare1:.1f} ms a frame), {bare:.1f} with {args.threads}")
    for mix in args.mix or ["busy", "typical"]:
        with tempfile.TemporaryDirectory() as work:
            for variant in args.variant or ["before", "now"]:
                run_mix(mix, Path(work), counts, variant, args, bare1, bare)
    print(f"load average after the trials: {os.getloadavg()[0]:.2f}")


def run_mix(mix: str, work: Path, counts: list[int], variant: str, args: argparse.Namespace,
            bare1: float, bare: float) -> None:
    videos, lines = cameras(mix, work, max(counts))
    mix = f"{mix} ({variant})"
    servers: list[RtspServer] = []
    try:
        for i, video in enumerate(videos):
            servers.append(RtspServer(video, work / f"s{i}.log").start())
        print(f"\nmix {mix}:")
        print(f"{'N':>3} {'processed fps':>14} {'drop':>6} {'worst 3 s':>9} {'p50 ms':>7} {'p95 ms':>7} "
              f"{'detected':>9} {'CPU ms/frame':>13} {'x bare':>7} {'RSS MiB':>8} {'growth':>7} {'offline':>8} "
              f"{'servers CPU':>12} {'other CPU':>10}")
        sustained: list[dict[str, float]] = []
        for n in counts:
            r = trial(n, servers, lines, variant, args, warmup=3.0)
            if r["offline"] and r["drop"] < 0.01:  # a camera that never opened (a connect hiccup of the
                print(f"{n:>3} a camera went offline without drops: {'; '.join(r['why'])}; trial repeated",
                      flush=True)                 # server or FFmpeg), not a capacity limit: once more
                r = trial(n, servers, lines, variant, args, warmup=3.0)
            ok = r["drop"] < 0.01 and r["p95"] < 100 and not r["offline"]
            sustained += [r] if ok else []
            print(f"{n:>3} {r['fps']:>14.1f} {100 * r['drop']:>5.2f}% {100 * r['worst']:>8.2f}% {r['p50']:>7.1f} "
                  f"{r['p95']:>7.1f} {100 * r['detected']:>8.0f}% {r['cpu_ms']:>13.1f} "
                  f"{r['cpu_ms'] * bare1 / 1000:>7.2f} {r['rss']:>8.0f} {r['growth']:>+7.1f} {r['offline']:>8} "
                  f"{r['servers']:>11.0f}% {r['others']:>9.0f}%  {'ok' if ok else 'over'}", flush=True)
            for why in r["why"]:
                print(f"      offline {why}")
            if not ok:
                break
        best = sustained[-1]["n"] if sustained else 0
        print(f"mix {mix}: largest N with drop < 1% and p95 < 100 ms: {best} ({best * 10} frames/s = "
              f"{best * 10 / bare1:.2f} x the 1-thread bare baseline, {best * 10 / bare:.2f} x the "
              f"{args.threads}-thread one)")
        if len(sustained) > 1:
            first, last = sustained[0], sustained[-1]
            print(f"memory per camera: {(last['rss'] - first['rss']) / (last['n'] - first['n']):.1f} MiB "
                  f"(RSS slope from N = {first['n']} to N = {last['n']})")
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
