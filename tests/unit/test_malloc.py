"""edge.run.malloc: the arena cap is applied through glibc's mallopt, and an operator's MALLOC_ARENA_MAX wins."""

import subprocess
import sys


def probe(env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-c", "from edge.run.malloc import limit_arenas; print(limit_arenas())"],
                          capture_output=True, text=True, env=env, check=True).stdout.strip()


def test_limit_arenas_applies_on_glibc_unless_the_operator_chose():
    import os

    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
    assert probe(env) == "True"
    assert probe({**env, "MALLOC_ARENA_MAX": "4"}) == "False"
