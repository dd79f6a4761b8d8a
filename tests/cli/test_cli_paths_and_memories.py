"""Where the command keeps its file, and what it stores when the user says "remember"."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadloom.cli._app import memory_from_message
from threadloom.cli._paths import default_data_dir, resolve_db_path


def test_xdg_data_home_is_used_when_absolute(tmp_path: Path) -> None:
    """An absolute XDG_DATA_HOME holds the threadloom folder."""
    assert default_data_dir({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "threadloom"


def test_relative_xdg_data_home_is_ignored() -> None:
    """A relative XDG_DATA_HOME is invalid per the XDG spec, so ~/.local/share is used."""
    assert default_data_dir({"XDG_DATA_HOME": "rel/dir"}) == Path.home() / ".local/share/threadloom"


def test_flag_wins_over_the_environment(tmp_path: Path) -> None:
    """--db takes precedence over THREADLOOM_DB."""
    chosen = resolve_db_path(str(tmp_path / "flag.db"), {"THREADLOOM_DB": str(tmp_path / "env.db")})
    assert chosen == str(tmp_path / "flag.db")


def test_home_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A path starting with ~ is expanded to the home directory."""
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_db_path("~/x.db", {}) == str(tmp_path / "x.db")


def test_checking_a_path_leaves_no_file_behind(tmp_path: Path) -> None:
    """The writability probe removes its file and does not create the database."""
    resolve_db_path(str(tmp_path / "x.db"), {})
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("message", "memory"),
    [
        ("Hi! Remember: my name is Bob", "User name is Bob"),
        ("remember my favourite colour is green.", "User's favourite colour is green"),
        ("Please remember that I'm vegetarian", "User is vegetarian"),
        ("remember: I like green tea!", "User said: I like green tea"),
        ("REMEMBER this", "User said: this"),
        ("remember", "User said: remember"),
        ("what is my name?", None),
        ("I remembered nothing", None),
    ],
)
def test_what_is_remembered(message: str, memory: str | None) -> None:
    """A message with the word "remember" stores what follows it, in the third person."""
    assert memory_from_message(message) == memory
