"""Helpers shared by the tests and the benchmarks: real servers on loopback, data files, ports."""

from __future__ import annotations

import os
import socket
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


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
