"""examples/memory_manager.py runs offline from a fresh checkout and shows the right memories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "memory_manager.py"


def test_the_example_runs_offline_and_supersedes_the_old_name() -> None:
    """The manager stores Bob, then updates it to Robert (Bob kept as history); user 2 is unknown."""
    env = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
    env["PYTHONPATH"] = str(EXAMPLE.parents[1] / "src")
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Your name is Bob, according to my memories of you." in out
    memories = out.split("Memories of user 1:")[1].split("=====")[0]
    assert "User name is Robert" in memories
    assert "(was: 'User name is Bob'" in memories
    assert out.rstrip().endswith("I don't know your name: none of my memories of you mention it.")
    assert out.count("Ai Message") == 4
