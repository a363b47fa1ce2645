"""The whole product once: count real footage on a box, deliver it as the box's own role, read it centrally."""

import json
import sqlite3

import psycopg
from typer.testing import CliRunner

from edge.cli import app
from sync.central.migrate import migrate
from sync.central.roles import create_device_role


def test_box_counts_arrive_in_central_exactly_once(tmp_path, pets_video, model_path, pg_dsn):
    migrate(pg_dsn)
    role = create_device_role(pg_dsn, "box1", "box-password")
    box_dsn = psycopg.conninfo.make_conninfo(pg_dsn, user=role, password="box-password")
    db = tmp_path / "buffer.sqlite"
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(f'[sync]\ndsn = "{box_dsn}"\n')
    cfg = tmp_path / "box.toml"
    cfg.write_text(f'device_id = "box1"\nsecrets_file = "{secrets}"\n[buffer]\npath = "{db}"\n'
                   f'[model]\nmodel_path = "{model_path}"\n'
                   f'[[cameras]]\nname = "pets"\nsource = "{pets_video}"\n'
                   'lines = [{ name = "v240", a = [240, 60], b = [240, 330] }, '
                   '{ name = "h150", a = [0, 150], b = [480, 150] }]\n')
    runner = CliRunner()
    assert runner.invoke(app, ["run", "--config", str(cfg)]).exit_code == 0
    for _ in range(2):  # the second drain finds nothing new: exactly once
        r = runner.invoke(app, ["sync", "--config", str(cfg), "--once"])
        assert r.exit_code == 0, r.output

    with sqlite3.connect(db) as box:
        events = set(box.execute("SELECT event_id, line, direction FROM crossings").fetchall())
        totals = box.execute("SELECT line, SUM(count_in), SUM(count_out) FROM minute_counts GROUP BY line "
                             "ORDER BY line").fetchall()
    with psycopg.connect(pg_dsn) as central:
        got = central.execute("SELECT event_id::text, line_name, direction FROM counting_events "
                              "WHERE camera_id = 'box1/pets'").fetchall()
        central_totals = central.execute(
            "SELECT line_name, SUM(count_in), SUM(count_out) FROM counting_results WHERE camera_id = 'box1/pets' "
            "GROUP BY line_name ORDER BY line_name").fetchall()
    assert len(got) == len(set(got)) == len(events) > 40
    assert {(e.replace("-", ""), ln, d) for e, ln, d in got} == {(e.replace("-", ""), ln, d) for e, ln, d in events}
    assert [(ln, int(i), int(o)) for ln, i, o in central_totals] == [(ln, i, o) for ln, i, o in totals]
    assert runner.invoke(app, ["central", "refresh", "--dsn", pg_dsn, "daily_analytics_summary"]).exit_code == 0
    with psycopg.connect(pg_dsn) as central:  # the box role's deliveries queued their days
        daily = central.execute("SELECT sum(daily_in), sum(daily_out) FROM daily_analytics_summary "
                                "WHERE camera_id = 'box1/pets'").fetchone()
    assert daily == (sum(i for _, i, _ in totals), sum(o for _, _, o in totals))

    status = json.loads(runner.invoke(app, ["status", "--config", str(cfg), "--json"]).stdout)
    assert status["sync"]["rows_pending"] == 0 and status["cameras"]["pets"]["last_crossing_us"] is not None
