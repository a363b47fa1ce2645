"""Line history: `edge run` stores a version of each line added, moved or removed; `edge sync` delivers them to
central, where the registry follows the newest version and the history keeps every geometry with its time."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from edge.config import parse_config
from edge.run.loop import Runner
from edge.store.buffer import Buffer
from sync.central.registry import register
from tests.support.sync import box_dsn, drain, migrate_central

pytestmark = pytest.mark.pg


def config_text(db: Path, video: Path, lines: str) -> str:
    return (f'device_id = "box1"\n[buffer]\npath = "{db}"\n[web]\nenabled = false\n'
            f'[[cameras]]\nname = "door"\nsource = "{video}"\nlines = [{lines}]\n')


class NotRun:
    name = "not-run"

    def __call__(self, image):
        raise AssertionError("these runners only start")


def start(db: Path, video: Path, lines: str) -> Runner:
    """A runner as `edge run` makes it at start (it stores the line versions); it never runs here."""
    runner = Runner(parse_config(config_text(db, video, lines)), detector=NotRun())
    runner.buffer.close()
    return runner


def versions(db: Path) -> list[tuple]:
    with Buffer(db) as b:
        return b.conn.execute("SELECT camera, line, x1, y1, x2, y2, active FROM line_versions ORDER BY seq").fetchall()


V240 = '{ name = "v240", a = [240, 60], b = [240, 330] }'
H150 = '{ name = "h150", a = [0, 150], b = [480, 150] }'
V300 = '{ name = "v240", a = [300, 60], b = [300, 330] }'
DOOR = '{ name = "door", a = [10, 300], b = [470, 300] }'


def test_a_restart_with_the_same_lines_stores_no_version_a_moved_one_does(tmp_path, pets_video):
    db = tmp_path / "b.sqlite"
    start(db, pets_video, f"{V240}, {H150}")
    assert versions(db) == [("door", "v240", 240, 60, 240, 330, 1), ("door", "h150", 0, 150, 480, 150, 1)]
    start(db, pets_video, f"{V240}, {H150}")
    assert len(versions(db)) == 2
    start(db, pets_video, f"{V300}, {DOOR}")
    assert versions(db)[2:] == [("door", "v240", 300, 60, 300, 330, 1), ("door", "door", 10, 300, 470, 300, 1),
                                ("door", "h150", 0, 150, 480, 150, 0)]


def test_central_keeps_every_version_and_its_registry_follows_the_newest(pg_dsn, tmp_path, pets_video):
    migrate_central(pg_dsn)
    db = tmp_path / "b.sqlite"
    first = start(db, pets_video, f"{V240}, {H150}")
    register(pg_dsn, first.config)  # as edge provision does
    dsn = box_dsn(pg_dsn, "box1")
    drain(db, dsn)
    second = start(db, pets_video, f"{V300}, {DOOR}")
    drain(db, dsn)
    drain(db, dsn)  # nothing new: nothing changes
    with psycopg.connect(pg_dsn) as conn:
        history = conn.execute(
            "SELECT line_name, x1, valid_from, valid_to, is_active FROM counting_line_history "
            "WHERE camera_id = 'box1/door' ORDER BY line_name, valid_from").fetchall()
        registry = conn.execute("SELECT line_name, x1, y1, x2, y2, is_active FROM counting_lines "
                                "WHERE camera_id = 'box1/door' ORDER BY line_name").fetchall()
    with Buffer(db) as b:
        stamps = dict(b.conn.execute("SELECT line || ':' || x1 || ':' || active, ts_us FROM line_versions"))
    moved_at = stamps["v240:300.0:1"]
    assert [(n, x, a) for n, x, _, _, a in history] == [
        ("door", 10, True), ("h150", 0, True), ("h150", 0, False), ("v240", 240, True), ("v240", 300, True)]
    v240 = [(int(f.timestamp() * 1e6), t and int(t.timestamp() * 1e6)) for n, _, f, t, _ in history if n == "v240"]
    assert v240 == [(stamps["v240:240.0:1"], moved_at), (moved_at, None)]  # the old one ends when the new starts
    # the registry: moved and removed lines follow the newest version; the new line of a registered camera is added
    assert registry == [("door", 10, 300, 470, 300, True), ("h150", 0, 150, 480, 150, False),
                        ("v240", 300, 60, 300, 330, True)]
    assert second.config.device_id == "box1"


def test_a_box_role_may_not_record_another_devices_lines(pg_dsn, tmp_path):
    migrate_central(pg_dsn)
    dsn = box_dsn(pg_dsn, "box1")
    with psycopg.connect(dsn) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("INSERT INTO counting_line_versions (camera_id, line_name, valid_from, x1, y1, x2, y2, "
                     "is_active) VALUES ('box2/door', 'x', now(), 0, 0, 1, 1, true)")
