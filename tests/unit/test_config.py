"""The README's config examples are valid and its settings reference matches the code's defaults."""

import re
import tomllib

from edge.config import BoxConfig, parse_config
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
