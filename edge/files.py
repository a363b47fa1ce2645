"""Atomic file writes that report whether anything changed: a reader (or a power cut) never sees half a file,
and re-writing the same content touches nothing. Used by `edge provision` and the web page's line editor."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from edge.errors import UserError


def write_atomic(path: Path, data: bytes, mode: int = 0o644, ids: tuple[int, int] | None = None,
                 fix: str = "check the folder exists and is writable") -> bool:
    """Replace `path` with `data` (owned by `ids`, uid and gid, if given) in one rename; False (and nothing
    touched) when it already holds exactly that. A failure is a UserError naming the file, the reason and `fix`."""
    try:
        if path.is_file() and path.read_bytes() == data and _same(path, mode, ids):
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                os.fchmod(f.fileno(), mode)
                if ids:
                    os.fchown(f.fileno(), *ids)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}: {fix}") from None
    return True


def _same(path: Path, mode: int, ids: tuple[int, int] | None) -> bool:
    st = path.stat()
    return (st.st_mode & 0o777) == mode and (ids is None or (st.st_uid, st.st_gid) == ids)
