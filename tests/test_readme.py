"""The README's program runs as written and shows cross-thread memory."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


@pytest.mark.model
def test_the_readme_program_remembers_across_threads(tmp_path: Path) -> None:
    """The quickstart stores a memory in thread 1 and recalls it in thread 2, in one SQLite file."""
    script = tmp_path / "readme_program.py"
    script.write_text(_python_blocks()[0], encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "Nice to meet you, Bob" in done.stdout
    assert "Your name is Bob" in done.stdout
    assert (tmp_path / "memory.db").exists()
