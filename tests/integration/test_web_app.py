"""The web page's HTTP side over a real Runner (not running: its camera is the PETS file, its line changes are
taken as the main loop takes them): login, throttle, sessions, CSRF, saving lines into box.toml with the config
loader's errors, /metrics, and every malformed request answered with a 4xx and one line."""

from __future__ import annotations

import re
import tomllib
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from edge.config import load_config
from edge.counting.line import Line
from edge.errors import EdgeError
from edge.run.loop import LiveView, Runner
from edge.video.source import Frame
from edge.vision.detections import Tracks
from edge.web.app import WebApp
from edge.web.auth import hash_password
from edge.web.lines import save_lines
from provisioning.box_files import Change, Installed, merge, render_box

PASSWORD = "correct horse battery"
CAMERA_PASSWORD = "s3cret-cam-pw"


class NotRun:
    name = "not-run"

    def __call__(self, image):
        raise AssertionError("the runner does not run here")


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def box(tmp_path: Path, pets_video: Path, password_hash: str):
    """A box.toml with comments, its secrets file (camera password, web password hash) and a Runner on it."""
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[cameras.door]\nsource = "{pets_video}"\n[web]\npassword_hash = "{password_hash}"\n'
                       f'[sync]\ndsn = "postgresql://box:{CAMERA_PASSWORD}@127.0.0.1/central"\n')
    config = tmp_path / "box.toml"
    config.write_text(f'# shop 12, back door\ndevice_id = "box1"\nsecrets_file = "{secrets}"\n\n'
                      '[[cameras]]\nname = "door"  # over the back door\nsource = "rtsp://admin@127.0.0.1/cam"\n'
                      'lines = [{ name = "v240", a = [240, 60], b = [240, 330] }]\n\n'
                      f'[buffer]\npath = "{tmp_path / "b.sqlite"}"  # on the SSD\n\n[web]\nlogin_failures = 3\n')
    runner = Runner(load_config(config), detector=NotRun())
    image = np.zeros((360, 480, 3), np.uint8)
    runner.cameras[0].view = LiveView(Frame(7, 1_000_000, image), Tracks.empty())
    applied: list[tuple[str, list[Line]]] = []

    def change_lines(camera: str, lines: list[Line]) -> Future[int]:  # as the main loop takes them
        applied.append((camera, lines))
        done: Future[int] = Future()
        done.set_result(1_000_001)
        return done

    runner.change_lines = change_lines  # type: ignore[method-assign]
    yield config, runner, applied
    runner.buffer.close()


def client(config: Path, runner: Runner) -> TestClient:
    return TestClient(WebApp(runner, config).app(), base_url="http://127.0.0.1:8080")


def login(c: TestClient, password: str = PASSWORD):
    form = c.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return c.post("/login", data={"csrf": token, "password": password}, follow_redirects=False)


def csrf_of(c: TestClient) -> str:
    return re.search(r'name="csrf-token" content="([^"]+)"', c.get("/").text).group(1)


def one_line(r, status: int, *words: str) -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert "\n" not in r.text.strip() and r.text.strip(), r.text
    for w in words:
        assert w in r.text, r.text


def test_everything_but_login_and_metrics_needs_the_password(box):
    config, runner, _ = box
    with client(config, runner) as c:
        assert c.get("/", follow_redirects=False).headers["location"] == "/login"
        for path in ("/api/state", "/api/cameras/door/frame.jpg"):
            one_line(c.get(path), 401, "log in first")
        one_line(c.put("/api/cameras/door/lines", json={"lines": []}), 401, "log in first")
        assert c.get("/metrics").status_code == 200
        wrong = login(c, "wrong password")  # the login page again, saying why
        assert wrong.status_code == 401 and '<p class="error" id="login-error">wrong password</p>' in wrong.text
        r = login(c)
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert c.get("/api/state").status_code == 200
        assert c.get("/api/cameras/door/frame.jpg").headers["content-type"] == "image/jpeg"
        c.post("/logout", data={"csrf": csrf_of(c)})
        one_line(c.get("/api/state"), 401, "log in first")


def test_failed_logins_are_throttled_even_for_the_right_password(box):
    config, runner, _ = box
    with client(config, runner) as c:
        for _ in range(3):  # [web] login_failures = 3
            assert login(c, "guess").status_code == 401
        r = login(c)
        assert r.status_code == 429 and "too many failed logins: try again in" in r.text
        assert c.get("/api/state").status_code == 401


def test_a_login_without_the_forms_token_is_refused(box):
    config, runner, _ = box
    with client(config, runner) as c:
        r = c.post("/login", data={"csrf": "made-up", "password": PASSWORD}, follow_redirects=False)
        assert r.status_code == 403 and "the login form expired" in r.text
        assert c.get("/api/state").status_code == 401


def test_no_password_set_means_nobody_logs_in(box, tmp_path):
    config, runner, _ = box
    runner.config = runner.config.model_copy(update={"web": runner.config.web.model_copy(
        update={"password_hash": None})})
    with client(config, runner) as c:
        r = login(c, "")
        assert r.status_code == 403 and "no web password is set on this box" in r.text


def test_writes_need_the_csrf_token(box):
    config, runner, applied = box
    before = config.read_text()
    body = {"lines": [{"name": "door", "a": [0, 200], "b": [480, 200]}]}
    with client(config, runner) as c:
        login(c)
        one_line(c.put("/api/cameras/door/lines", json=body), 403, "CSRF")
        one_line(c.put("/api/cameras/door/lines", json=body, headers={"X-CSRF-Token": "forged"}), 403, "CSRF")
        one_line(c.post("/logout", data={"csrf": "forged"}), 403, "CSRF")
    assert config.read_text() == before and applied == []


def test_saved_lines_go_into_box_toml_with_its_comments_and_into_the_runner(box):
    config, runner, applied = box
    lines = [{"name": "door", "a": [10, 200], "b": [470, 210]}, {"name": "v240", "a": [240, 330], "b": [240, 60]}]
    with client(config, runner) as c:
        login(c)
        r = c.put("/api/cameras/door/lines", json={"lines": lines}, headers={"X-CSRF-Token": csrf_of(c)})
    assert r.status_code == 200, r.text
    assert r.json()["effective_us"] == 1_000_001
    text = config.read_text()
    for comment in ("# shop 12, back door", "# over the back door", "# on the SSD"):
        assert comment in text
    saved = tomllib.loads(text)
    assert saved["cameras"][0]["lines"] == lines and saved["web"] == {"login_failures": 3}
    assert load_config(config).cameras[0].lines[0].to_line() == Line("door", 10, 200, 470, 210)
    assert applied == [("door", [Line("door", 10, 200, 470, 210), Line("v240", 240, 330, 240, 60)])]


@pytest.mark.parametrize("lines, where", [
    ([{"name": "a", "a": [0, 0], "b": [0, 0]}], "cameras[0].lines[0]: line 'a' has zero length"),
    ([{"name": "x", "a": [0, 1], "b": [9, 9]}, {"name": "x", "a": [1, 1], "b": [5, 5]}],
     "cameras[0].lines: line name 'x' is used twice"),
    ([{"name": "bad name!", "a": [0, 1], "b": [9, 9]}], "cameras[0].lines[0].name: line name 'bad name!' is invalid"),
    ([{"name": "x", "a": [0, 1]}], "cameras[0].lines[0].b: Field required"),
    ([{"name": "x", "a": [0, 1], "b": [9, 9], "colour": "red"}], "cameras[0].lines[0].colour: unknown key"),
    ([{"name": "x", "a": ["left", 1], "b": [9, 9]}], "cameras[0].lines[0].a[0]: Input should be a valid number"),
])
def test_lines_are_refused_with_the_config_loaders_one_line_errors(box, lines, where):
    config, runner, applied = box
    before = config.read_text()
    with client(config, runner) as c:
        login(c)
        r = c.put("/api/cameras/door/lines", json={"lines": lines}, headers={"X-CSRF-Token": csrf_of(c)})
    one_line(r, 422, f"{config}: {where}")
    # exactly what the loader says of a box.toml holding them
    bad = config.parent / "bad.toml"
    bad.write_text(before.replace('lines = [{ name = "v240", a = [240, 60], b = [240, 330] }]',
                                  "lines = " + _toml_lines(lines)))
    with pytest.raises(EdgeError) as loader:
        load_config(bad)
    assert r.text == str(loader.value).replace(str(bad), str(config))
    assert config.read_text() == before and applied == []


def _toml_lines(lines: list[dict]) -> str:
    def value(v: object) -> str:
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return f'"{v}"' if isinstance(v, str) else str(v)

    return "[" + ", ".join("{ " + ", ".join(f"{k} = {value(v)}" for k, v in ln.items()) + " }" for ln in lines) + "]"


def test_a_line_outside_the_picture_is_refused(box):
    config, runner, applied = box
    with client(config, runner) as c:
        login(c)
        r = c.put("/api/cameras/door/lines", json={"lines": [{"name": "far", "a": [600, 400], "b": [900, 400]}]},
                  headers={"X-CSRF-Token": csrf_of(c)})
    one_line(r, 422, "camera door: line 'far'", "entirely outside the 480x360 frame")
    assert applied == []


@pytest.mark.parametrize("body, content_type, status, words", [
    (b"{not json", "application/json", 400, ["request body is not valid JSON"]),
    (b'{"lines": [{"name": "x", "a": [NaN, 1], "b": [2, 3]}]}', "application/json", 400, ["NaN is not a coordinate"]),
    (b'{"lines": {"name": "x"}}', "application/json", 400, ['request body must be {"lines"']),
    (b'[1, 2]', "application/json", 400, ['request body must be {"lines"']),
    (b'{"lines": [], "extra": 1}', "application/json", 400, ['request body must be {"lines"']),
    (b'{"lines": [{"name": null, "a": [0, 1], "b": [2, 3]}]}', "application/json", 422, ["lines[0].name: null"]),
    (b'{"lines": [[[[[[[[1]]]]]]]]}', "application/json", 422, ["cameras[0].lines[0]"]),
    (b'\xff\xfe', "application/json", 400, ["not valid JSON"]),
    (b'{"lines": []}', "text/plain", 415, ["application/json"]),
    (b'{"lines": [' + b'{"name": "x", "a": [0, 1], "b": [2, 3]},' * 40 + b'{}]}', "application/json", 400,
     ["a camera takes at most 32"]),
    (b'{"lines": "' + b"x" * 70_000 + b'"}', "application/json", 413, ["request body over 65536 bytes"]),
])
def test_malformed_requests_get_a_4xx_and_one_line(box, body, content_type, status, words):
    config, runner, applied = box
    before = config.read_text()
    with client(config, runner) as c:
        login(c)
        r = c.put("/api/cameras/door/lines", content=body,
                  headers={"X-CSRF-Token": csrf_of(c), "Content-Type": content_type})
        one_line(r, status, *words)
        assert c.get("/api/state").status_code == 200  # still serving
    assert config.read_text() == before and applied == []


def test_unknown_cameras_paths_and_methods(box):
    config, runner, _ = box
    with client(config, runner) as c:
        login(c)
        one_line(c.get("/api/cameras/nope/frame.jpg"), 404, "no camera 'nope' on this box")
        one_line(c.put("/api/cameras/nope/lines", json={"lines": []}, headers={"X-CSRF-Token": csrf_of(c)}),
                 404, "no camera 'nope'")
        one_line(c.get("/nothing/here"), 404)
        one_line(c.delete("/api/state"), 405)
        one_line(c.post("/login", content=b"password=x", headers={"Content-Type": "text/plain"}), 415)


def test_the_page_state_and_metrics_never_carry_a_password(box, pets_video):
    config, runner, _ = box
    runner.cameras[0].stream.stats.error = f"cannot open rtsp://admin:{CAMERA_PASSWORD}@127.0.0.1/cam"
    with client(config, runner) as c:
        login(c)
        pages = [c.get(p).text for p in ("/", "/api/state", "/metrics", "/static/app.js", "/login")]
    for page in pages:
        assert CAMERA_PASSWORD not in page and "password_hash" not in page and "scrypt$" not in page
    assert str(pets_video) not in pages[1]  # the source is not shown at all
    assert "rtsp://admin:***@127.0.0.1/cam" in pages[1]


def test_metrics_parse_and_can_be_turned_off(box):
    config, runner, _ = box
    with client(config, runner) as c:
        text = c.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("edge_camera_frames_received", "edge_camera_frames_processed", "edge_camera_frames_detected",
                 "edge_camera_frames_dropped",
                 "edge_camera_reconnects", "edge_camera_status", "edge_camera_latency_seconds", "edge_crossings",
                 "edge_buffer_pending_rows", "edge_buffer_size_bytes", "edge_sync_lag_seconds",
                 "edge_sync_batches_sent", "edge_sync_retries", "edge_sync_dead_letter_rows"):
        assert name in families, name
    assert families["edge_crossings"].type == "counter"
    assert families["edge_camera_latency_seconds"].type == "histogram"
    runner.config = runner.config.model_copy(update={"web": runner.config.web.model_copy(update={"metrics": False})})
    with client(config, runner) as c:
        assert c.get("/metrics").status_code == 404


def test_an_error_of_ours_is_one_line_and_the_page_goes_on(box, monkeypatch):
    config, runner, _ = box
    app = WebApp(runner, config)
    calls = []

    def broken() -> dict:
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("a bug")
        return {"cameras": []}

    monkeypatch.setattr(app.state, "snapshot", broken)
    with TestClient(app.app(), base_url="http://127.0.0.1:8080") as c:
        login(c)
        r = c.get("/api/state")
        one_line(r, 500, "internal error (KeyError): see the edge run log")
        assert r.headers["x-frame-options"] == "DENY"
        assert c.get("/api/state").json() == {"cameras": []}


def test_lines_saved_into_a_config_written_by_edge_provision(tmp_path):
    """edge provision writes lines as [[cameras.lines]] tables: saving one camera's lines leaves the other's."""
    change = Change("box1", {"door": "rtsp://127.0.0.1/a", "yard": "rtsp://127.0.0.1/b"},
                    {"door": [Line("entrance", 0, 150, 480, 150), Line("exit", 0, 10, 480, 10)],
                     "yard": [Line("gate", 1, 2, 300, 4)]})
    path = tmp_path / "box.toml"
    path.write_bytes(render_box(merge(Installed(), change)[0]))
    assert "[[cameras.lines]]" in path.read_text()
    lines = save_lines(path, "door", [{"name": "web1", "a": [10, 20], "b": [30, 40]}], (480, 360))
    assert lines == [Line("web1", 10, 20, 30, 40)]
    config = load_config(path)
    assert [[ln.to_line() for ln in c.lines] for c in config.cameras] == [[Line("web1", 10, 20, 30, 40)],
                                                                         [Line("gate", 1, 2, 300, 4)]]
    assert path.read_text().startswith("# edge-counter box config, written by `edge provision`")
