"""`edge run`'s /metrics scraped from the real process counting a real RTSP camera, parsed with prometheus-client's
parser: its counters equal the buffer's counts. Malformed requests on the way get a 4xx and counting goes on."""

from __future__ import annotations

import socket
import sqlite3
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from edge.web.auth import hash_password
from tests.support import free_port, wait_until
from tests.support.web import EdgeRun, write_box

LINES = '{ name = "v240", a = [240, 60], b = [240, 330] }, { name = "h150", a = [0, 150], b = [480, 150] }'


def scrape(run: EdgeRun) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """{sample name: {sorted labels: value}}."""
    status, body = run.get("/metrics")
    assert status == 200
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def stored(db: Path) -> dict[tuple[str, str], int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return {(line, d): n for line, d, n in conn.execute(
            "SELECT line, direction, COUNT(*) FROM crossings WHERE camera = 'door' GROUP BY line, direction")}


def raw(port: int, request: bytes) -> bytes:
    """Send bytes as they are; the answer until the server closes (requests say Connection: close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(request)
            return b"".join(iter(lambda: s.recv(65536), b""))
        except ConnectionResetError:  # closed on a request it would not read to its end
            return b""


def test_metrics_equal_the_buffer_and_malformed_requests_do_not_stop_counting(tmp_path, rtsp_server):
    port = free_port()
    config = write_box(tmp_path, rtsp_server.url, port, hash_password("a web password"), LINES,
                       extra="[health]\ninterval_s = 2\n")
    db = tmp_path / "buffer.sqlite"
    run = EdgeRun(config, tmp_path / "edge-run.log", port).wait_ready()
    try:
        assert wait_until(lambda: sum(stored(db).values()) >= 3, 90, step=0.3), "no crossings counted"

        # malformed requests: answered with a 4xx (HTTP parser or ours), edge run goes on counting
        processed = scrape(run)["edge_camera_frames_processed_total"][(("camera", "door"),)]
        head = b"Host: x\r\nConnection: close\r\n"
        for request in (b"GARBAGE\r\n\r\n", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n" + head + b"\r\n",
                        b"GET / HTTP/1.1\r\n" + head + b"Content-Length: -5\r\n\r\n",
                        b"GET /api/cameras/%ZZ%/frame.jpg HTTP/1.1\r\n" + head + b"\r\n",
                        b"PUT /api/cameras/door/lines HTTP/1.1\r\n" + head + b"Content-Length: 3\r\n\r\n{{{",
                        b"POST /login HTTP/1.1\r\n" + head + b"Content-Type: application/x-www-form-urlencoded\r\n"
                        b"Content-Length: 9999999\r\n\r\npassword=x"):
            answer = raw(port, request)
            assert answer.startswith(b"HTTP/1.1 4"), (request[:40], answer[:200])
        assert run.alive()
        assert wait_until(lambda: scrape(run)["edge_camera_frames_processed_total"][(("camera", "door"),)]
                          > processed + 10, 20, step=0.3)

        # the camera goes quiet: nothing more is counted; then the counters must equal the buffer's
        rtsp_server.stop()
        assert wait_until(lambda: scrape(run)["edge_camera_status"][(("camera", "door"), ("status", "offline"))] == 1,
                          30, step=0.3)
        time.sleep(1.0)
        metrics = scrape(run)
        counted = {(dict(k)["line"], dict(k)["direction"]): v for k, v in metrics["edge_crossings_total"].items()}
        in_buffer = stored(db)
        assert sum(in_buffer.values()) >= 3
        assert {k: v for k, v in counted.items() if v} == in_buffer
        assert set(counted) == {(ln, d) for ln in ("v240", "h150") for d in ("in", "out")}
        door = (("camera", "door"),)
        received = metrics["edge_camera_frames_received_total"][door]
        processed = metrics["edge_camera_frames_processed_total"][door]
        detected = metrics["edge_camera_frames_detected_total"][door]
        assert received >= processed >= detected > 50  # people walk across the lines: most frames are detected
        assert metrics["edge_camera_latency_seconds_count"][door] == detected  # one per detected frame
        assert metrics["edge_camera_reconnects_total"][door] >= 0
        assert metrics["edge_buffer_pending_rows"][()] >= sum(in_buffer.values())  # nothing synced here
        assert metrics["edge_buffer_size_bytes"][()] > 0
        assert metrics["edge_sync_lag_seconds"][()] > 0
        assert sum(metrics["edge_sync_batches_sent_total"].values()) == 0
        assert metrics["edge_sync_retries_total"][()] == 0 and metrics["edge_sync_dead_letter_rows"][()] == 0
    finally:
        code = run.stop()
    assert code == 0, (tmp_path / "edge-run.log").read_text()
