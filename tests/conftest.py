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
from tests.support.pg import CENTRAL_BACKENDS, CentralBackend, CitusCluster, PgServer, database
from tests.support.rtsp import RtspServer

PETS = "footage/pets09-s2l1"
MARKERS = {"pg": {"pg_server", "pg_dsn", "pg_factory", "citus_cluster", "central_backend", "central_dsn",
                   "central_empty_dsn"}, "rtsp": {"rtsp_server", "rtsp_factory"}}


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


def db_name(request: pytest.FixtureRequest) -> str:
    """A database name for the test (or module) asking: letters, digits and _ only."""
    return "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[:50]


@pytest.fixture
def pg_dsn(pg_server: PgServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database on the session's server, dropped afterwards."""
    with database(pg_server, db_name(request)) as dsn:
        yield dsn


@pytest.fixture(scope="session")
def citus_cluster() -> Iterator[CitusCluster]:
    """A coordinator and two workers with Citus 13.2 (scripts/system-deps.sh test installs it)."""
    if not (Path("/usr/share/postgresql/15/extension") / "citus.control").exists():
        pytest.fail("Citus is not installed: run `sudo scripts/system-deps.sh test` (../shared/tools/citus/install.sh)")
    cluster = CitusCluster(workers=2)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def central_backend(request: pytest.FixtureRequest) -> Callable[[str], CentralBackend]:
    """The backend of that name, made when first asked for (the cluster starts only if a Citus test runs)."""
    backends: dict[str, CentralBackend] = {}

    def get(name: str) -> CentralBackend:
        if name not in backends:
            if name == "citus":
                cluster = request.getfixturevalue("citus_cluster")
                backends[name] = CentralBackend(name, cluster.nodes, cluster)
            else:
                backends[name] = CentralBackend(name, [request.getfixturevalue("pg_server")])
        return backends[name]

    return get


@pytest.fixture(params=CENTRAL_BACKENDS)
def central_dsn(central_backend: Callable[[str], CentralBackend], request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh central database, migrated (on Citus: and distributed), on each backend; dropped afterwards."""
    with central_backend(request.param).database(db_name(request), migrated=True) as dsn:
        yield dsn


@pytest.fixture(params=CENTRAL_BACKENDS)
def central_empty_dsn(central_backend: Callable[[str], CentralBackend],
                      request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh central database with nothing migrated (on Citus: the extension on every node), on each backend."""
    with central_backend(request.param).database(db_name(request), migrated=False) as dsn:
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
