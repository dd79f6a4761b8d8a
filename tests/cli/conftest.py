"""Fixtures for the command-line tests: an isolated environment and fake provider packages."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

FAKE_PROVIDER = '''
"""A stand-in for a LangChain integration package, for the CLI tests."""
from threadloom.testing.models import FakeChatModel


class {cls}(FakeChatModel):
    model: str
    responses: list = ["a reply from the fake {provider} model"]
    cycle: bool = True
'''


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the data directory, the database variable and the API keys away from the real ones."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    for var in ("THREADLOOM_DB", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "THREADLOOM_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def fake_providers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Importable fake ``langchain_anthropic`` and ``langchain_openai`` packages."""
    root = tmp_path / "fake_site"
    for module, cls, provider in (
        ("langchain_anthropic", "ChatAnthropic", "anthropic"),
        ("langchain_openai", "ChatOpenAI", "openai"),
    ):
        (root / module).mkdir(parents=True)
        (root / module / "__init__.py").write_text(
            textwrap.dedent(FAKE_PROVIDER.format(cls=cls, provider=provider))
        )
    monkeypatch.syspath_prepend(str(root))
    importlib.invalidate_caches()
    yield root
    for module in ("langchain_anthropic", "langchain_openai"):
        sys.modules.pop(module, None)


def _run_cli(
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdin: str = "",
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run the installed ``threadloom`` console script in a real subprocess."""
    script = Path(sys.executable).with_name("threadloom")
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
    )


RunCli = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def run_cli() -> RunCli:
    """Run the installed ``threadloom`` console script in a real subprocess."""
    return _run_cli
