"""`edge count` end to end on real footage, and each bad input: one line, non-zero exit, data intact."""

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.cli import app
from edge.store.buffer import Buffer
from edge.store.schema import SCHEMA_VERSION

LINES = ["--line", "v240:240,60,240,330", "--line", "h150:0,150,480,150"]


def edge(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def counted(pets_video, model_path, tmp_path_factory):
    db = tmp_path_factory.mktemp("count") / "buffer.sqlite"
    result = edge("count", pets_video, *LINES, "--model", model_path, "--db", db, "--json", "--events",
                  "--device-id", "box1", "--camera", "pets")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), db


def test_json_contract(counted):
    out, _ = counted
    assert set(out) == {"frames", "fps", "lines", "events"}
    assert out["frames"] == 795 and out["fps"] > 0
    assert set(out["lines"]) == {"v240", "h150"}
    for line, c in out["lines"].items():
        assert set(c) == {"in", "out"}
        assert c["in"] == sum(1 for e in out["events"] if e["line"] == line and e["direction"] == "in")
    for e in out["events"]:
        assert set(e) == {"line", "direction", "frame", "track_id"}
        assert 1 <= e["frame"] <= 795 and e["direction"] in ("in", "out")
    frames = [e["frame"] for e in out["events"]]
    assert frames == sorted(frames)
    # PETS09-S2L1 has 61 ground-truth crossings of these two lines (see docs/accuracy.md)
    assert 50 <= len(out["events"]) <= 72


def test_db_holds_exactly_the_printed_events(counted):
    out, db = counted
    with Buffer(db) as b:
        rows = b.conn.execute("SELECT line, direction, frame, track_id, device_id, camera, model FROM crossings "
                              "ORDER BY frame, seq").fetchall()  # printed in frame order
        assert [r[:4] for r in rows] == [(e["line"], e["direction"], e["frame"], e["track_id"]) for e in out["events"]]
        assert {r[4:] for r in rows} == {("box1", "pets", "yolox-nano")}
        assert b.totals()["pets"] == out["lines"]


def test_plain_output_is_a_table(pets_video, model_path):
    result = edge("count", pets_video, "--line", "v240:240,60,240,330", "--model", model_path)
    assert result.exit_code == 0
    assert "795 frames" in result.stdout and result.stdout.splitlines()[-1].startswith("v240")


def one_line_error(result, *words: str) -> None:
    assert result.exit_code == 2, result.output
    err = result.stderr.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    for w in words:
        assert w in err, err


def test_missing_video(tmp_path):
    one_line_error(edge("count", tmp_path / "none.avi", *LINES), "none.avi", "does not exist")


def test_undecodable_video(tmp_path):
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"\x00not a video" * 1000)
    one_line_error(edge("count", bad, *LINES), "bad.avi", "cannot be decoded")


def test_corrupt_model(tmp_path, pets_video, model_path):
    bad = tmp_path / "m.onnx"
    bad.write_bytes(model_path.read_bytes()[:5000])
    one_line_error(edge("count", pets_video, *LINES, "--model", bad), "m.onnx", "cannot be loaded")


def test_missing_model(tmp_path, pets_video):
    one_line_error(edge("count", pets_video, *LINES, "--model", tmp_path / "m.onnx"), "m.onnx", "does not exist")


@pytest.mark.parametrize("line, words", [
    ("v240:240,60,240", "malformed"),
    ("v240:240,60,240,60", "zero length"),
    ("far:500,10,900,10", "entirely outside the 480x360 frame"),
])
def test_bad_line(pets_video, line, words):
    one_line_error(edge("count", pets_video, "--line", line), words)


def test_duplicate_line_name(pets_video):
    one_line_error(edge("count", pets_video, "--line", "a:0,0,100,100", "--line", "a:0,100,100,0"), "used twice")


def test_no_line(pets_video):
    one_line_error(edge("count", pets_video), "--line")


def test_unwritable_db(tmp_path, pets_video):
    (tmp_path / "file").write_text("")
    one_line_error(edge("count", pets_video, *LINES, "--db", tmp_path / "file" / "b.sqlite"), "writable")


def test_newer_db_is_left_untouched(tmp_path, pets_video):
    db = tmp_path / "b.sqlite"
    with Buffer(db) as b:
        b.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    one_line_error(edge("count", pets_video, *LINES, "--db", db), "newer", "upgrade")
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


def test_existing_data_survives_a_failed_run(tmp_path, counted, pets_video):
    _, good_db = counted
    db = tmp_path / "b.sqlite"
    db.write_bytes(Path(good_db).read_bytes())
    n = sqlite3.connect(db).execute("SELECT COUNT(*) FROM crossings").fetchone()[0]
    one_line_error(edge("count", pets_video, "--line", "far:900,900,990,990", "--db", db), "outside")
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM crossings").fetchone()[0] == n
