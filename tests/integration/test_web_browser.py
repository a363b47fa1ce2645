"""The web page in a real browser (Debian's Chromium, headless, driven by Playwright) against `edge run` serving a
real RTSP camera (the looping PETS footage): log in, watch the picture, draw a line with the mouse and drag an end,
save it, and see PETS people counted on it; wrong password, missing CSRF token; the camera's password never
reaches the browser. The screenshot in the README is taken here: into docs/web-page.jpg with
EDGE_SCREENSHOT=1 (the picture is live, so a plain test run would change the file every time)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import tomllib
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from edge.web.auth import hash_password
from models.paths import REPO_ROOT
from tests.support import free_port
from tests.support.web import EdgeRun, launch_chromium, write_box

PASSWORD = "open sesame 12"
CAMERA_PASSWORD = "cam-Pa55word"
SCREENSHOT = REPO_ROOT / "docs" / "web-page.jpg"
UPDATE_SCREENSHOT = os.environ.get("EDGE_SCREENSHOT") == "1"
# The new line: from A to B in the camera's pixels, across the plaza where the PETS people walk. It is drawn
# with B elsewhere, then B is dragged here.
A, B, B_FIRST = (240, 50), (240, 340), (330, 300)


def crossings(db: Path, line: str, since_us: int) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT COUNT(*) FROM crossings WHERE line = ? AND ts_us >= ?",
                            (line, since_us)).fetchone()[0]


def on_screen(page: Page, x: float, y: float) -> tuple[float, float]:
    """Where camera pixel (x, y) is on the screen, however large the canvas is shown."""
    box = page.locator('section[data-camera="door"] canvas').bounding_box()
    assert box is not None
    return box["x"] + x * box["width"] / 480, box["y"] + y * box["height"] / 360


def picture(page: Page) -> str:
    return page.evaluate("() => document.querySelector('section[data-camera=\"door\"] canvas').toDataURL()")


@pytest.fixture
def box(tmp_path, rtsp_server):
    source = rtsp_server.url.replace("rtsp://", f"rtsp://admin:{CAMERA_PASSWORD}@")  # the server takes any
    port = free_port()
    config = write_box(tmp_path, source, port, hash_password(PASSWORD),
                       lines='{ name = "h300", a = [0, 300], b = [200, 300] }')
    run = EdgeRun(config, tmp_path / "edge-run.log", port).wait_ready()
    yield config, run, tmp_path / "buffer.sqlite"
    code = run.stop()
    assert code == 0, (tmp_path / "edge-run.log").read_text()


def test_an_installer_draws_a_line_on_the_live_picture_and_people_are_counted_on_it(box):
    config, run, db = box
    bodies: list[str] = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 960, "height": 900})  # the canvas is shown wider than 480

        def keep(response) -> None:
            if "image/" not in response.headers.get("content-type", ""):
                try:
                    bodies.append(response.text())
                except Exception:  # a redirect has no body
                    pass

        page.on("response", keep)
        page.goto(f"{run.url}/")
        assert page.url.endswith("/login")

        # a wrong password is refused
        page.fill("#password", "not the password")
        page.click("#login")
        assert page.url.endswith("/login") and page.inner_text("#login-error") == "wrong password"

        page.fill("#password", PASSWORD)
        page.click("#login")
        canvas = page.locator('section[data-camera="door"] canvas')
        canvas.wait_for()
        assert page.url == f"{run.url}/"

        # the live picture changes: two JPEGs of the camera differ, and so does the canvas
        with page.expect_response(lambda r: "/frame.jpg" in r.url, timeout=20_000) as first:
            pass
        before, jpeg1 = picture(page), first.value.body()
        with page.expect_response(lambda r: "/frame.jpg" in r.url, timeout=20_000) as second:
            pass
        page.wait_for_timeout(300)
        assert second.value.body() != jpeg1 and picture(page) != before
        assert page.locator('section[data-camera="door"] .status').inner_text() == "online"

        # draw a line with the mouse: two clicks, then drag its end B
        box = canvas.bounding_box()
        assert box is not None and abs(box["width"] - 480) > 50  # shown at another size than the camera's
        page.click('section[data-camera="door"] button.edit')
        page.mouse.click(*on_screen(page, *A))
        page.mouse.click(*on_screen(page, *B_FIRST))
        row = page.locator('section[data-camera="door"] .line-row').nth(1)
        row.wait_for()
        page.mouse.move(*on_screen(page, *B_FIRST))
        page.mouse.down()
        page.mouse.move(*on_screen(page, 285, 320), steps=5)
        page.mouse.move(*on_screen(page, *B), steps=5)
        page.mouse.up()
        row.locator("input.name").fill("web1")
        shown = row.locator(".coords").inner_text()  # the camera's pixels, not the screen's
        row.locator("button.flip").click()  # A and B swap (in and out change places) ...
        a_part, b_part = shown.split(" → ")
        assert row.locator(".coords").inner_text() == f"A {b_part[2:]} → B {a_part[2:]}"
        row.locator("button.flip").click()  # ... and back
        assert row.locator(".coords").inner_text() == shown
        ax, ay, bx, by = map(int, re.findall(r"-?\d+", shown))
        assert max(abs(ax - A[0]), abs(ay - A[1]), abs(bx - B[0]), abs(by - B[1])) <= 2, shown

        # save: box.toml holds the new line, keeps its comments and other settings, and counting uses it
        with page.expect_response(lambda r: r.url.endswith("/lines") and r.request.method == "PUT") as saved:
            page.click('section[data-camera="door"] button.save')
        assert saved.value.status == 200, saved.value.text()
        effective_us = saved.value.json()["effective_us"]
        page.locator('section[data-camera="door"] .message.saved').wait_for()
        text = config.read_text()
        assert "# the test shop's box" in text and "# over the front door" in text and "port = " in text
        lines = tomllib.loads(text)["cameras"][0]["lines"]
        assert lines == [{"name": "h300", "a": [0, 300], "b": [200, 300]},
                         {"name": "web1", "a": [ax, ay], "b": [bx, by]}]

        # a PETS person walks over it: counted on web1 from then on, shown on the page in test mode
        page.click('section[data-camera="door"] button.test')
        deadline = 90_000  # the footage loops every 80 s; people cross x = 240 many times a loop
        page.wait_for_function("() => [...document.querySelectorAll('section[data-camera=\"door\"] .recent li')]"
                               ".some(li => li.textContent.includes(' web1 '))", timeout=deadline)
        assert crossings(db, "web1", effective_us) >= 1
        assert crossings(db, "web1", 0) == crossings(db, "web1", effective_us)  # none before it was saved
        page.locator('section[data-camera="door"] tr[data-line="web1"]').wait_for()
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            assert conn.execute("SELECT ts_us, x1, y1, x2, y2, active FROM line_versions WHERE line = 'web1'"
                                ).fetchall() == [(effective_us, ax, ay, bx, by, 1)]
        page.wait_for_timeout(500)
        shot = page.screenshot(path=str(SCREENSHOT) if UPDATE_SCREENSHOT else None, full_page=True, type="jpeg",
                               quality=70)
        assert shot[:2] == b"\xff\xd8"  # the page renders to a picture

        # a write without the CSRF token is refused (the browser's session cookie alone is not enough)
        refused = page.request.put(f"{run.url}/api/cameras/door/lines", headers={"Content-Type": "application/json"},
                                   data=json.dumps({"lines": []}))
        assert refused.status == 403 and "CSRF" in refused.text()
        assert tomllib.loads(config.read_text())["cameras"][0]["lines"] == lines

        bodies.append(page.content())
        browser.close()
    # the camera's password never reached the browser: not in a page, a script, the state or an error
    assert len(bodies) > 10
    assert not [b for b in bodies if CAMERA_PASSWORD in b]
    assert run.alive()
