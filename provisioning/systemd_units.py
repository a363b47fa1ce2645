"""systemd units for `edge run` and `edge sync`: hardened, run as the system user edge-counter, restarted on
failure, logging to journald; enabled on the running box, or offline in an image (`systemctl --root`)."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

from edge.errors import UserError
from provisioning.files import Owner, write_atomic

UNITS = ("edge-run.service", "edge-sync.service")
UNIT_DIR = Path("/etc/systemd/system")
SERVICE_USER = "edge-counter"
SYSUSERS_FILE = Path("/etc/sysusers.d/edge-counter.conf")
IMAGE_PREFIX = Path("/opt/edge-counter")  # where an image gets its edge-counter unless --prefix says otherwise
# ProtectHome= and PrivateTmp= hide these from the services: an `edge` installed there could not start
_HIDDEN = (Path("/home"), Path("/root"), Path("/run/user"), Path("/tmp"), Path("/var/tmp"))


def edge_binary() -> Path:
    """The `edge` entry point of this installation."""
    beside = Path(sys.executable).with_name("edge")
    return beside if beside.exists() else Path(shutil.which("edge") or "/usr/local/bin/edge")


def unit_binary(root: Path, prefix: Path | None) -> Path:
    """The `edge` the units start, as a path on the box: PREFIX/bin/edge, or this installation's own when
    provisioning the running system. A UserError if it is not there or the hardened units could not see it."""
    where = "" if root == Path("/") else f" in {root}"
    if prefix is None and root != Path("/"):
        prefix = IMAGE_PREFIX
    binary = prefix / "bin" / "edge" if prefix is not None else edge_binary()
    if not binary.is_absolute():
        raise UserError(f"--prefix {prefix} is relative: give the absolute path of edge-counter on the box")
    if not (root / binary.relative_to("/")).is_file():
        raise UserError(
            f"{binary} does not exist{where}: install edge-counter there first (inside the image: python3 -m venv "
            f"{binary.parent.parent} && {binary.parent}/pip install edge-counter), or give --prefix")
    if any(binary.is_relative_to(hidden) for hidden in _HIDDEN):
        raise UserError(f"{binary} is under {next(h for h in _HIDDEN if binary.is_relative_to(h))}, which the "
                        f"hardened units cannot see: install edge-counter under {IMAGE_PREFIX} and give --prefix")
    return binary


def unit_files(binary: Path, config: Path) -> dict[Path, bytes]:
    """The units, as paths on the box -> contents."""
    files = {}
    for unit in UNITS:
        text = resources.files("provisioning").joinpath("systemd", unit).read_text()
        text = text.replace("{edge}", str(binary)).replace("{config}", str(config))
        files[UNIT_DIR / unit] = text.replace("{config_dir}", str(config.parent)).encode()
    return files


def service_user(root: Path) -> tuple[Owner | None, str | None]:
    """Write its sysusers.d entry (systemd creates the user at boot if need be), create the service user in `root`
    now (systemd-sysusers --root, else useradd --root) and return its ids; (None, why) when it cannot be created
    here: the files then stay root's."""
    entry = resources.files("provisioning").joinpath("systemd", "edge-counter.sysusers").read_bytes()
    write_atomic(root / SYSUSERS_FILE.relative_to("/"), entry)
    if os.geteuid() != 0:
        return None, f"not run as root: files are left owned by you and user {SERVICE_USER} is not created"
    if shutil.which("systemd-sysusers"):
        cmd = ["systemd-sysusers", f"--root={root}", str(root / SYSUSERS_FILE.relative_to("/"))]
    elif shutil.which("useradd"):
        cmd = ["useradd", "--root", str(root), "--system", "--user-group", "--home-dir", "/var/lib/edge-counter",
               "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER]
    else:
        return None, "neither systemd-sysusers nor useradd is installed"
    if _lookup(root) is None:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            return None, f"{cmd[0]} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}"
    owner = _lookup(root)
    return (owner, None) if owner else (None, f"user {SERVICE_USER} was not created in {root}/etc/passwd")


def _lookup(root: Path) -> Owner | None:
    """The user's ids in `root`'s /etc/passwd and /etc/group (which are not this machine's when `root` is an image)."""
    if root == Path("/"):
        try:
            return Owner(pwd.getpwnam(SERVICE_USER).pw_uid, grp.getgrnam(SERVICE_USER).gr_gid)
        except KeyError:
            return None
    ids = {}
    for table in ("passwd", "group"):
        path = root / "etc" / table
        for line in path.read_text().splitlines() if path.is_file() else []:
            fields = line.split(":")
            if len(fields) > 2 and fields[0] == SERVICE_USER and fields[2].isdigit():
                ids[table] = int(fields[2])
    return Owner(ids["passwd"], ids["group"]) if len(ids) == 2 else None


def enable_units(root: Path) -> tuple[bool, str]:
    """Enable the units: started now on the running box, offline (`systemctl --root`) in an image or a system not
    booted with systemd. (done, what was done or what to do)."""
    if not shutil.which("systemctl"):
        return False, f"systemctl is not installed: enable the units on the box with systemctl enable --now " \
                      f"{' '.join(UNITS)}"
    if root == Path("/") and Path("/run/systemd/system").is_dir():
        cmds = [["systemctl", "daemon-reload"], ["systemctl", "enable", "--now", *UNITS]]
        said = "units enabled and started"
    else:
        cmds = [["systemctl", f"--root={root}", "enable", *UNITS]]
        said = f"units enabled offline under {root}: they start at the next boot"
    for cmd in cmds:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            return False, f"{' '.join(cmd)} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}"
    return True, said
