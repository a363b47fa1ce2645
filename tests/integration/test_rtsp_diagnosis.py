"""Why a camera will not open, asked of real peers: nothing listening, a PostgreSQL port (not RTSP), a camera that
refuses the password (401), a wrong path (404). `edge run`'s health record says exactly what `edge provision` says."""

from __future__ import annotations

import time

import pytest

from edge.config import CaptureSettings
from edge.video.live import LiveStream
from edge.video.rtsp_probe import probe
from provisioning.camera_check import check_camera
from tests.support import free_port
from tests.support.rtsp import Rtsp401

FAST = CaptureSettings(open_timeout_s=2, read_timeout_s=1, freeze_timeout_s=2, backoff_initial_s=0.2, backoff_max_s=1)


def runtime_error(url: str) -> str:
    """The error `edge run` records for the camera once its first connection failed."""
    stream = LiveStream("door", url, FAST, detect_fps=10)
    stream.start()
    try:
        for _ in range(100):
            if stream.stats.error:
                return stream.stats.error
            time.sleep(0.1)
    finally:
        stream.stop()
        stream.join(timeout=10)
    raise AssertionError("no error recorded")


def test_a_postgresql_port_is_not_rtsp(pg_server):
    url = f"rtsp://127.0.0.1:{pg_server.port}/cam"
    assert probe(url).problem == f"127.0.0.1:{pg_server.port} does not speak RTSP: check the port and the URL scheme"


@pytest.mark.parametrize("peer", ["nothing listens", "401", "not rtsp", "404"])
def test_run_and_provision_give_the_same_diagnosis(peer, pg_server, rtsp_server):
    srv = Rtsp401() if peer == "401" else None
    try:
        url = {"nothing listens": f"rtsp://127.0.0.1:{free_port()}/cam",
               "401": f"rtsp://admin:Xq7pw9Z@127.0.0.1:{srv.port if srv else 0}/cam",
               "not rtsp": f"rtsp://127.0.0.1:{pg_server.port}/cam",
               "404": rtsp_server.url.rsplit("/", 1)[0] + "/nosuchpath"}[peer]
        at_provision = check_camera("door", url, timeout_s=2).error
        at_run = runtime_error(url)
    finally:
        if srv:
            srv.close()
    assert at_provision == f"camera door: {at_run}"
    expected = {"nothing listens": "nothing listens on 127.0.0.1:", "401": "refused access (401 Unauthorized)",
                "not rtsp": "does not speak RTSP", "404": "(404 Not Found): check the stream path"}[peer]
    assert expected in at_run and "Xq7pw9Z" not in at_run
