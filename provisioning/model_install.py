"""Install a detector file from a USB stick (a directory or file) or a URL, verified against the manifest."""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from urllib.error import URLError

from edge.errors import UserError
from models.registry import ModelSpec, sha256_of


def install_model(source: str, dest_dir: Path, model: ModelSpec, timeout_s: float = 30.0) -> tuple[Path, bool]:
    """Copy or download `model.file` into `dest_dir`, refusing a sha256 mismatch. Returns (path, changed)."""
    dest = dest_dir / model.file
    if dest.is_file() and sha256_of(dest) == model.sha256:
        return dest, False
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{model.file}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _fetch(source, model, out, timeout_s)
        digest = sha256_of(tmp)
        if digest != model.sha256:
            raise UserError(f"model from {source} has sha256 {digest[:12]}..., manifest expects {model.sha256[:12]}... "
                            f"for {model.name}: refusing it; get the right {model.file}")
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest, True


def _fetch(source: str, model: ModelSpec, out, timeout_s: float) -> None:
    if "://" in source:
        try:
            with urllib.request.urlopen(source, timeout=timeout_s) as resp:
                shutil.copyfileobj(resp, out)
        except (URLError, OSError) as e:
            raise UserError(f"cannot download model from {source}: {getattr(e, 'reason', e)}: check the URL") from None
        return
    path = Path(source)
    path = path / model.file if path.is_dir() else path
    if not path.is_file():
        raise UserError(
            f"model file {path} does not exist: point --model at the file or the folder holding {model.file}"
        )
    with path.open("rb") as src:
        shutil.copyfileobj(src, out)
