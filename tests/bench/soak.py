"""`make soak`: `edge run` on live RTSP cameras, first undisturbed, then with servers killed over and over.

N real RTSP servers (../shared/tools/rtsp_serve.py on 127.0.0.1) replay the PETS footage into one Runner.
The first half of `--minutes` is the baseline: nothing happens. In the second half, every `--kill-every`
seconds one server (round-robin) is killed and restarted on the same port, so each camera goes offline and
reconnects many times. Sampled every `--sample` seconds: process RSS, threads, open file descriptors.
Reported per half: RSS slope (MiB/hour, least squares) and the range of threads and fds; a leak per
reconnect shows as a steeper slope or more threads/fds in the second half than in the first. Plus
reconnects counted by the health records, crossings stored and each camera's status at the stop.
"""

from __future__ import annotations

from edge.run.malloc import limit_arenas

limit_arenas()  # as `edge run` does, before any thread starts

import argparse
import os
import signal
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

import psutil

from edge.config import parse_config
from edge.log import setup as setup_logging
from edge.run.loop import Runner
from edge.vision.detector import DetectorSettings, parallel_detector
from models.paths import data_dir
from models.registry import locate, spec
from tests.bench.live import PETS_LINES as LINES
from tests.support.rtsp import RtspServer


def sample() -> tuple[float, int, int]:
    """(RSS MiB, threads, open file descriptors) of this process."""
    return psutil.Process().memory_info().rss / 2**20, threading.active_count(), len(os.listdir("/proc/self/fd"))


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) points, in MiB per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mt, mv = sum(t for t, _ in points) / n, sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    return 3600 * sum((t - mt) * (v - mv) for t, v in points) / den if den else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--video", type=Path, default=data_dir() / "footage/pets09-s2l1/video.avi")
    ap.add_argument("--cameras", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--kill-every", type=float, default=20.0)
    ap.add_argument("--sample", type=float, default=10.0)
    args = ap.parse_args()
    setup_logging("ERROR")
    detector, _ = parallel_detector(DetectorSettings(model_path=locate(spec("yolox-nano"))))
    with tempfile.TemporaryDirectory() as d:
        logs, db = Path(d), Path(d) / "b.sqlite"
        servers = [RtspServer(args.video, logs / f"s{i}.log").start() for i in range(args.cameras)]
        cams = "".join(f'[[cameras]]\nname = "c{i}"\nsource = "{s.url}"\n{LINES}\n' for i, s in enumerate(servers))
        text = (f'device_id = "soak"\n[buffer]\npath = "{db}"\n[health]\ninterval_s = {args.sample}\n'
                "[capture]\nopen_timeout_s = 3\nread_timeout_s = 1\nfreeze_timeout_s = 3\nbackoff_initial_s = 0.5\n"
                f'backoff_max_s = 2\nffmpeg_options = "probesize;32"\n{cams}')
        runner = Runner(parse_config(text), detector)
        thread = threading.Thread(target=runner.run)
        thread.start()
        start = time.monotonic()
        half_s, samples, kills = 30 * args.minutes, [], 0
        next_kill, next_sample = start + half_s, start
        try:
            while (now := time.monotonic()) < start + 2 * half_s:
                if now >= next_kill:
                    i = kills % len(servers)
                    servers[i].stop(signal.SIGKILL)
                    servers[i].start()  # on the same port
                    kills, next_kill = kills + 1, now + args.kill_every
                if now >= next_sample:
                    samples.append((now - start, *sample()))
                    next_sample = now + args.sample
                time.sleep(0.2)
            time.sleep(args.kill_every)  # the last camera killed comes back
        finally:
            runner.stop()
            thread.join(timeout=30)
            for server in servers:
                server.stop(signal.SIGKILL)
        with sqlite3.connect(db) as conn:
            reconnects = dict(conn.execute("SELECT camera, MAX(reconnects) FROM camera_health GROUP BY camera"))
            last = dict(conn.execute("SELECT camera, status FROM camera_health WHERE seq IN "
                                     "(SELECT MAX(seq) FROM camera_health GROUP BY camera)"))  # written at the stop
            crossings = conn.execute("SELECT COUNT(*) FROM crossings").fetchone()[0]
    print(f"soak: {args.cameras} RTSP cameras, {args.minutes:g} min; second half: one server killed and restarted "
          f"every {args.kill_every:g} s ({kills} kills); load average at the end {os.getloadavg()[0]:.2f}")
    warm = min(60.0, half_s / 2)  # connect, model warm-up, allocator arenas filling
    for name, lo, hi in (("first half, undisturbed", warm, half_s), ("second half, kills   ", half_s, 2 * half_s)):
        part = [x for x in samples if lo <= x[0] < hi]
        print(
            f"{name}: RSS {part[0][1]:.1f} -> {part[-1][1]:.1f} MiB, "
            f"slope {slope_per_hour([(t, r) for t, r, _, _ in part]):+.1f} "
            f"MiB/hour ({len(part)} samples); threads {min(x[2] for x in part)}-{max(x[2] for x in part)}, "
            f"fds {min(x[3] for x in part)}-{max(x[3] for x in part)}"
        )
    print(
        f"reconnects per camera: {dict(sorted(reconnects.items()))}; status at the stop: "
        f"{dict(sorted(last.items()))}; crossings stored: {crossings}"
    )


if __name__ == "__main__":
    main()
