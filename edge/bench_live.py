"""`make bench` (live section): N simultaneous RTSP streams of the PETS footage at 10 fps, detecting at 10 fps each.

For N = 1, 2, 4, 6, 8, ... it runs `edge run`'s Runner on N real RTSP servers (../shared/tools/rtsp_serve.py
on 127.0.0.1) and reads the health records it writes: drop rate (wanted frames replaced before
detection), p95 latency from frame capture to its result committed in SQLite, frames/s processed;
memory per camera from the process's RSS growth. The baseline, in the same run: bare decode +
inference frames/s of the same footage read from the file (the detector's ceiling: N x 10 <= that).
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psutil

from edge.bench import bare_fps, len_cpus
from edge.config import parse_config
from edge.detect import Detector, DetectorSettings
from edge.paths import REPO_ROOT, data_dir
from edge.runner import Runner
from models.registry import locate, spec

TOOLS = Path(os.environ.get("EDGE_TOOLS_DIR", REPO_ROOT.parent / "shared" / "tools"))
LINES = 'lines = [{ name = "v240", a = [240, 60], b = [240, 330] }, { name = "h150", a = [0, 150], b = [480, 150] }]'


def start_server(video: Path, log: Path) -> tuple[subprocess.Popen, str]:
    with open(log, "a") as err:
        proc = subprocess.Popen(["/usr/bin/python3", str(TOOLS / "rtsp_serve.py"), str(video), "--port", "0",
                                 "--die-with-parent"], stdout=subprocess.PIPE, stderr=err, text=True)
    line = proc.stdout.readline()
    if not line.startswith("ready "):
        raise RuntimeError(f"rtsp_serve did not start: {line!r}")
    return proc, line.split()[1]


def trial(n: int, urls: list[str], detector: Detector, seconds: float, warmup: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "b.sqlite"
        cams = "".join(f'[[cameras]]\nname = "c{i}"\nsource = "{u}"\ndetect_fps = 10\n{LINES}\n'
                       for i, u in enumerate(urls[:n]))
        text = (f'device_id = "bench"\n[buffer]\npath = "{db}"\n[health]\ninterval_s = {warmup}\n'
                f'[capture]\nffmpeg_options = "probesize;32"\n{cams}')
        proc = psutil.Process()
        rss0 = proc.memory_info().rss
        runner = Runner(parse_config(text), detector)
        thread = threading.Thread(target=runner.run)
        thread.start()
        time.sleep(warmup + seconds)
        rss = proc.memory_info().rss
        runner.stop()
        thread.join(timeout=20)
        with sqlite3.connect(db) as conn:  # skip the first record of each camera (connect + warm-up)
            rows = conn.execute(
                "SELECT fps_processed, drop_rate, latency_p95_ms, latency_p50_ms FROM camera_health h "
                "WHERE seq > (SELECT MIN(seq) FROM camera_health g WHERE g.camera = h.camera) "
                "AND status != 'offline' AND fps_processed > 0").fetchall()
    if not rows:
        return {"n": n, "fps": 0.0, "drop": 1.0, "p95": float("inf"), "p50": float("inf"), "mb": 0.0}
    return {"n": n, "fps": sum(r[0] for r in rows) / len(rows) * n, "drop": max(r[1] for r in rows),
            "p95": max(r[2] for r in rows), "p50": sorted(r[3] for r in rows)[len(rows) // 2],
            "mb": (rss - rss0) / 2**20 / n}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--video", type=Path, default=data_dir() / "footage/pets09-s2l1/video.avi")
    ap.add_argument("--counts", default="1,2,4,6,8,10,12")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    model_path = locate(spec("yolox-nano"))
    bare, _ = bare_fps(args.video, model_path, args.threads)
    detector = Detector(DetectorSettings(model_path=model_path, threads=args.threads))
    servers = []
    with tempfile.TemporaryDirectory() as logs:
        try:
            for i in range(max(counts)):
                servers.append(start_server(args.video, Path(logs) / f"s{i}.log"))
            urls = [u for _, u in servers]
            print(f"machine: {platform.machine()}, {len_cpus()} cores; onnxruntime threads {args.threads}; "
                  f"{args.seconds:g} s per trial after warm-up; load average {os.getloadavg()[0]:.2f}")
            print(f"baseline: bare decode+inference of the file {bare:.1f} frames/s "
                  f"(ceiling for 10 fps cameras: {bare / 10:.1f})")
            print(f"{'N':>3} {'processed fps':>14} {'max drop':>9} {'p50 ms':>7} {'p95 ms':>7} {'MiB/camera':>11}")
            best = 0
            for n in counts:
                r = trial(n, urls, detector, args.seconds, warmup=3.0)
                ok = r["drop"] < 0.01 and r["p95"] < 100
                best = n if ok else best
                print(f"{n:>3} {r['fps']:>14.1f} {100 * r['drop']:>8.2f}% {r['p50']:>7.1f} {r['p95']:>7.1f} "
                      f"{r['mb']:>11.1f}  {'ok' if ok else 'over'}", flush=True)
                if not ok:
                    break
            print(f"load average after the trials: {os.getloadavg()[0]:.2f}")
            print(f"largest N with drop < 1% and p95 < 100 ms: {best} "
                  f"({best * 10} frames/s = {best * 10 / bare:.2f} x the bare baseline)")
        finally:
            for proc, _ in servers:
                proc.terminate()
                proc.wait(timeout=10)
                proc.stdout.close()


if __name__ == "__main__":
    main()
