"""`edge provision` against a real RTSP server, into a temporary root; every bad input."""

from __future__ import annotations

import socket
import stat
import sys
import threading
import tomllib
from pathlib import Path

import cv2
import numpy as np
from typer.testing import CliRunner

from edge.cli import app
from edge.config import load_config
from edge.web.auth import verify_password
from provisioning.snapshot import LINE_COLOUR
from tests.support import free_port
from tests.support.rtsp import Rtsp401

LINE = "door:entrance:0,150,480,150"


def edge(*args: object, input: str | None = None, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input, env=env)


def image(root: Path) -> Path:
    """`root` as an image with edge-counter installed at /opt/edge-counter (this installation, linked)."""
    binary = root / "opt/edge-counter/bin/edge"
    if not binary.exists():
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.symlink_to(Path(sys.executable).with_name("edge"))
    return root


def provision(root: Path, *extra: object, cameras: list[str], lines: tuple[str, ...] = (LINE,), input=None):
    args: list[object] = ["provision", "--root", image(root), "--device-id", "box1", "--camera-timeout", 15]
    for c in cameras:
        args += ["--camera", c]
    for ln in lines:
        args += ["--line", ln]
    return edge(*args, *extra, input=input)


def snapshot_has_line(png: Path, x1: int, y1: int, x2: int, y2: int) -> float:
    """Fraction of points along the segment painted in the line colour."""
    img = cv2.imread(str(png))
    pts = [(round(x1 + (x2 - x1) * t), round(y1 + (y2 - y1) * t)) for t in np.linspace(0.02, 0.98, 200)]
    hits = sum(1 for x, y in pts if np.abs(img[min(y, img.shape[0] - 1), min(x, img.shape[1] - 1)].astype(int)
                                           - LINE_COLOUR).max() < 40)
    return hits / len(pts)


def service_ids(root: Path) -> tuple[int, int]:
    """The ids of user edge-counter in the image's own /etc/passwd."""
    line = next(ln for ln in (root / "etc/passwd").read_text().splitlines() if ln.startswith("edge-counter:"))
    return int(line.split(":")[2]), int(line.split(":")[3])


def test_full_provisioning_then_rerun_is_a_no_op(tmp_path, rtsp_server, model_path):
    url = rtsp_server.url.replace("rtsp://", "rtsp://admin:s3cret@")  # the test server ignores credentials
    r = provision(tmp_path, "--yes", "--model", model_path.parent, "--web-password", "correct horse",
                  cameras=[f"door={url}"])
    assert r.exit_code == 0, r.output
    assert "camera door: 480x360" in r.output and "all checks passed" in r.output
    assert "s3cret" not in r.output
    # it ends with the web page's address, and how to reach it from a laptop (loopback by default)
    assert r.output.strip().splitlines()[-1].startswith("web page: http://127.0.0.1:8080/ on the box; from a "
                                                        "laptop: ssh -L 8080:127.0.0.1:8080 root@BOX")

    config = tmp_path / "etc/edge-counter/box.toml"
    secrets = tmp_path / "etc/edge-counter/secrets.toml"
    assert "s3cret" not in config.read_text()
    uid, gid = service_ids(tmp_path)  # the user was created in the image, not on this machine
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o640 and (secrets.stat().st_uid, secrets.stat().st_gid) == (0, gid)
    # the web page's line editor (edge run, as edge-counter) may replace box.toml, and no other file there: the
    # folder is sticky, so the service cannot rename over root's secrets; its unit may write the folder
    assert stat.S_IMODE(config.stat().st_mode) == 0o644 and (config.stat().st_uid, config.stat().st_gid) == (uid, gid)
    folder = config.parent.stat()
    assert stat.S_IMODE(folder.st_mode) == 0o1775 and (folder.st_uid, folder.st_gid) == (0, gid)
    assert "ReadWritePaths=/etc/edge-counter\n" in (tmp_path / "etc/systemd/system/edge-run.service").read_text()
    assert tomllib.loads(secrets.read_text())["cameras"]["door"]["source"] == url
    box = tomllib.loads(config.read_text())
    assert box["device_id"] == "box1" and box["cameras"][0]["lines"][0]["name"] == "entrance"
    # the written config is valid for `edge run` (paths as on the box, secrets overlaid)
    box["secrets_file"] = str(secrets)
    (tmp_path / "check.toml").write_text(config.read_text().replace('"/etc/edge-counter/secrets.toml"', f'"{secrets}"'))
    loaded = load_config(tmp_path / "check.toml")
    assert loaded.cameras[0].source == url
    # the web page's password: only its hash, in the secrets file, never shown
    assert loaded.web.password_hash and verify_password("correct horse", loaded.web.password_hash)
    assert all("correct horse" not in text for text in (r.output, config.read_text(), secrets.read_text()))

    png = tmp_path / "var/lib/edge-counter/snapshots/door.png"
    assert png.is_file() and snapshot_has_line(png, 0, 150, 480, 150) > 0.8
    # people are in the picture: readable by the service only
    assert stat.S_IMODE(png.stat().st_mode) == 0o640 and stat.S_IMODE(png.parent.stat().st_mode) == 0o750
    assert (png.stat().st_uid, png.stat().st_gid) == (uid, gid) == (png.parent.stat().st_uid, png.parent.stat().st_gid)
    assert (tmp_path / "var/lib/edge-counter/models/yolox_nano.onnx").is_file()
    assert (tmp_path / "var/lib/edge-counter/buffer.sqlite").is_file()
    unit = (tmp_path / "etc/systemd/system/edge-run.service").read_text()
    assert "run --config /etc/edge-counter/box.toml" in unit and "Restart=on-failure" in unit
    assert (tmp_path / "etc/systemd/system/edge-sync.service").is_file()

    written = {p: p.stat().st_mtime_ns for p in (config, secrets, tmp_path / "etc/systemd/system/edge-run.service")}
    again = provision(tmp_path, "--yes", "--model", model_path.parent, cameras=[f"door={url}"])
    assert again.exit_code == 0, again.output
    assert "config /etc/edge-counter/box.toml unchanged" in again.output and "already installed" in again.output
    assert {p: p.stat().st_mtime_ns for p in written} == written  # the password's hash was kept, too
    same = edge("provision", "--root", tmp_path, "--device-id", "box1", "--yes", "--camera", f"door={url}",
                "--line", LINE, env={"EDGE_WEB_PASSWORD": "correct horse"})  # from the environment
    assert same.exit_code == 0 and "secrets /etc/edge-counter/secrets.toml (mode 0640, readable by the service " \
        "only) unchanged" in same.output, same.output
    changed = provision(tmp_path, "--yes", "--web-password", "another horse", cameras=[f"door={url}"])
    assert changed.exit_code == 0 and "secrets /etc/edge-counter/secrets.toml (mode 0640, readable by the " \
        "service only) written" in changed.output, changed.output
    hashed = tomllib.loads(secrets.read_text())["web"]["password_hash"]
    assert verify_password("another horse", hashed) and not verify_password("correct horse", hashed)


def test_a_short_web_password_is_refused_before_anything_is_written(tmp_path, rtsp_server):
    r = provision(tmp_path, "--yes", "--web-password", "short", cameras=[f"door={rtsp_server.url}"])
    assert r.exit_code == 2
    assert r.output.strip() == "error: the web page password is too short: use at least 8 characters"
    assert not (tmp_path / "etc").exists()


def test_interactive_flow(tmp_path, rtsp_server):
    answers = "\n".join([
        "Box 7",                     # device id: refused (a slug is proposed), asked again
        "box7",
        "Eingang Süd",               # camera name: refused (no spaces), asked again
        "Tür",
        rtsp_server.url,             # checked at once: the frame size is shown before the lines are asked for
        "bad line",                  # rejected, asked again
        "far:600,400,900,400",       # entirely outside the 480x360 frame: rejected, asked again
        "entrance:0,150,480,150",
        "",                          # no more lines
        "",                          # no other camera
        "",                          # no model
        "",                          # no admin DSN
        "",                          # no central database
        "a long password",           # web page password ...
        "a long password",           # ... repeated
        "y",                         # confirm
    ]) + "\n"
    r = edge("provision", "--root", image(tmp_path), "--camera-timeout", 15, input=answers)
    assert r.exit_code == 0, r.output
    assert "e.g. 'box-7'" in r.output and "e.g. 'Eingang_Süd'" in r.output and "is malformed" in r.output
    assert r.output.index("Tür: 480x360 frame") < r.output.index("Counting line for Tür")
    assert "lies entirely outside the 480x360 frame" in r.output
    box = tomllib.loads((tmp_path / "etc/edge-counter/box.toml").read_text())
    assert box["device_id"] == "box7" and box["cameras"][0]["source"] == rtsp_server.url
    assert box["cameras"][0]["name"] == "Tür" and [ln["name"] for ln in box["cameras"][0]["lines"]] == ["entrance"]
    assert "no central database given: counts will be buffered" in r.output
    assert "not registered in central (no --admin-dsn)" in r.output  # said plainly, also interactively
    assert (tmp_path / "var/lib/edge-counter/snapshots/Tür.png").is_file()
    assert "a long password" not in r.output
    secrets = tomllib.loads((tmp_path / "etc/edge-counter/secrets.toml").read_text())
    assert verify_password("a long password", secrets["web"]["password_hash"])


def test_line_outside_the_frame_skips_that_camera_only(tmp_path, rtsp_server):
    r = provision(tmp_path, "--yes", cameras=[f"door={rtsp_server.url}", f"yard={rtsp_server.url}"],
                  lines=[LINE, "yard:far:600,400,900,400"])
    assert r.exit_code == 1
    assert "line 'far'" in r.output and "entirely outside the 480x360 frame" in r.output
    box = tomllib.loads((tmp_path / "etc/edge-counter/box.toml").read_text())
    assert [c["name"] for c in box["cameras"]] == ["door"]


def test_unreachable_camera_is_reported_and_the_others_provisioned(tmp_path, rtsp_server):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"rtsp://127.0.0.1:{s.getsockname()[1]}/cam"
    r = provision(tmp_path, "--yes", cameras=[f"door={rtsp_server.url}", f"back={dead}"], lines=[LINE])
    assert r.exit_code == 1
    assert "camera back: nothing listens on 127.0.0.1" in r.output
    assert "camera door: 480x360" in r.output
    box = tomllib.loads((tmp_path / "etc/edge-counter/box.toml").read_text())
    assert {c["name"] for c in box["cameras"]} == {"door", "back"}  # back retried at run time


def test_wrong_credentials_are_named(tmp_path):
    srv = Rtsp401()
    r = provision(tmp_path, "--yes", cameras=[f"door=rtsp://admin:Xq7pw9Z@127.0.0.1:{srv.port}/cam"])
    srv.sock.close()
    assert r.exit_code == 1
    assert "refused access (401 Unauthorized): check the user name or password in the URL" in r.output
    assert "Xq7pw9Z" not in r.output  # the password is never shown


def test_duplicate_camera_name_writes_nothing(tmp_path, rtsp_server):
    r = provision(tmp_path, "--yes", cameras=[f"door={rtsp_server.url}", f"door={rtsp_server.url}"])
    assert r.exit_code == 2 and "camera name 'door' is given twice" in r.stderr
    assert not (tmp_path / "etc").exists()


def test_duplicate_line_name_writes_nothing(tmp_path, rtsp_server):
    r = provision(tmp_path, "--yes", cameras=[f"door={rtsp_server.url}"], lines=[LINE, "door:entrance:0,10,480,10"])
    assert r.exit_code == 2 and "line name 'entrance' is given twice" in r.stderr
    assert not (tmp_path / "etc").exists()


def test_bad_dsn_writes_nothing(tmp_path, rtsp_server):
    r = provision(
        tmp_path,
        "--yes",
        "--central-dsn",
        "postgresql://box:pw@127.0.0.1:5432/db?sslmode=bogus=x",
        cameras=[f"door={rtsp_server.url}"],
    )
    assert r.exit_code == 2 and "--central-dsn is not a valid PostgreSQL DSN" in r.stderr
    assert "pw" not in r.stderr.replace("postgresql://USER:PASSWORD", "")
    assert not (tmp_path / "etc").exists()


def test_model_with_wrong_checksum_is_refused(tmp_path, rtsp_server, model_path):
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "yolox_nano.onnx").write_bytes(model_path.read_bytes()[:-10] + b"0123456789")
    root = tmp_path / "root"
    r = provision(root, "--yes", "--model", usb, cameras=[f"door={rtsp_server.url}"])
    assert r.exit_code == 2 and "refusing it" in r.stderr and "sha256" in r.stderr
    assert not (root / "etc").exists()
    assert not (root / "var").exists()  # no model, not even its folder


def test_model_from_url(tmp_path, rtsp_server, model_path):
    import functools
    import http.server

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(model_path.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/yolox_nano.onnx"
        r = provision(tmp_path, "--yes", "--model", url, cameras=[f"door={rtsp_server.url}"])
    finally:
        httpd.shutdown()
    assert r.exit_code == 0, r.output
    assert "model yolox_nano.onnx installed (sha256 verified)" in r.output


def test_unwritable_config_dir_writes_nothing(tmp_path, rtsp_server):
    (tmp_path / "etc").write_text("a file where a directory should be")
    r = provision(tmp_path, "--yes", cameras=[f"door={rtsp_server.url}"])
    assert r.exit_code == 2 and "cannot write to" in r.stderr and "--config-dir" in r.stderr
    assert not (tmp_path / "var").exists()


def test_provisioning_against_a_real_central_database(tmp_path, rtsp_server, pg_dsn):
    import psycopg

    from sync.central.migrate import migrate

    migrate(pg_dsn)
    args = ["--yes", "--admin-dsn", pg_dsn]
    r = provision(tmp_path, *args, cameras=[f"door={rtsp_server.url}"], lines=[LINE, "door:exit:0,300,480,300"])
    assert r.exit_code == 0, r.output
    assert "central role box_box1 ready" in r.output and "registered in central" in r.output
    assert "central reachable and writable by this box" in r.output
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT camera_id, camera_name, is_active FROM camera_configurations").fetchall() == [
            ("box1/door", "door", True)
        ]
        assert conn.execute("SELECT line_name, x1, y1, x2, y2 FROM counting_lines ORDER BY 1").fetchall() == [
            ("entrance", 0, 150, 480, 150),
            ("exit", 0, 300, 480, 300),
        ]
    secrets = tmp_path / "etc/edge-counter/secrets.toml"
    box_dsn = tomllib.loads(secrets.read_text())["sync"]["dsn"]
    assert "user=box_box1" in box_dsn or "box_box1@" in box_dsn
    with psycopg.connect(box_dsn) as conn:  # the box's own role logs in
        assert conn.execute("SELECT current_user").fetchone()[0] == "box_box1"

    before = secrets.read_bytes()
    again = provision(tmp_path, *args, cameras=[f"door={rtsp_server.url}"], lines=[LINE])  # exit line removed
    assert again.exit_code == 0, again.output
    assert secrets.read_bytes() == before  # same role, same password: nothing rewritten
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT line_name, is_active FROM counting_lines ORDER BY 1").fetchall() == [
            ("entrance", True),
            ("exit", False),
        ]


def test_unreachable_central_still_provisions_and_buffers(tmp_path, rtsp_server):
    dead = f"postgresql://box_box1:pw@127.0.0.1:{free_port()}/edge"
    r = provision(tmp_path, "--yes", "--central-dsn", dead, cameras=[f"door={rtsp_server.url}"])
    assert r.exit_code == 0, r.output
    assert "central unreachable: counts will be buffered" in r.output
    assert ":pw@" not in r.output
