"""Lines changed while `edge run` counts (as the web page does it): the PETS file counted twice by the real
pipeline, once as it is and once with a line added and another moved a third of the way through."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.config import parse_config
from edge.counting.line import Line
from edge.run.loop import Runner
from tests.support.detecting import Hooked

V240, H150 = Line("v240", 240, 60, 240, 330), Line("h150", 0, 150, 480, 150)
MOVED, ADDED = Line("h150", 0, 200, 480, 200), Line("x", 120, 40, 120, 340)
CHANGE_AT = 265  # the detector call during which the new lines are handed over (a third of the 795 frames)
HOLD = 4         # [counter] hold_frames


@pytest.fixture(scope="module")
def detector(model_path):
    from edge.vision.detector import DetectorSettings, parallel_detector

    return parallel_detector(DetectorSettings(model_path=model_path))[0]


def count(db: Path, video: Path, detector, change: bool) -> tuple[Runner, int | None]:
    text = (f'device_id = "box1"\n[buffer]\npath = "{db}"\n[web]\nenabled = false\n[[cameras]]\nname = "pets"\n'
            f'source = "{video}"\nlines = [{{ name = "v240", a = [240, 60], b = [240, 330] }}, '
            '{ name = "h150", a = [0, 150], b = [480, 150] }]\n'
            # whole frames: crops are cut around the people close to any line, so moving one line changes what
            # the detector sees near the others, and their events may move by a frame; the handover is tested here
            '[motion]\nbusy_crops = false\n')
    runner = Runner(parse_config(text), detector)
    changed = []

    def change_midway(call: int) -> None:
        if change and call == CHANGE_AT:
            changed.append(runner.change_lines("pets", [V240, MOVED, ADDED]))

    runner.detector = Hooked(detector, change_midway)
    runner.run()
    return runner, changed[0].result(timeout=0) if changed else None


def events(db: Path) -> list[tuple[str, str, int, int]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT line, direction, frame, track_id FROM crossings ORDER BY seq").fetchall()


def test_lines_changed_while_counting_lose_and_double_nothing(tmp_path, pets_video, detector):
    plain, _ = count(tmp_path / "plain.sqlite", pets_video, detector, change=False)
    runner, effective = count(tmp_path / "changed.sqlite", pets_video, detector, change=True)
    assert effective is not None
    before, after = events(tmp_path / "plain.sqlite"), events(tmp_path / "changed.sqlite")
    period = 1e6 / runner.cameras[0].stream.source.fps  # type: ignore[attr-defined]
    applied = round((effective - 1 - runner.cameras[0].stream.source.start_us) / period) + 1  # type: ignore[attr-defined]
    assert CHANGE_AT - 3 <= applied <= CHANGE_AT + 1  # between two frames, where the handover was
    # the line kept as it was counts exactly as without the change: nothing lost, nothing counted twice
    assert [e for e in after if e[0] == "v240"] == [e for e in before if e[0] == "v240"]
    assert sum(e[0] == "v240" for e in before) >= 5
    # the moved line: what was settled before the change is the same; nothing is stored twice
    settled = applied - HOLD
    assert [e for e in after if e[0] == "h150" and e[2] < settled] == \
        [e for e in before if e[0] == "h150" and e[2] < settled]
    assert len(set(after)) == len(after)
    with sqlite3.connect(tmp_path / "changed.sqlite") as conn:
        ts = dict(conn.execute("SELECT line, MIN(ts_us) FROM crossings WHERE frame > ? GROUP BY line", (applied,)))
        versions = conn.execute("SELECT line, y1, active, ts_us FROM line_versions ORDER BY seq").fetchall()
    # the added line counts from the time the change took effect, and people cross it in the rest of the footage
    assert sum(e[0] == "x" for e in after) >= 3 and min(e[2] for e in after if e[0] == "x") > applied
    assert all(t >= effective for t in ts.values())
    assert versions[:2] == [("v240", 60, 1, versions[0][3]), ("h150", 150, 1, versions[0][3])]
    assert sorted(versions[2:]) == [("h150", 200, 1, effective), ("x", 40, 1, effective)]
    assert plain.cameras[0].crossings[("v240", "in")] == runner.cameras[0].crossings[("v240", "in")]
