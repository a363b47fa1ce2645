"""The box's link to central as provisioning sets it up: which DSN may be stored (TLS verified for any host that is
not this machine), the box's role, and what a check of that link means (WARN when central is unreachable: counts
are buffered; FAIL when it refuses the box or the DSN is wrong: the box would never deliver)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from edge.config import BoxConfig
from edge.errors import Unavailable, UserError
from provisioning.outcome import Outcome
from sync.central.registry import box_role_dsn, check_delivery, register
from sync.connect import check_dsn

CA_FILE = "central-ca.pem"  # --central-ca is copied here, beside box.toml


def _loopback(params: dict[str, object]) -> tuple[bool, str]:
    """Whether every host of the DSN is this machine (a Unix socket, localhost, 127.0.0.0/8, ::1); the first
    host that is not, for messages."""
    hosts = str(params.get("hostaddr") or params.get("host") or "").split(",")
    for host in (h.strip() for h in hosts):
        if not host or host.startswith("/") or host == "localhost":
            continue
        try:
            if ipaddress.ip_address(host).is_loopback:
                continue
        except ValueError:
            pass
        return False, str(params.get("host") or host)
    return True, ""


def storable_dsn(dsn: str, flag: str, ca_on_box: Path | None, insecure: bool) -> str:
    """The DSN as the box will store it: with `--central-ca`, `sslmode=verify-full` and that CA; for a host that is
    not loopback, verify-full is required (and set when no sslmode is given) and a CA must be named, unless
    `insecure`. A one-line UserError otherwise (never echoing the DSN)."""
    params = check_dsn(dsn, flag)
    if ca_on_box is not None:
        return make_conninfo(dsn, sslmode="verify-full", sslrootcert=str(ca_on_box))
    loopback, host = _loopback(params)
    if loopback or insecure:
        return dsn
    mode = params.get("sslmode")
    if mode not in (None, "verify-full"):
        raise UserError(f"{flag} connects to {host} with sslmode={mode}, which does not verify central's certificate "
                        "and host name: use sslmode=verify-full (the default) with --central-ca FILE, or --insecure")
    if not params.get("sslrootcert"):
        raise UserError(f"{flag} connects to {host}, not to this machine: give --central-ca FILE (the CA that signed "
                        "central's certificate) so the box verifies it (sslmode=verify-full), or --insecure")
    return make_conninfo(dsn, sslmode="verify-full")


def for_this_machine(dsn: str, root: Path) -> str:
    """The stored DSN as provisioning itself can use it: a CA file named as on the box is read under `root`."""
    ca = str(conninfo_to_dict(dsn).get("sslrootcert") or "")
    if root == Path("/") or not ca.startswith("/"):
        return dsn
    return make_conninfo(dsn, sslrootcert=str(root / ca.lstrip("/")))


def box_role(admin_dsn: str, device_id: str, previous: str | None, ca_on_box: Path | None, insecure: bool,
             out: Outcome) -> str | None:
    """Create (or re-enable) the box's role with the admin DSN; the DSN to store, else `previous` (said plainly)."""
    try:
        dsn = box_role_dsn(admin_dsn, device_id, previous)
    except Unavailable as e:
        if previous:
            out.warn(f"central unreachable, box role not checked ({e}); the DSN stored before is kept")
        else:
            out.fail(f"central unreachable ({e}): no box role was created and NO central DSN is stored, so this box "
                     "will not sync: re-run with --admin-dsn once central is reachable")
        return previous
    except UserError as e:
        out.fail(f"central refused to create the box role: {e}")
        return previous
    out.ok(f"central role box_{device_id} ready (least privilege: its own device's rows only)")
    return storable_dsn(dsn, "--admin-dsn", ca_on_box, insecure)


def check_link(dsn: str, device_id: str, out: Outcome) -> None:
    """Say whether the stored DSN will deliver: WARN if central is unreachable, FAIL if it refuses or is wrong."""
    try:
        check_delivery(dsn, device_id)
    except Unavailable as e:
        out.warn(f"central unreachable: counts will be buffered until it is ({e})")
        return
    except UserError as e:
        out.fail(f"central DSN will not deliver: {e}")
        return
    out.ok(f"central reachable and writable by this box (role box_{device_id})")


def register_box(admin_dsn: str | None, config: BoxConfig, out: Outcome) -> None:
    """Register device, cameras and lines with the admin DSN; without one, say that central does not know them."""
    if not admin_dsn:
        out.warn("not registered in central (no --admin-dsn): central does not know this box's cameras and lines "
                 "until you re-run with --admin-dsn")
        return
    try:
        register(admin_dsn, config)
    except Unavailable as e:
        out.fail(f"not registered in central, it is unreachable ({e}): re-run with --admin-dsn when it is")
        return
    except UserError as e:
        out.fail(f"not registered in central: {e}")
        return
    out.ok("device, cameras and lines registered in central")
