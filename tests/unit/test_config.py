"""The README's config examples are valid and its settings reference matches the code's defaults."""

import re
import tomllib

import pytest

from edge.config import BoxConfig, frames, parse_config
from edge.errors import UserError
from models.paths import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def _toml_blocks(text: str) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", text, re.S)


def test_every_readme_config_example_is_a_valid_box_config():
    blocks = _toml_blocks(README)
    assert len(blocks) >= 2
    for block in blocks:
        parse_config(block, "README example")  # raises EdgeError naming the key if the README drifts


def test_readme_settings_reference_lists_every_setting_with_its_default():
    block = _toml_blocks(README.split("<!-- settings-reference -->", 1)[1])[0]
    documented = tomllib.loads(block)
    defaults = BoxConfig().model_dump(mode="json", exclude_none=True)
    for section, values in documented.items():
        assert values == defaults[section], f"README [{section}] differs from the code"
    undocumented = {k for k, v in defaults.items() if isinstance(v, dict)} - set(documented)
    assert not undocumented, f"README settings reference lacks {sorted(undocumented)}"
    commented = set(re.findall(r"^# (\w+) =", block, re.M))  # optional settings without a default value
    optional = {k for k, v in BoxConfig().model_dump().items() if v is None}
    optional |= {k for k, v in BoxConfig().model.model_dump().items() if v is None}
    assert optional <= commented


def test_a_frame_count_setting_of_older_configs_names_its_duration():
    with pytest.raises(UserError) as e:
        parse_config('device_id = "b"\n[counter]\nhold_frames = 4\n')
    assert str(e.value) == ("config: counter: hold_frames is now hold_s, in seconds (frames at 10 frames/s / 10): "
                            "write hold_s = 0.4 or leave it out for the default")


def test_durations_become_frames_of_the_source_rate():
    assert [frames(0.4, r) for r in (5, 10, 25, 30)] == [2, 4, 10, 12]
