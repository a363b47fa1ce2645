"""What provisioning writes, staged: every file is gathered (a download already beside its target) and checked
writable first, then all are put in place at the end, each atomically and only if it differs. An interruption or
a refused input before `commit()` leaves the box as it was."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from edge import files
from edge.errors import UserError


@dataclass(frozen=True)
class Owner:
    """The service user's ids (in the root being provisioned)."""

    uid: int
    gid: int


class Access(StrEnum):
    """Who may read a file: everyone (units, model), the service (secrets: root:edge-counter 0640), or the service
    only (snapshots and what edge run writes: edge-counter 0640 in a 0750 folder). box.toml is EDITABLE: everyone
    reads it and the service may replace it (the web page's line editor), edge-counter 0644 in a root:edge-counter
    1775 folder, whose sticky bit keeps the service from replacing any file there that is not its own."""

    PUBLIC = "public"
    SECRET = "secret"
    PRIVATE = "private"
    EDITABLE = "editable"

    @property
    def mode(self) -> int:
        return 0o644 if self in (Access.PUBLIC, Access.EDITABLE) else 0o640

    def ids(self, service: Owner | None) -> tuple[int, int] | None:
        if service is None or self is Access.PUBLIC:
            return None
        return (0, service.gid) if self is Access.SECRET else (service.uid, service.gid)


def write_atomic(path: Path, data: bytes, mode: int = 0o644, ids: tuple[int, int] | None = None) -> bool:
    """edge.files.write_atomic, with the fix an installer can make."""
    return files.write_atomic(path, data, mode, ids, fix="choose a writable --config-dir / --root")


def check_writable(directory: Path) -> None:
    """Fail early if `directory` could not be created or written; creates nothing itself."""
    existing = directory
    while not existing.exists() and not existing.is_symlink():
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


@dataclass
class _File:
    path: Path
    data: bytes | None  # None: `temp` holds the content
    access: Access
    temp: Path | None = None
    created: tuple[Path, ...] = ()  # folders made for `temp`, removed again if it is discarded


@dataclass
class Staging:
    """Files to put in place at the end (paths under the root being provisioned)."""

    files: list[_File] = field(default_factory=list)
    private_dirs: set[Path] = field(default_factory=set)
    shared_dirs: set[Path] = field(default_factory=set)  # hold an EDITABLE file

    def add(self, path: Path, data: bytes, access: Access = Access.PUBLIC) -> None:
        self.files = [f for f in self.files if f.path != path] + [_File(path, data, access)]
        if access is Access.PRIVATE:
            self.private_dirs.add(path.parent)
        if access is Access.EDITABLE:
            self.shared_dirs.add(path.parent)

    def add_temp(self, path: Path, temp: Path, access: Access = Access.PUBLIC, created: tuple[Path, ...] = ()) -> None:
        """`temp`, already written beside `path` (in folders `created` for it), replaces it at commit (a download
        is not read twice)."""
        self.files.append(_File(path, None, access, temp, created))

    def check(self, extra_dirs: tuple[Path, ...] = ()) -> None:
        """Every folder a file goes to is writable (or can be created): nothing is written if one is not."""
        for directory in sorted({f.path.parent for f in self.files} | set(extra_dirs)):
            check_writable(directory)

    def discard(self) -> None:
        for f in self.files:
            if f.temp is not None:
                f.temp.unlink(missing_ok=True)
                for directory in f.created:  # innermost first
                    if directory.is_dir() and not any(directory.iterdir()):
                        directory.rmdir()
        self.files = []

    def commit(self, service: Owner | None) -> dict[Path, bool]:
        """Put every file in place; {path: changed}. Private folders become 0750 and the service's; folders of an
        editable file root:edge-counter 1775 (without a service user they stay as they are)."""
        changed = {}
        for directory in sorted(self.private_dirs):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o750)
            if service:
                os.chown(directory, service.uid, service.gid)
        for directory in sorted(self.shared_dirs):
            directory.mkdir(parents=True, exist_ok=True)
            if service:
                os.chown(directory, 0, service.gid)
                directory.chmod(0o1775)
        for f in self.files:
            ids = f.access.ids(service)
            if f.temp is None:
                assert f.data is not None
                changed[f.path] = write_atomic(f.path, f.data, f.access.mode, ids)
                continue
            f.temp.chmod(f.access.mode)
            if ids:
                os.chown(f.temp, *ids)
            os.replace(f.temp, f.path)
            changed[f.path] = True
        self.files = []
        return changed
