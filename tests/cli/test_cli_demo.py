"""``threadloom demo``: the guide's scenario on the embedded defaults."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from threadloom.cli import main

HUMAN = "=" * 32 + " Human Message " + "=" * 33
AI = "=" * 34 + " Ai Message " + "=" * 34


def _demo(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run the demo in-process, check it succeeded, and return its stdout."""
    status = main(["demo", *args])
    out, err = capsys.readouterr()
    assert status == 0, err
    return out


def test_demo_prints_the_guide_conversation(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Three turns printed with pretty_print: Human then Ai, three times."""
    out = _demo(capsys, "--db", str(isolated_env / "demo.db"))
    banners = [line for line in out.splitlines() if line.startswith("=" * 10)]
    assert banners == [HUMAN, AI] * 3
    assert "Hi! Remember: my name is Bob" in out
    assert out.count("what is my name?") == 2


def test_demo_recalls_the_name_in_a_new_thread(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """User 1 gets their name back in thread 2, and the stored memory is printed."""
    out = _demo(capsys, "--db", str(isolated_env / "demo.db"))
    thread_2 = out.split("--- thread 2")[1].split("--- memories")[0]
    assert "Your name is Bob" in thread_2
    memories = out.split("--- memories")[1].split("--- thread 3")[0]
    assert memories.strip().splitlines()[1:] == ["{'data': 'User name is Bob'}"]


def test_demo_keeps_user_2_apart(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """User 2 is not told user 1's name."""
    out = _demo(capsys, "--db", str(isolated_env / "demo.db"))
    thread_3 = out.split("--- thread 3")[1]
    assert "don't know your name" in thread_3
    assert "Your name is Bob" not in thread_3


def test_demo_says_the_model_is_an_offline_stand_in(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The banner and every reply say that the model is an offline stand-in."""
    out = _demo(capsys, "--db", str(isolated_env / "demo.db"))
    assert "offline stand-in" in out.split("---")[0]
    assert out.count("[offline stand-in, not a real LLM]") == 3


def test_demo_reruns_tell_the_same_story(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A second run on the same file uses fresh users and threads and shows the same outcome."""
    db = str(isolated_env / "demo.db")
    first, second = _demo(capsys, "--db", db), _demo(capsys, "--db", db)
    run_ids = [re.search(r"run (\w+)", out).group(1) for out in (first, second)]  # type: ignore[union-attr]
    assert run_ids[0] != run_ids[1]

    def story(out: str) -> str:
        return out.split("---", 1)[1].replace(re.search(r"run (\w+)", out).group(1), "RUN")  # type: ignore[union-attr]

    assert story(first) == story(second)


def test_demo_keeps_its_data_in_one_sqlite_file(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The memories and the threads both end up in the --db file."""
    db = isolated_env / "demo.db"
    out = _demo(capsys, "--db", str(db))
    assert str(db) in out
    with closing(sqlite3.connect(db)) as conn:
        tables = {row[0] for row in conn.execute("select name from sqlite_master where type='table'")}
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
    assert len(tables) >= 2  # the store's and the checkpointer's tables share the file


def test_demo_defaults_to_the_xdg_data_directory(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --db the file is $XDG_DATA_HOME/threadloom/threadloom.db, created on first use."""
    out = _demo(capsys)
    expected = isolated_env / "xdg" / "threadloom" / "threadloom.db"
    assert expected.is_file()
    assert str(expected) in out


def test_demo_falls_back_to_local_share_without_xdg(
    isolated_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without XDG_DATA_HOME the file is ~/.local/share/threadloom/threadloom.db."""
    monkeypatch.delenv("XDG_DATA_HOME")
    _demo(capsys)
    assert (isolated_env / "home" / ".local" / "share" / "threadloom" / "threadloom.db").is_file()


def test_threadloom_db_variable_chooses_the_file(
    isolated_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """THREADLOOM_DB names the file when --db is not given."""
    db = isolated_env / "from-env.db"
    monkeypatch.setenv("THREADLOOM_DB", str(db))
    _demo(capsys)
    assert db.is_file()
    assert not (isolated_env / "xdg").exists()


def test_demo_in_memory_keeps_nothing(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--db :memory: runs the same story and writes no file."""
    out = _demo(capsys, "--db", ":memory:")
    assert "Your name is Bob" in out
    assert "Nothing was kept" in out
    assert not (isolated_env / "xdg").exists()


def test_demo_refuses_a_file_that_is_not_sqlite(isolated_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --db file that is not a SQLite database is an error, and the file is left untouched."""
    bad = isolated_env / "notes.db"
    content = b"these are my notes, not a database " * 20
    bad.write_bytes(content)
    assert main(["demo", "--db", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "not a SQLite database" in err
    assert "Traceback" not in err
    assert bad.read_bytes() == content


def test_demo_uses_a_real_model_when_package_and_key_are_present(
    isolated_env: Path, fake_providers: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--model anthropic:<name> routes the turns to that provider's chat model."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    out = _demo(capsys, "--db", ":memory:", "--model", "anthropic:claude-test")
    assert out.count("a reply from the fake anthropic model") == 3
    assert "offline stand-in" not in out


def test_console_script_runs_the_demo(isolated_env: Path, run_cli: Any) -> None:
    """`threadloom demo` as a real process exits 0 and prints the conversation."""
    result = run_cli(["demo", "--db", str(isolated_env / "demo.db")])
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Ai Message") == 3
    assert "Your name is Bob" in result.stdout


def test_a_failing_model_is_one_line_and_exit_1(
    isolated_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the model call fails (say, a rejected API key) the demo prints one line and exits 1."""
    from threadloom.testing.models import FakeChatModel

    monkeypatch.setattr("threadloom.cli._demo.load_chat_model", lambda spec, env: FakeChatModel())
    assert main(["demo", "--db", ":memory:"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("threadloom: error: RuntimeError: FakeChatModel ran out of scripted responses")
    assert "THREADLOOM_DEBUG=1" in err
    assert "Traceback" not in err


def test_debug_variable_shows_the_traceback(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With THREADLOOM_DEBUG=1 an unexpected error propagates with its traceback."""
    from threadloom.testing.models import FakeChatModel

    monkeypatch.setenv("THREADLOOM_DEBUG", "1")
    monkeypatch.setattr("threadloom.cli._demo.load_chat_model", lambda spec, env: FakeChatModel())
    with pytest.raises(RuntimeError, match="ran out of scripted responses"):
        main(["demo", "--db", ":memory:"])
