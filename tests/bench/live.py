"""`make bench` (live section): N simultaneous RTSP streams of the PETS footage at 10 fps, detecting at 10 fps each.

For each N it runs `edge run`'s Runner on N real RTSP servers (../shared/tools/rtsp_serve.py on 127.0.0.1)
and reads the health records it writes: drop rate (wanted frames replaced before detection), p95 latency
from a frame's capture (its decode by the reader thread) to its result committed in SQLite, frames/s
processed; CPU time of the process per processed frame (robust to other load on the box); process RSS,
whose slope over N is the memory per camera, and its growth during a trial (a leak would show there); CPU
taken by the N camera servers, which share the box here (real cameras would not), and by everything else
on the machine (other people's work: the contention the figures were measured under). Baselines, in the same
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
from edge.vision.detector import Detector, DetectorSettings, parallel_detector
from models.paths import data_dir
from models.registry import locate, spec
from tests.bench.inference import bare_fps, len_cpus
from tests.support.rtsp import RtspServer

LINES = 'lines = [{ name = "v240", a = [240, 60], b = [240, 330] }, { name = "h150", a = [0, 150], b = [480, 150] }]'


def busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def trial(
    n: int, servers: list[RtspServer], detector: Detector, workers: int, seconds: float, warmup: float
) -> dict[str, float]:
    cameras = [psutil.Process(s.proc.pid) for s in servers[:n] if s.proc]
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "b.sqlite"
        cams = "".join(
            f'[[cameras]]\nname = "c{i}"\nsource = "{u}"\ndetect_fps = 10\n{LINES}\n'
            for i, u in enumerate(s.url for s in servers[:n])
        )
        text = (
            f'device_id = "bench"\n[buffer]\npath = "{db}"\n[health]\ninterval_s = {warmup}\n'
            f'[model]\nthreads = {workers}\n[capture]\nffmpeg_options = "probesize;32"\n{cams}'
        )
        proc = psutil.Process()
        runner = Runner(parse_config(text), detector)
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
                "SELECT status, fps_processed, drop_rate, latency_p95_ms, latency_p50_ms, camera, error "
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
        "drop": max((r[2] for r in rows), default=1.0),
        "p95": max((r[3] if r[3] is not None else float("inf") for r in rows), default=float("inf")),
        "p50": sorted(r[4] or 0.0 for r in rows)[len(rows) // 2] if rows else float("inf"),
        "cpu_ms": 1000 * cpu / max(fps * seconds, 1),
        "rss": rss / 2**20,
        "growth": (rss - rss0) / 2**20,
        "servers": 100 * cam_cpu / seconds,
        "others": max(0.0, 100 * others / seconds),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--video", type=Path, default=data_dir() / "footage/pets09-s2l1/video.avi")
    ap.add_argument("--counts", default="1,2,4,8,10,12,14,16,18,20")
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
    bare1, _ = bare_fps(args.video, model_path, 1)
    bare, _ = bare_fps(args.video, model_path, args.threads)
    detector, _ = parallel_detector(DetectorSettings(model_path=model_path, threads=args.threads))  # as edge run
    servers = []
    with tempfile.TemporaryDirectory() as logs:
        try:
            for i in range(max(counts)):
                servers.append(RtspServer(args.video, Path(logs) / f"s{i}.log").start())
            print(
                f"machine: {platform.machine()}, {len_cpus()} cores; [model] threads = {args.threads}; "
                f"{args.seconds:g} s per trial after warm-up; load average before the run {load:.2f}"
            )
            print(
                f"baseline: bare decode+inference of the file {bare1:.1f} frames/s with 1 thread, "
                f"{bare:.1f} with {args.threads}"
            )
            print(
                f"{'N':>3} {'processed fps':>14} {'max drop':>9} {'p50 ms':>7} {'p95 ms':>7} {'CPU ms/frame':>13} "
                f"{'RSS MiB':>8} {'growth':>7} {'offline':>8} {'servers CPU':>12} {'other CPU':>10}"
            )
            sustained: list[dict[str, float]] = []
            for n in counts:
                r = trial(n, servers, detector, args.threads, args.seconds, warmup=3.0)
                ok = r["drop"] < 0.01 and r["p95"] < 100 and not r["offline"]
                sustained += [r] if ok else []
                print(
                    f"{n:>3} {r['fps']:>14.1f} {100 * r['drop']:>8.2f}% {r['p50']:>7.1f} {r['p95']:>7.1f} "
                    f"{r['cpu_ms']:>13.1f} {r['rss']:>8.0f} {r['growth']:>+7.1f} {r['offline']:>8} "
                    f"{r['servers']:>11.0f}% {r['others']:>9.0f}%  "
                    f"{'ok' if ok else 'over'}",
                    flush=True,
                )
                for why in r["why"]:
                    print(f"      offline {why}")
                if not ok:
                    break
            print(f"load average after the trials: {os.getloadavg()[0]:.2f}")
            best = sustained[-1]["n"] if sustained else 0
            print(
                f"largest N with drop < 1% and p95 < 100 ms: {best} ({best * 10} frames/s = "
                f"{best * 10 / bare1:.2f} x the 1-thread bare baseline, "
                f"{best * 10 / bare:.2f} x the {args.threads}-thread one)"
            )
            if len(sustained) > 1:
                first, last = sustained[0], sustained[-1]
                print(
                    f"memory per camera: {(last['rss'] - first['rss']) / (last['n'] - first['n']):.1f} MiB "
                    f"(RSS slope from N = {first['n']} to N = {last['n']})"
                )
        finally:
            for server in servers:
                server.stop()


if __name__ == "__main__":
    main()
