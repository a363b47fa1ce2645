"""Helpers shared by the tests and the benchmarks: real servers on loopback, data files, ports."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from models.paths import REPO_ROOT, data_dir

TOOLS = Path(os.environ.get("EDGE_TOOLS_DIR", REPO_ROOT.parent / "shared" / "tools"))


class MissingInput(RuntimeError):
    """A data file or tool the tests need is not there (CI must have it: a failure, never a skip)."""


def require(path: Path) -> Path:
    if not path.exists():
        raise MissingInput(f"missing test input {path}: set EDGE_DATA_DIR / EDGE_TOOLS_DIR or provide ../shared")
    return path


def data_file(relative: str) -> Path:
    """A file under the shared data folder (`$EDGE_DATA_DIR`), which must exist."""
    return require(data_dir() / relative)


def wait_until(cond: Callable[[], object], timeout: float, step: float = 0.2) -> bool:
    """Poll `cond` every `step` seconds until it holds or `timeout` passes; its last answer."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopbackPeer:
    """A server on a free 127.0.0.1 port that `talk`s to each connection in turn, in a thread; `close()` stops it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.talk(conn)

    def talk(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.sock.close()
