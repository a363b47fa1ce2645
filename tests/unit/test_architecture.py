"""The package structure holds: imports run one way, and the light commands stay light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from models.paths import REPO_ROOT

# What each part of the product may import of ours (models <- edge <- sync/provisioning). edge/cli.py is the one
# composition root and may import anything; the box's sync agent and the central administration share only
# sync/connect.py and sync/streams.py.
ALLOWED = {
    "models": {"models"},
    "edge": {"models", "edge"},
    "sync": {"models", "edge", "sync"},
    "sync.agent": {"models", "edge", "sync.agent", "sync.connect", "sync.streams"},
    "sync.central": {"models", "edge", "sync.central", "sync.connect"},
    "provisioning": {"models", "edge", "sync.central", "sync.connect", "provisioning"},
}
ROOTS = ("models", "edge", "sync", "provisioning")
COMPOSITION_ROOT = "edge.cli"


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every module of ours that `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {m for m in found if m.split(".")[0] in ROOTS}


def within(module: str, prefixes: set[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def rule_for(module: str) -> set[str]:
    """The most specific rule that covers `module`."""
    owner = max((k for k in ALLOWED if within(module, {k})), key=len)
    return ALLOWED[owner]


def test_imports_run_one_way() -> None:
    wrong = []
    for root in ROOTS:
        for path in sorted((REPO_ROOT / root).rglob("*.py")):
            module = module_name(path)
            if module == COMPOSITION_ROOT:
                continue
            allowed = rule_for(module)
            wrong += [f"{module} imports {target}" for target in sorted(imports(path)) if not within(target, allowed)]
    assert wrong == []


@pytest.mark.parametrize("command", [["sync", "--help"], ["central", "--help"], ["central", "fleet", "--help"]])
def test_sync_and_central_commands_load_no_vision_stack(command: list[str]) -> None:
    """`edge sync` and `edge central` read settings and talk SQL: OpenCV, onnxruntime and SciPy stay unloaded."""
    probe = ("import sys\nfrom typer.testing import CliRunner\nfrom edge.cli import app\n"
             f"result = CliRunner().invoke(app, {command!r})\nassert result.exit_code == 0, result.output\n"
             "print(sorted(m for m in ('cv2', 'onnxruntime', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert out.stdout.strip() == "[]"
