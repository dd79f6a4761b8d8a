"""What a new user and CI meet before any code runs: versions, install lines, docs, test config."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _ci_versions() -> list[str]:
    match = re.search(r'VERSIONS="\$\{CI_PYTHONS:-([\d. ]+)\}"', (ROOT / ".ci" / "run").read_text())
    assert match, "the Python versions .ci/run tests"
    return sorted(match.group(1).split(), key=lambda v: tuple(map(int, v.split("."))))


def test_ci_tests_every_python_the_classifiers_declare() -> None:
    """The classifiers name exactly the versions CI runs, starting at requires-python's floor."""
    declared = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', PYPROJECT)
    assert declared == _ci_versions() == ["3.10", "3.11", "3.12", "3.13"]
    assert 'requires-python = ">=3.10"' in PYPROJECT


def test_readme_first_screen_links_the_differences_page() -> None:
    """A LangGraph user finds what differs before scrolling: the link is in the first 15 lines."""
    first_screen = "\n".join(README.splitlines()[:15])
    assert "(docs/differences.md)" in first_screen
    assert "(differences.md)" in (ROOT / "docs" / "README.md").read_text(encoding="utf-8")
    page = (ROOT / "docs" / "differences.md").read_text(encoding="utf-8")
    assert page.startswith("# Differences from LangGraph")
    assert "## Chosen on purpose" in page and "## Not supported yet" in page


def test_readme_installs_from_a_checkout_while_unpublished() -> None:
    """Every pip line of the README's install section works without the package on PyPI."""
    section = README.split("## Install", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    lines = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    threadloom_lines = [line for line in lines if "threadloom" in line]
    assert threadloom_lines
    assert all(re.search(r'pip install "?\./threadloom', line) for line in threadloom_lines)
    assert "not published on PyPI yet" in section


def test_a_leaked_file_fails_the_test_that_leaks_it(tmp_path: Path) -> None:
    """The test configuration turns ResourceWarning into an error, so a leak cannot come back."""
    leaky = tmp_path / "test_leaky.py"
    leaky.write_text(
        textwrap.dedent(
            """
            import gc

            def test_leaks_a_file():
                open(__file__).read()
                gc.collect()
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", str(ROOT / "pyproject.toml"), "--rootdir", str(tmp_path),
         "-p", "no:cacheprovider", "-q", str(leaky)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert done.returncode == 1, done.stdout
    assert "ResourceWarning" in done.stdout
    assert "1 failed" in done.stdout
