"""systemd units for `edge run` and `edge sync` (restart on failure, journald logs)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

from provisioning.files import write_atomic

UNITS = ("edge-run.service", "edge-sync.service")


def edge_binary() -> str:
    """The `edge` entry point of this installation."""
    beside = Path(sys.executable).with_name("edge")
    return str(beside) if beside.exists() else (shutil.which("edge") or "/usr/local/bin/edge")


def write_units(root: Path, config: Path) -> dict[str, bool]:
    """Write both units under `root`/etc/systemd/system; {unit: changed}."""
    out = {}
    for unit in UNITS:
        text = resources.files("provisioning").joinpath("systemd", unit).read_text()
        text = text.replace("{edge}", edge_binary()).replace("{config}", str(config))
        out[unit] = write_atomic(root / "etc/systemd/system" / unit, text.encode())
    return out


def enable_units(root: Path) -> str:
    """Enable and start the units when provisioning the running system; say what was done."""
    if root.resolve() != Path("/") or not shutil.which("systemctl") or not Path("/run/systemd/system").is_dir():
        return f"units written under {root}; enable them on the box with: systemctl enable --now {' '.join(UNITS)}"
    subprocess.run(["systemctl", "daemon-reload"], check=True)
    subprocess.run(["systemctl", "enable", "--now", *UNITS], check=True)
    return "units enabled and started"
