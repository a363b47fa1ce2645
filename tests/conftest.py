"""Shared fixtures: real data files, throwaway PostgreSQL servers, real RTSP cameras.

A missing data file or tool fails the test (it never skips): CI must have them. Tests that use a PostgreSQL or
RTSP fixture get the `pg` or `rtsp` marker automatically, so `pytest -m "not pg and not rtsp"` runs the rest.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from models.paths import data_dir
from tests.support import MissingInput, require
from tests.support.pg import PgServer, database
from tests.support.rtsp import RtspServer

PETS = "footage/pets09-s2l1"
MARKERS = {"pg": {"pg_server", "pg_dsn", "pg_factory"}, "rtsp": {"rtsp_server", "rtsp_factory"}}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for marker, fixtures in MARKERS.items():
            if used & fixtures:
                item.add_marker(marker)


def _require(path: Path) -> Path:
    try:
        return require(path)
    except MissingInput as e:
        pytest.fail(str(e))


@pytest.fixture(scope="session")
def data() -> Path:
    return _require(data_dir())


@pytest.fixture(scope="session")
def pets_video(data: Path) -> Path:
    return _require(data / PETS / "video.avi")


@pytest.fixture(scope="session")
def pets_gt(data: Path) -> Path:
    return _require(data / PETS / "gt_480x360.txt")


@pytest.fixture(scope="session")
def model_path(data: Path) -> Path:
    return _require(data / "models" / "yolox_nano.onnx")


@pytest.fixture(scope="session")
def pg_factory() -> Iterator[Callable[..., PgServer]]:
    """Start extra throwaway servers (started, stopped and removed at the end of the session)."""
    servers: list[PgServer] = []

    def start(**kwargs: str) -> PgServer:
        srv = PgServer(**kwargs)
        servers.append(srv)
        srv.start()
        return srv

    yield start
    for srv in servers:
        srv.stop()
        shutil.rmtree(srv.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(pg_factory: Callable[..., PgServer]) -> PgServer:
    return pg_factory()


@pytest.fixture
def pg_dsn(pg_server: PgServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped afterwards."""
    with database(pg_server, "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]) as dsn:
        yield dsn


@pytest.fixture
def rtsp_factory(tmp_path: Path) -> Iterator[Callable[..., RtspServer]]:
    """Start RTSP cameras serving a video (stopped after the test, even if it left one frozen)."""
    servers: list[RtspServer] = []

    def start(video: Path, port: int = 0, path: str = "/cam") -> RtspServer:
        srv = RtspServer(video, tmp_path / f"rtsp_serve.{len(servers)}.log", port, path).start()
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.signal(signal.SIGCONT)
        srv.stop()


@pytest.fixture
def rtsp_server(rtsp_factory: Callable[..., RtspServer], pets_video: Path) -> RtspServer:
    return rtsp_factory(pets_video)
