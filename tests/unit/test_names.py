"""Naming rules: words in any script for cameras and lines, a slug for the device id; one-line errors that
propose a name that would do."""

import unicodedata

import pytest

from edge import config
from edge.config import BoxConfig, default_device_id, parse_config
from edge.counting.line import parse_line
from edge.errors import UserError
from edge.names import check_device_id, check_name, device_id_problem


@pytest.mark.parametrize("name", ["Tür", "入口", "entrance_2", "Eingang-Süd", "door.1", "_x", "a" * 64])
def test_names_in_any_script_are_accepted(name):
    assert check_name("camera", name) == name
    assert parse_line(f"{name}:0,0,10,10").name == name


def test_a_name_typed_decomposed_is_the_same_name():
    assert check_name("line", unicodedata.normalize("NFD", "Tür")) == "Tür"


@pytest.mark.parametrize("name, proposal", [
    ("Eingang Süd", "'Eingang_Süd'"), ("../x", "'_x'"), ("a/b", "'a_b'"), ("door:1", "'door_1'"),
    ("a=b", "'a_b'"), ("", None), ("a" * 65, repr("a" * 64)), ("x\x00y", "'x_y'"), ("\u202eevil", "'_evil'"),
    ("-lead", "'lead'"), ("𠀀" * 60, None),
])
def test_bad_names_are_refused_in_one_line_with_a_proposal(name, proposal):
    with pytest.raises(UserError) as e:
        check_name("camera", name)
    text = str(e.value)
    assert "\n" not in text and "\x00" not in text and text.startswith("camera name ")
    assert (f"e.g. {proposal}" in text) if proposal else ("e.g." not in text)


@pytest.mark.parametrize("device_id, proposal", [("Shop12", "shop12"), ("shop 12", "shop-12"),
                                                  ("x" * 70, "x" * 59), ("Zürich/1", "zurich-1")])
def test_bad_device_ids_are_refused_with_a_slug_proposal(device_id, proposal):
    with pytest.raises(UserError, match=f"e.g. '{proposal}'"):
        check_device_id(device_id)


@pytest.mark.parametrize("host", ["Shop12-Box", "box_1.local", "X" * 70, "ÄÖÜ-kasse", "---", "_x", "入口"])
def test_the_default_device_id_is_valid_whatever_the_host_name(monkeypatch, host):
    monkeypatch.setattr(config.socket, "gethostname", lambda: host)
    assert device_id_problem(default_device_id()) is None
    assert BoxConfig().device_id == default_device_id()


def test_the_config_file_applies_the_same_rules():
    ok = parse_config('device_id = "b1"\n[[cameras]]\nname = "入口"\nsource = "a.mp4"\n'
                      'lines = [{ name = "Tür", a = [0, 1], b = [9, 1] }]\n')
    assert ok.cameras[0].name == "入口" and ok.cameras[0].lines[0].name == "Tür"
    with pytest.raises(UserError, match=r"cameras\[0\]\.name: camera name '\.\./x' is invalid"):
        parse_config('[[cameras]]\nname = "../x"\nsource = "a.mp4"\n')
    with pytest.raises(UserError, match="device_id: must be 1-59 lowercase"):
        parse_config('device_id = "Shop12"\n')
