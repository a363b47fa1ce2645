"""`edge provision` as an installer meets it (issue 13), against a real RTSP camera, RTSP peers that check passwords,
and real PostgreSQL servers (trust, scram, TLS-only): re-runs keep settings, central mistakes are FAIL not WARN,
nothing is half-written, units are hardened, and no input gives a traceback."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psycopg
import pytest

from edge.config import load_config
from provisioning.central import storable_dsn
from sync.central.roles import create_device_role
from tests.integration.test_provision import LINE, edge, image, provision, service_ids
from tests.support import free_port
from tests.support.pg import PgServer, reconfigure, socket_params
from tests.support.rtsp import DigestCamera
from tests.support.sync import migrate_central
from tests.support.tls import tls_only

PASSWORD = "box1-pw-0815"


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def on_box(root: Path) -> Path:
    """box.toml with its secrets file read under `root` (as `edge run` would on the box)."""
    text = (root / "etc/edge-counter/box.toml").read_text().replace('"/etc/edge-counter/', f'"{root}/etc/edge-counter/')
    (root / "check.toml").write_text(text)
    return root / "check.toml"


@pytest.fixture(scope="module")
def scram(pg_factory: Callable[[], PgServer]) -> Iterator[tuple[PgServer, str]]:
    """A server that admits TCP logins with a password only: database central migrated, roles box_box1 and
    box_other; database empty not migrated. Yields (server, admin DSN over TCP). Tests that let provisioning
    create box_box1 give it a new password: `box_password` sets it back."""
    srv = pg_factory()
    reconfigure(srv, "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
                password_encryption="scram-sha-256")
    with psycopg.connect(**socket_params(srv), autocommit=True) as conn:
        conn.execute("ALTER ROLE postgres PASSWORD 'admin-pw'")
        conn.execute("CREATE DATABASE central")
        conn.execute("CREATE DATABASE empty")
    admin = f"host={srv.dir}/sock port={srv.port} user=postgres dbname=central"
    migrate_central(admin)
    create_device_role(admin, "box1", PASSWORD)
    create_device_role(admin, "other", "other-pw")
    yield srv, f"postgresql://postgres:admin-pw@127.0.0.1:{srv.port}/central"


def box_password(srv: PgServer) -> None:
    create_device_role(f"host={srv.dir}/sock port={srv.port} user=postgres dbname=central", "box1", PASSWORD)


def box_url(srv: PgServer, user: str = "box_box1", password: str = PASSWORD, db: str = "central") -> str:
    return f"postgresql://{user}:{password}@127.0.0.1:{srv.port}/{db}"


# -- 1. a re-run keeps what it is not told to change ------------------------------------------------------------

def test_reruns_with_any_subset_of_flags_keep_every_setting(tmp_path, rtsp_server, scram, model_path):
    srv, admin = scram
    url = rtsp_server.url.replace("rtsp://", "rtsp://admin:cam-pw@")
    first = provision(tmp_path, "--yes", "--admin-dsn", admin, "--model", model_path.parent,
                      cameras=[f"door={url}", f"yard={rtsp_server.url}"],
                      lines=(LINE, "yard:gate:0,200,480,200", "yard:path:240,0,240,360"))
    assert first.exit_code == 0, first.output
    box_toml = tmp_path / "etc/edge-counter/box.toml"
    with box_toml.open("a") as f:  # an installer's own setting, by hand
        f.write('\n[capture]\ntransport = "udp"\n')
    expected = load_config(on_box(tmp_path))
    assert expected.sync.dsn and expected.model.model_dir and expected.capture.transport == "udp"
    dead_admin = f"postgresql://postgres:admin-pw@127.0.0.1:{free_port()}/central"
    for flags in ([], ["--device-id", "box1"], ["--camera", f"door={url}"], ["--model", str(model_path.parent)],
                  ["--line", "yard:gate:0,200,480,200", "--line", "yard:path:240,0,240,360"],
                  ["--admin-dsn", dead_admin], ["--admin-dsn", admin]):
        r = edge("provision", "--root", tmp_path, "--yes", "--camera-timeout", 15, *flags)
        assert r.exit_code in (0, 1), r.output
        if "--admin-dsn" in flags and dead_admin in flags:
            assert "the DSN stored before is kept" in r.output
        else:
            assert r.exit_code == 0, (flags, [ln for ln in r.output.splitlines() if "FAIL" in ln])
        assert load_config(on_box(tmp_path)) == expected, flags
    # the DSN reaches `edge sync`: it is the box's own role
    with psycopg.connect(expected.sync.dsn) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == "box_box1"


def test_changing_one_camera_keeps_the_other_and_remove_camera_removes(tmp_path, rtsp_server):
    r = provision(tmp_path, "--yes", cameras=[f"door={rtsp_server.url}", f"yard={rtsp_server.url}"],
                  lines=(LINE, "yard:gate:0,200,480,200"))
    assert r.exit_code == 0, r.output
    r = edge("provision", "--root", tmp_path, "--yes", "--line", "door:exit:0,300,480,300")
    assert r.exit_code == 0, r.output
    cams = {c.name: [ln.name for ln in c.lines] for c in load_config(on_box(tmp_path)).cameras}
    assert cams == {"door": ["exit"], "yard": ["gate"]}
    r = edge("provision", "--root", tmp_path, "--yes", "--remove-camera", "yard")
    assert r.exit_code == 0, r.output
    assert [c.name for c in load_config(on_box(tmp_path)).cameras] == ["door"]


# -- 2. unreachable is WARN, refused or wrong is FAIL -----------------------------------------------------------

@pytest.mark.parametrize("case, expected", [
    ("right", "central reachable and writable by this box (role box_box1)"),
    ("wrong password", "central DSN will not deliver: central database refused the connection"),
    ("wrong database", 'database "nosuchdb" does not exist'),
    ("not migrated", "central database is not migrated"),
    ("another box", "logs in as box_other (another role), not as this box's role box_box1"),
    ("superuser", "logs in as postgres (a superuser)"),
])
def test_central_mistakes_fail_and_only_an_outage_warns(tmp_path, rtsp_server, scram, case, expected):
    srv, admin = scram
    box_password(srv)
    dsn = {"right": box_url(srv), "wrong password": box_url(srv, password="nope"),
           "wrong database": box_url(srv, db="nosuchdb"), "not migrated": box_url(srv, db="empty"),
           "another box": box_url(srv, user="box_other", password="other-pw"), "superuser": admin}[case]
    r = provision(tmp_path, "--yes", "--central-dsn", dsn, cameras=[f"door={rtsp_server.url}"])
    assert expected in r.output, r.output
    assert "central unreachable" not in r.output
    assert r.exit_code == (0 if case == "right" else 1), r.output
    assert "admin-pw" not in r.output and PASSWORD not in r.output


def test_admin_dsn_with_central_down_says_no_dsn_was_stored(tmp_path, rtsp_server):
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/central"
    r = provision(tmp_path, "--yes", "--admin-dsn", dead, cameras=[f"door={rtsp_server.url}"])
    assert r.exit_code == 1, r.output
    assert "NO central DSN is stored, so this box will not sync" in r.output
    assert "not registered in central, it is unreachable" in r.output
    assert not (tmp_path / "etc/edge-counter/secrets.toml").exists()


# -- 5. nothing half-written --------------------------------------------------------------------------------------

def test_read_only_state_folder_writes_nothing(tmp_path, rtsp_server, model_path):
    root = image(tmp_path / "root")
    state = root / "var/lib/edge-counter"
    state.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(state)], check=True)
    try:
        before = files_under(root)
        r = provision(root, "--yes", "--model", model_path.parent, cameras=[f"door={rtsp_server.url}"])
        assert r.exit_code == 2 and r.stderr.count("\n") == 1, r.output
        assert "cannot write to" in r.stderr and "Read-only file system" in r.stderr
        assert files_under(root) == before  # no box.toml, no secrets, no units
    finally:
        subprocess.run(["umount", str(state)], check=True)


def test_ctrl_c_during_the_camera_check_leaves_the_box_as_it_was(tmp_path, model_path):
    root = image(tmp_path / "root")
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers: the check waits its timeout
    before = files_under(root)
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "provision", "--yes", "--root", str(root), "--device-id", "box1",
         "--model", str(model_path.parent), "--camera-timeout", "8",
         "--camera", f"door=rtsp://127.0.0.1:{silent.getsockname()[1]}/cam"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert "checking cameras" in proc.stdout.readline()  # the model is downloaded and verified by now
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        silent.close()
    assert proc.returncode == 2 and err.strip() == "error: interrupted: nothing was changed on this box", err
    assert files_under(root) == before  # the verified download is gone too, with its folder


# -- 6. passwords of every awkward character ----------------------------------------------------------------------

@pytest.mark.parametrize("password", ["p#ss", "p@ss:w/rd", "a?x=1&y", "100%", "two words", "Zürich€", "q\"'\\;",
                                      "%41%"])
def test_awkward_passwords_reach_the_camera_and_stay_secret(tmp_path, password):
    cam = DigestCamera("admin", password)
    try:
        r = provision(tmp_path, "--yes", cameras=[f"door=rtsp://admin:{password}@127.0.0.1:{cam.port}/cam"])
    finally:
        cam.close()
    # FFmpeg (opening the stream) and the probe (explaining the failure) both got in: the camera answered 404
    assert "(404 Not Found): check the stream path" in r.output, r.output
    assert any(ua.startswith("Lavf") for ua in cam.authorized) and "edge-provision" in cam.authorized
    box = (tmp_path / "etc/edge-counter/box.toml").read_text()
    source = tomllib.loads(box)["cameras"][0]["source"]
    assert source == f"rtsp://admin@127.0.0.1:{cam.port}/cam" and password not in box and password not in r.output
    secret = tomllib.loads((tmp_path / "etc/edge-counter/secrets.toml").read_text())["cameras"]["door"]["source"]
    parts = urlsplit(secret)
    assert unquote(parts.password or "") == password and parts.port == cam.port and parts.path == "/cam"


# -- 8, 9. lines ----------------------------------------------------------------------------------------------------

def test_lines_partly_outside_missing_or_outside_the_frame(tmp_path, rtsp_server):
    r = provision(tmp_path, "--yes", cameras=[f"door={rtsp_server.url}", f"yard={rtsp_server.url}",
                                              f"hall={rtsp_server.url}"],
                  lines=("door:entrance:0,150,900,150", "yard:far:600,400,900,400"))
    assert r.exit_code == 1, r.output
    assert "line 'entrance' (0,150 -> 900,150) runs outside the 480x360 frame: only the part inside counts" in r.output
    assert "camera hall has no counting line, it counts nothing: add --line hall:NAME:x1,y1,x2,y2" in r.output
    assert "line 'far' (600,400 -> 900,400) lies entirely outside the 480x360 frame" in r.output
    assert "camera yard: 480x360" in r.output  # the frame size, to pick coordinates from ...
    assert (tmp_path / "var/lib/edge-counter/snapshots/yard.png").is_file()  # ... and the picture
    box = tomllib.loads((tmp_path / "etc/edge-counter/box.toml").read_text())
    assert [c["name"] for c in box["cameras"]] == ["door", "hall"]  # yard left as it was: not installed


def test_a_line_without_its_camera_shows_the_three_part_form(tmp_path, rtsp_server):
    r = provision(tmp_path, "--yes", cameras=[f"door={rtsp_server.url}"], lines=("door:0,150,480,150",))
    assert r.exit_code == 2
    assert r.stderr.strip() == ("error: --line 'door:0,150,480,150' is malformed: write CAMERA:NAME:x1,y1,x2,y2 "
                                "(e.g. door:entrance:0,150,480,150)")


# -- 10, 11. hardened units, an image ---------------------------------------------------------------------------

def test_units_are_hardened_enabled_offline_and_the_image_is_readable(tmp_path, rtsp_server):
    r = provision(tmp_path, "--yes", cameras=[f"door={rtsp_server.url}"])
    assert r.exit_code == 0, r.output
    assert f"units enabled offline under {tmp_path}" in r.output
    units = tmp_path / "etc/systemd/system"
    for unit in ("edge-run.service", "edge-sync.service"):
        text = (units / unit).read_text()
        assert "ExecStart=/opt/edge-counter/bin/edge " in text and "User=edge-counter" in text
        link = units / "multi-user.target.wants" / unit
        assert link.is_symlink() and os.readlink(link) == f"/etc/systemd/system/{unit}"
        out = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(units / unit)],
                             capture_output=True, text=True)
        level = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", out.stdout + out.stderr).group(1))
        assert level <= 2.5, out.stdout
    uid, gid = service_ids(tmp_path)
    assert uid > 0 and "edge-counter" in (tmp_path / "etc/sysusers.d/edge-counter.conf").read_text()
    assert os.stat(tmp_path / "var/lib/edge-counter/buffer.sqlite").st_uid == uid
    # `edge status --root`: the image's config, secrets and buffer; `edge run` never ran there, so exit 1
    status = edge("status", "--root", tmp_path)
    assert status.exit_code == 1 and "PROBLEM camera door is unknown" in status.stdout, status.output


def test_an_image_without_edge_counter_in_its_prefix_is_refused(tmp_path, rtsp_server):
    root = tmp_path / "root"
    r = edge("provision", "--yes", "--root", root, "--camera", f"door={rtsp_server.url}")
    assert r.exit_code == 2 and f"/opt/edge-counter/bin/edge does not exist in {root}" in r.stderr
    assert not root.exists()
    home = tmp_path / "home-root"
    (home / "home/me/venv/bin").mkdir(parents=True)
    (home / "home/me/venv/bin/edge").write_text("")
    r = edge("provision", "--yes", "--root", home, "--prefix", "/home/me/venv", "--camera", f"door={rtsp_server.url}")
    assert r.exit_code == 2 and "which the hardened units cannot see" in r.stderr


# -- 12. TLS to central ------------------------------------------------------------------------------------------

def test_central_ca_is_stored_and_verify_full_delivers(tmp_path, tmp_path_factory, rtsp_server, pg_factory):
    srv = pg_factory()
    certs = tmp_path_factory.mktemp("certs")
    tls_only(srv, certs)
    admin = f"host={srv.dir}/sock port={srv.port} user=postgres dbname=central"
    migrate_central(admin)
    create_device_role(admin, "box1", PASSWORD)
    dsn = f"postgresql://box_box1:{PASSWORD}@localhost:{srv.port}/central?hostaddr=127.0.0.1"
    r = provision(tmp_path, "--yes", "--central-dsn", dsn, "--central-ca", certs / "central-ca.crt",
                  cameras=[f"door={rtsp_server.url}"])
    assert r.exit_code == 0, r.output
    assert "central reachable and writable by this box" in r.output
    stored = tomllib.loads((tmp_path / "etc/edge-counter/secrets.toml").read_text())["sync"]["dsn"]
    assert "sslmode=verify-full" in stored and "sslrootcert=/etc/edge-counter/central-ca.pem" in stored
    assert (tmp_path / "etc/edge-counter/central-ca.pem").read_bytes() == (certs / "central-ca.crt").read_bytes()


@pytest.mark.parametrize("dsn, expected", [
    ("postgresql://box_box1:pw@central.example:5432/edge", "give --central-ca FILE"),
    ("postgresql://box_box1:pw@central.example:5432/edge?sslmode=require", "sslmode=require, which does not verify"),
    ("postgresql://box_box1:pw@192.0.2.7/edge?sslmode=disable", "sslmode=disable, which does not verify"),
])
def test_a_dsn_that_would_not_verify_a_remote_central_is_refused(tmp_path, rtsp_server, dsn, expected):
    r = provision(tmp_path, "--yes", "--central-dsn", dsn, cameras=[f"door={rtsp_server.url}"])
    assert r.exit_code == 2 and expected in r.stderr and ":pw@" not in r.stderr
    assert not (tmp_path / "etc").exists()
    # what --insecure would store (no connection made here: tests stay on loopback)
    assert storable_dsn(dsn, "--central-dsn", None, insecure=True) == dsn
    assert "sslmode=verify-full" in storable_dsn(dsn, "--central-dsn", Path("/etc/edge-counter/central-ca.pem"),
                                                 insecure=False)


# -- no input gives a traceback ---------------------------------------------------------------------------------------

HOSTILE: list[list[str]] = [
    ["--device-id", "Shop12"], ["--device-id", "shop 12"], ["--device-id", "x" * 70], ["--device-id", "../etc"],
    ["--device-id", "a\nb"],
    ["--camera", "Eingang Süd=rtsp://127.0.0.1/x"], ["--camera", "../x=rtsp://127.0.0.1/x"],
    ["--camera", "a/b=rtsp://127.0.0.1/x"], ["--camera", "x:y=rtsp://127.0.0.1/x"], ["--camera", "=rtsp://h/x"],
    ["--camera", "\u202eevil=rtsp://127.0.0.1/x"], ["--camera", "door"], ["--camera", "door=ftp://127.0.0.1/x"],
    ["--camera", "door=rtsp://"], ["--camera", "door=rtsp://127.0.0.1:99999/x"],
    ["--camera", "door=rtsp://127.0.0.1:abc/x"], ["--camera", "door=rtsp://[::1/x"],
    ["--camera", "door=rtsp://u:pw@/x"], ["--camera", "door=rtsp://a b/x"], ["--camera", "door=rtsp://u:p\x01w@h/x"],
    ["--line", "door:0,150,480,150"], ["--line", "door:x:1,2,3"], ["--line", "door:x:a,b,c,d"],
    ["--line", "door:x:nan,1,2,3"], ["--line", "door:x:1,1,1,1"], ["--line", "door:../x:0,1,2,3"],
    ["--line", "nocam:x:0,1,2,3"], ["--line", "door:a b:0,1,2,3"],
    ["--config-dir", "relative/dir"], ["--config-dir", "/etc/\x01x"], ["--model", "/nonexistent/yolox_nano.onnx"],
    ["--model", "http://127.0.0.1:1/yolox_nano.onnx"], ["--model", "x\x02y"], ["--central-ca", "/nonexistent.pem"],
    ["--prefix", "relative/prefix"], ["--prefix", "/home/someone/venv"], ["--remove-camera", "nosuch"],
    ["--central-dsn", "postgresql://u:pw@central.example/db"], ["--central-dsn", "not a dsn ==="],
    ["--admin-dsn", "postgresql://u:pw@central.example/db?sslmode=prefer"],
    ["--camera-timeout", "nan"],
]


def test_hostile_input_gets_one_line_and_leaves_the_root_untouched(tmp_path, rtsp_server):
    root = image(tmp_path / "root")
    before = files_under(root)
    for flags in HOSTILE:
        args = ["provision", "--yes", "--root", root]
        if not any(f in ("--camera", "--line") for f in flags[::2]):
            args += ["--camera", f"door={rtsp_server.url}"]
        elif "--line" in flags:
            args += ["--camera", f"door={rtsp_server.url}"]
        r = edge(*args, *flags)
        assert r.exit_code == 2, (flags, r.output)
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, (flags, r.stderr)
        assert "Traceback" not in r.output and "pw@" not in r.stderr, (flags, r.stderr)
        assert files_under(root) == before, flags
    r = edge("provision", "--yes", "--root", "/dev/null", "--camera", f"door={rtsp_server.url}")
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("error: ")
