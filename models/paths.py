"""Where shared data (models, footage) lives: a setting, an env var, or ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """`EDGE_DATA_DIR`, else `../shared/data` relative to the repository root."""
    env = os.environ.get("EDGE_DATA_DIR")
    return Path(env) if env else (REPO_ROOT.parent / "shared" / "data")
