"""The accuracy suite end to end on real labelled footage: the figures docs/accuracy.md claims, guarded."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from edge.cli import app
from edge.eval.suite import load_suite
from models.paths import REPO_ROOT

SUITE = REPO_ROOT / "tests" / "accuracy" / "suite.toml"


def suite_json(*args: str) -> dict:
    result = CliRunner().invoke(app, ["eval", "--suite", str(SUITE), "--json", *args])
    assert result.exit_code == 0, result.output
    out: dict = json.loads(result.stdout)
    for seq in out["sequences"]:
        t = seq["total"]
        assert t["matched"] + t["false"] == t["counted"] and t["matched"] + t["missed"] == t["gt"]
        assert sum(seq["misses"].values()) == t["missed"]  # every miss is put down to one cause
    return out


def test_pooled_f1_holds_the_committed_figure(data, model_path):
    committed = load_suite(SUITE).committed_f1
    assert committed is not None
    out = suite_json("--model", str(model_path))
    assert [s["name"] for s in out["sequences"]] == ["pets09-s2l1", "mot16-09", "kitti-17"]
    assert out["pooled"]["gt"] == 144
    assert out["pooled"]["f1"] >= committed - 0.01, out["pooled"]


def test_with_labelled_boxes_tracking_and_counting_reach_the_ceiling(data):
    out = suite_json("--detections", "gt")
    assert all(s["misses"]["not detected"] == 0 for s in out["sequences"])  # nothing to miss: every box is given
    assert {s["name"]: s["total"]["f1"] >= 0.98 for s in out["sequences"]} == dict.fromkeys(
        ("pets09-s2l1", "mot16-09", "kitti-17"), True), out


@pytest.mark.parametrize("rate", [5, 15])
def test_counts_hold_at_other_frame_rates(data, rate):
    """Durations, not frame counts: a live box detecting at another rate counts the same passages."""
    full, slower = suite_json("--detections", "gt"), suite_json("--detections", "gt", "--detect-fps", str(rate))
    for a, b in zip(full["sequences"], slower["sequences"]):
        assert abs(a["total"]["counted"] - b["total"]["counted"]) <= max(2, 0.05 * a["total"]["gt"]), (a, b)
        assert b["total"]["f1"] >= a["total"]["f1"] - 0.03, (a["name"], a["total"], b["total"])
