"""Atomic file writes that report whether anything changed (re-running provisioning changes only what differs)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from edge.errors import UserError


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> bool:
    """Replace `path` with `data` in one rename; False (and nothing touched) when it already holds exactly that."""
    try:
        if path.is_file() and path.read_bytes() == data and (path.stat().st_mode & 0o777) == mode:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), mode)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}: choose a writable --config-dir / --root") from None
    return True


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
