"""Files written by provisioning: atomically, and only what differs (re-running changes only that)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from edge import files
from edge.errors import UserError


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> bool:
    """edge.files.write_atomic, with the fix an installer can make."""
    return files.write_atomic(path, data, mode, fix="choose a writable --config-dir / --root")


def check_writable(directory: Path) -> None:
    """Fail early if `directory` could not be created or written; creates nothing itself."""
    existing = directory
    while not existing.exists():
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(20, "Not a directory", str(existing))
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise UserError(
            f"cannot write to {directory}: {e.strerror or e}: choose a writable --config-dir / --root"
        ) from None
