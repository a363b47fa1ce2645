"""Shared fixtures: real data files, a throwaway PostgreSQL, a real RTSP server.

A missing data file or tool fails the test (it never skips): CI must have them.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
from signal import SIGTERM
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge.paths import REPO_ROOT, data_dir

TOOLS = Path(os.environ.get("EDGE_TOOLS_DIR", REPO_ROOT.parent / "shared" / "tools"))
PETS = "footage/pets09-s2l1"


def require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"missing test input {path}: set EDGE_DATA_DIR / EDGE_TOOLS_DIR or provide ../shared")
    return path


@pytest.fixture(scope="session")
def data() -> Path:
    return require(data_dir())


@pytest.fixture(scope="session")
def pets_video(data: Path) -> Path:
    return require(data / PETS / "video.avi")


@pytest.fixture(scope="session")
def pets_gt(data: Path) -> Path:
    return require(data / PETS / "gt_480x360.txt")


@pytest.fixture(scope="session")
def model_path(data: Path) -> Path:
    return require(data / "models" / "yolox_nano.onnx")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """A throwaway PostgreSQL 15 on 127.0.0.1 (via ../shared/tools/pg_temp.sh); stop/start to simulate outages."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="pg.", dir="/tmp")  # user postgres must reach it
        self.port = free_port()
        self.url = ""

    def start(self) -> str:
        out = subprocess.run(["bash", str(require(TOOLS / "pg_temp.sh")), "start", self.dir, str(self.port)],
                             check=True, capture_output=True, text=True)
        self.url = out.stdout.strip().splitlines()[-1]
        return self.url

    def stop(self) -> None:
        subprocess.run(["bash", str(TOOLS / "pg_temp.sh"), "stop", self.dir], check=False, capture_output=True)

    def dsn(self, dbname: str) -> str:
        return self.url.rsplit("/", 1)[0] + "/" + dbname


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    srv = PgServer()
    srv.start()
    yield srv
    srv.stop()
    shutil.rmtree(srv.dir, ignore_errors=True)


@contextmanager
def database(server: PgServer, name: str) -> Iterator[str]:
    """A fresh, empty database on `server` (a leftover of that name is dropped first), dropped afterwards."""
    import psycopg

    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield server.dsn(name)
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_dsn(pg_server: PgServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped afterwards."""
    with database(pg_server, "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]) as dsn:
        yield dsn


class RtspServer:
    """../shared/tools/rtsp_serve.py serving a video file as a live camera on 127.0.0.1."""

    def __init__(self, video: Path, log_path: Path, port: int = 0, path: str = "/cam") -> None:
        self.video, self.log_path, self.port, self.path = video, log_path, port, path
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self, timeout: float = 20) -> "RtspServer":
        with open(self.log_path, "a") as log:  # a file, not a pipe: a full pipe would block it
            self.proc = subprocess.Popen(
                ["/usr/bin/python3", str(require(TOOLS / "rtsp_serve.py")), str(self.video),
                 "--port", str(self.port), "--path", self.path, "--die-with-parent"],
                stdout=subprocess.PIPE, stderr=log, text=True)
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""
        if not line.startswith("ready "):
            self.stop()
            raise RuntimeError(f"rtsp_serve did not start: {line!r}\n{Path(self.log_path).read_text()}")
        self.url = line.split()[1]
        self.port = int(self.url.rsplit(":", 1)[1].split("/", 1)[0])  # restart() reuses it
        return self

    def signal(self, sig: int) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig: int = SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()


@pytest.fixture
def rtsp_server(pets_video: Path, tmp_path: Path) -> Iterator[RtspServer]:
    srv = RtspServer(pets_video, tmp_path / "rtsp_serve.log").start()
    yield srv
    srv.signal(signal.SIGCONT)  # in case a test left it frozen
    srv.stop()
