"""`make bench` (web section): does an open web page slow counting down?

The page's load is replayed by a client in another process, request for request as edge/web/static/app.js makes
them: GET /api/state every second and each camera's frame.jpg whenever its frame changed (the browser runs on the
installer's laptop, not on the box: its own CPU is not the box's). Conditions, alternated round by round so drift
on a shared machine hits them alike:
- "no web server": the Runner alone (the same-run baseline);
- "server, no page": the web server started, nobody connected;
- "page open": one page polling;
- "page + metrics": one page and a Prometheus scrape of /metrics every second;
- "5 pages + metrics": five pages at once (the JPEG of a frame is encoded once whoever asks) and the scrape.
Two workloads: a recorded file (PETS, every frame, as fast as the box goes: throughput), and N live RTSP cameras
at 10 fps (processed frames/s, drops, p95 capture-to-commit latency). CPU ms/frame is the CPU time of the
`edge run` process (web server included) per processed frame: unlike frames/s it does not depend on what else
the machine runs; "other CPU" is everything else the machine did meanwhile (of 100% per core), the contention.
"""

from __future__ import annotations

from edge.run.malloc import limit_arenas

limit_arenas()  # as `edge run` does, before any thread starts

import argparse
import http.cookiejar
import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import psutil

from edge.config import load_config
from edge.log import setup as setup_logging
from edge.run.loop import Runner
from edge.vision.detector import Detector, DetectorSettings, parallel_detector
from edge.web.auth import hash_password
from edge.web.server import WebServer
from models.paths import REPO_ROOT, data_dir
from models.registry import locate, spec
from tests.bench.inference import len_cpus
from tests.support import free_port
from tests.support.rtsp import RtspServer

PASSWORD = "bench password"
PASSWORD_HASH = hash_password(PASSWORD)
LINES = 'lines = [{ name = "v240", a = [240, 60], b = [240, 330] }, { name = "h150", a = [0, 150], b = [480, 150] }]'
# name -> (web server, pages, metrics scraped)
CONDITIONS = {"no web server": (False, 0, False), "server, no page": (True, 0, False), "page open": (True, 1, False),
              "page + metrics": (True, 1, True), "5 pages + metrics": (True, 5, True)}


# -- the page, replayed ----------------------------------------------------------------------------------------

def client(url: str, metrics: bool) -> None:
    """Log in, say "ready", then poll as the page does (and scrape /metrics) until stdin closes."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = opener.open(f"{url}/login").read().decode()
    token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    opener.open(f"{url}/login", urllib.parse.urlencode({"csrf": token, "password": PASSWORD}).encode()).read()
    print("ready", flush=True)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    frames: dict[str, int] = {}
    while not stop.is_set():
        tick = time.monotonic()
        state = json.loads(opener.open(f"{url}/api/state").read())
        for cam in state["cameras"]:
            if cam["frame"] is not None and cam["frame"] != frames.get(cam["name"]):
                frames[cam["name"]] = cam["frame"]
                opener.open(f"{url}/api/cameras/{cam['name']}/frame.jpg?frame={cam['frame']}").read()
        if metrics:
            opener.open(f"{url}/metrics").read()
        stop.wait(max(0.0, 1.0 - (time.monotonic() - tick)))


def busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all cores)."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


class Page:
    """The replaying client as a process: started logged in, stopped, its CPU seconds."""

    def __init__(self, url: str, metrics: bool) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.bench.web", "--client", url]
                                     + (["--metrics"] if metrics else []),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT,
                                     env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"page client did not log in: {line!r}")
        self.ps = psutil.Process(self.proc.pid)
        self.cpu0 = sum(self.ps.cpu_times()[:2])

    def stop(self) -> float:
        cpu = sum(self.ps.cpu_times()[:2]) - self.cpu0
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        return cpu


# -- one trial ------------------------------------------------------------------------------------------------

def write_config(folder: Path, cameras: list[str], port: int, web: bool) -> Path:
    cams = "".join(f'[[cameras]]\nname = "c{i}"\nsource = "{s}"\ndetect_fps = 10\n{LINES}\n'
                   for i, s in enumerate(cameras))
    config = folder / "box.toml"
    config.write_text(f'device_id = "bench"\n[buffer]\npath = "{folder / "b.sqlite"}"\n[health]\ninterval_s = 3\n'
                      '[capture]\nffmpeg_options = "probesize;32"\n'
                      f'[web]\nenabled = {str(web).lower()}\nport = {port}\npassword_hash = "{PASSWORD_HASH}"\n'
                      f"{cams}")
    return config


def trial(condition: str, cameras: list[str], detector: Detector, seconds: float | None) -> dict[str, float]:
    """One run under `condition`: a file to its end (seconds None) or live cameras for `seconds` after warm-up."""
    serve, n_pages, scrape = CONDITIONS[condition]
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        config = write_config(Path(d), cameras, port, serve)
        runner = Runner(load_config(config), detector)
        web = WebServer(runner, config).start() if serve else None
        pages = [Page(f"http://127.0.0.1:{port}", scrape and i == 0) for i in range(n_pages)]
        proc = psutil.Process()
        thread = threading.Thread(target=runner.run)
        page_cpu = 0.0
        try:
            thread.start()
            if seconds is not None:
                time.sleep(3.0)  # connect, first frames
            cpu0, t0, box0 = sum(proc.cpu_times()[:2]), time.monotonic(), busy_s()
            done0 = sum(c.processed for c in runner.cameras)
            if seconds is None:  # a file: to its last frame
                thread.join()
            else:
                time.sleep(seconds)
            wall = time.monotonic() - t0
            cpu = sum(proc.cpu_times()[:2]) - cpu0
            processed = sum(c.processed for c in runner.cameras) - done0
            page_cpu = sum(p.stop() for p in pages)
            others = busy_s() - box0 - cpu - page_cpu
        finally:
            for p in pages:
                if p.proc.poll() is None:
                    p.stop()
            runner.stop()
            thread.join(timeout=20)
            if web:
                web.stop()
        with sqlite3.connect(Path(d) / "b.sqlite") as conn:
            rows = conn.execute("SELECT drop_rate, latency_p95_ms FROM camera_health h WHERE seq > "
                                "(SELECT MIN(seq) FROM camera_health g WHERE g.camera = h.camera) AND seq < "
                                "(SELECT MAX(seq) FROM camera_health g WHERE g.camera = h.camera)").fetchall()
    return {"fps": processed / wall, "cpu_ms": 1000 * cpu / max(processed, 1), "page_cpu": 100 * page_cpu / wall,
            "others": max(0.0, 100 * others / wall), "drop": max((r[0] for r in rows), default=0.0),
            "p95": max((r[1] for r in rows if r[1] is not None), default=0.0)}


def report(title: str, results: dict[str, list[dict[str, float]]], live: bool) -> None:
    print(title)
    print(f"{'condition':<19}{'frames/s':>9}{'ratio':>7}{'CPU ms/frame':>13}{'ratio':>7}{'pages CPU':>10}"
          f"{'other CPU':>10}" + (f"{'max drop':>9}{'p95 ms':>8}" if live else "")
          + "   medians of the rounds; frames/s of each round")
    base = results["no web server"]
    base_fps, base_cpu = (statistics.median(r[k] for r in base) for k in ("fps", "cpu_ms"))
    for cond, runs in results.items():
        fps, cpu = (statistics.median(r[k] for r in runs) for k in ("fps", "cpu_ms"))
        row = (f"{cond:<19}{fps:>9.1f}{fps / base_fps:>7.3f}{cpu:>13.2f}{cpu / base_cpu:>7.3f}"
               f"{statistics.median(r['page_cpu'] for r in runs):>9.1f}%"
               f"{statistics.median(r['others'] for r in runs):>9.0f}%")
        if live:
            row += f"{100 * max(r['drop'] for r in runs):>8.2f}%{max(r['p95'] for r in runs):>8.1f}"
        print(row + "   " + ", ".join(f"{r['fps']:.1f}" for r in runs), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--client", help=argparse.SUPPRESS)
    ap.add_argument("--metrics", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--video", type=Path, default=data_dir() / "footage/pets09-s2l1/video.avi")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cameras", type=int, default=4, help="live RTSP cameras at 10 fps")
    ap.add_argument("--seconds", type=float, default=20.0, help="per live trial, after warm-up")
    ap.add_argument("--threads", type=int, default=2, help="[model] threads")
    args = ap.parse_args()
    if args.client:
        client(args.client, args.metrics)
        return
    setup_logging("ERROR")
    load = os.getloadavg()[0]
    detector, _ = parallel_detector(DetectorSettings(model_path=locate(spec("yolox-nano")), threads=args.threads))
    print(f"machine: {platform.machine()}, {len_cpus()} cores; [model] threads = {args.threads}; "
          f"{args.rounds} rounds, conditions alternated; load average before the run {load:.2f}")
    results: dict[str, list[dict[str, float]]] = {c: [] for c in CONDITIONS}
    for _ in range(args.rounds):
        for cond in CONDITIONS:
            results[cond].append(trial(cond, [str(args.video)], detector, None))
    report(f"recorded file {args.video.name}, every frame (throughput):", results, live=False)
    servers: list[RtspServer] = []
    with tempfile.TemporaryDirectory() as logs:
        try:
            for i in range(args.cameras):
                servers.append(RtspServer(args.video, Path(logs) / f"s{i}.log").start())
            results = {c: [] for c in CONDITIONS}
            for _ in range(args.rounds):
                for cond in CONDITIONS:
                    results[cond].append(trial(cond, [s.url for s in servers], detector, args.seconds))
            report(f"{args.cameras} live RTSP cameras at 10 fps, {args.seconds:g} s per trial:", results, live=True)
        finally:
            for s in servers:
                s.stop()
    print(f"load average after the run: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
