"""Install a detector file from a USB stick (a directory or file) or a URL, verified against the manifest."""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
from pathlib import Path
from urllib.error import URLError

from edge.errors import UserError
from edge.secrets import mask_url
from models.registry import ModelSpec, sha256_of


def installed(dest_dir: Path, model: ModelSpec) -> Path | None:
    """The verified model file in `dest_dir`, if it is there."""
    dest = dest_dir / model.file
    return dest if dest.is_file() and sha256_of(dest) == model.sha256 else None


def fetch_model(source: str, dest_dir: Path, model: ModelSpec, timeout_s: float = 30.0) -> Path:
    """Copy or download `model.file` to a temporary file in `dest_dir`, refusing a sha256 mismatch; the caller
    renames it into place (or removes it) when provisioning commits (or stops)."""
    created = [d for d in (dest_dir, *dest_dir.parents) if not d.exists()]  # removed again if this fails
    dest_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=f".{model.file}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _fetch(source, model, out, timeout_s)
        digest = sha256_of(tmp)
        if digest != model.sha256:
            raise UserError(f"model from {mask_url(source)} has sha256 {digest[:12]}..., manifest expects "
                            f"{model.sha256[:12]}... for {model.name}: refusing it; get the right {model.file}")
    except BaseException:
        tmp.unlink(missing_ok=True)
        for d in created:
            d.rmdir()
        raise
    return tmp


def _fetch(source: str, model: ModelSpec, out, timeout_s: float) -> None:
    if any(ord(c) < 32 for c in source):
        raise UserError("--model contains control characters: give the model's file, folder or URL")
    if "://" in source:
        try:
            with urllib.request.urlopen(source, timeout=timeout_s) as resp:
                shutil.copyfileobj(resp, out)
        except (URLError, OSError, ValueError) as e:
            raise UserError(f"cannot download model from {mask_url(source)}: {getattr(e, 'reason', e)}: "
                            "check the URL") from None
        return
    path = Path(source)
    path = path / model.file if path.is_dir() else path
    if not path.is_file():
        raise UserError(
            f"model file {path} does not exist: point --model at the file or the folder holding {model.file}"
        )
    try:
        with path.open("rb") as src:
            shutil.copyfileobj(src, out)
    except OSError as e:
        raise UserError(f"cannot read model file {path}: {e.strerror or e}: check the path and its permissions"
                        ) from None
