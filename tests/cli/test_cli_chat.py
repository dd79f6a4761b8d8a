"""``threadloom chat``: a REPL whose memories outlive threads and restarts."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from threadloom.cli import main
from threadloom.testing.models import FakeChatModel


def _chat(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, lines: list[str], *args: str
) -> str:
    """Run one chat session in-process, feeding ``lines`` on stdin; return its stdout."""
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    status = main(["chat", *args])
    out, err = capsys.readouterr()
    assert status == 0, err
    return out


@pytest.fixture
def db(isolated_env: Path) -> str:
    """A fresh database path for the chat sessions of one test."""
    return str(isolated_env / "chat.db")


def test_a_turn_prints_the_streamed_reply(db: str, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each input line is a turn; the reply follows the assistant prompt."""
    out = _chat(capsys, monkeypatch, ["Hi! Remember: my name is Alice"], "--user", "alice", "--db", db)
    assert "you> Hi! Remember: my name is Alice\n" in out
    assert "assistant> [offline stand-in, not a real LLM] Hello! Nice to meet you, Alice.\n" in out


def test_memories_command_lists_the_user_memories(db: str, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """/memories lists what was stored when the user said "remember"."""
    out = _chat(
        capsys, monkeypatch,
        ["/memories", "Remember: my name is Alice", "remember that I like green tea", "/memories"],
        "--user", "alice", "--db", db,
    )
    first, second = out.split("you> /memories")[1:]
    assert "(no memories for user alice yet)" in first
    assert "- User name is Alice" in second
    assert "- User said: I like green tea" in second


def test_restart_recalls_memories_in_a_new_thread(db: str, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second session of the same user starts a new thread and still knows the name."""
    _chat(capsys, monkeypatch, ["Remember: my name is Alice"], "--user", "alice", "--db", db)
    out = _chat(capsys, monkeypatch, ["what is my name?"], "--user", "alice", "--db", db)
    assert re.search(r"thread chat-\w+ \(new\)", out)
    assert "Your name is Alice" in out


def test_other_users_do_not_see_the_memories(db: str, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another user in the same database is not told Alice's name."""
    _chat(capsys, monkeypatch, ["Remember: my name is Alice"], "--user", "alice", "--db", db)
    out = _chat(capsys, monkeypatch, ["what is my name?", "/memories"], "--user", "bob", "--db", db)
    assert "don't know your name" in out
    assert "Alice" not in out


def test_thread_flag_resumes_a_thread_with_its_history(db: str, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """--thread T continues thread T: the banner counts its messages."""
    _chat(capsys, monkeypatch, ["hello"], "--user", "alice", "--thread", "t1", "--db", db)
    out = _chat(capsys, monkeypatch, [], "--user", "alice", "--thread", "t1", "--db", db)
    assert "thread t1 (resumed, 2 messages)" in out


def test_threads_command_lists_only_the_users_threads(
    db: str, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """/threads lists the user's own threads, stars the current one, and hides other users' threads."""
    _chat(capsys, monkeypatch, ["hello"], "--user", "alice", "--thread", "alice-1", "--db", db)
    _chat(capsys, monkeypatch, ["hello"], "--user", "bob", "--thread", "bob-1", "--db", db)
    out = _chat(capsys, monkeypatch, ["hi", "/threads"], "--user", "bob", "--thread", "bob-2", "--db", db)
    listing = out.split("you> /threads\n")[1].splitlines()
    assert listing[0] == "threads of user bob (* this one):"
    assert "  bob-1" in listing
    assert "* bob-2" in listing
    assert not any("alice" in line for line in listing)


def test_another_users_thread_is_refused(db: str, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """--thread naming another user's thread exits 2 without showing or extending that thread."""
    _chat(capsys, monkeypatch, ["Remember: my name is Alice"], "--user", "alice", "--thread", "t1", "--db", db)
    monkeypatch.setattr("sys.stdin", io.StringIO("what is my name?\n"))
    assert main(["chat", "--user", "mallory", "--thread", "t1", "--db", db]) == 2
    out, err = capsys.readouterr()
    assert "thread 't1' belongs to another user" in err
    assert "Alice" not in out and "assistant>" not in out
    again = _chat(capsys, monkeypatch, [], "--user", "alice", "--thread", "t1", "--db", db)
    assert "thread t1 (resumed, 2 messages)" in again


def test_a_thread_written_without_a_user_is_refused(
    db: str, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread that another program wrote without a user_id is nobody's chat thread: refused."""
    from threadloom.cli._app import build_graph, open_backends
    from threadloom.testing.models import OfflineChatModel

    with open_backends(db) as backends:
        graph = build_graph(OfflineChatModel(), checkpointer=backends.checkpointer, store=backends.store)
        config = {"configurable": {"thread_id": "shared", "user_id": "x"}}
        graph.invoke({"messages": [{"role": "user", "content": "hi"}]}, config)
        # Rewrite the thread's head as a program that does not record users would write it.
        head = backends.checkpointer.get_tuple({"configurable": {"thread_id": "shared"}})
        assert head is not None
        backends.checkpointer.put(head.config, head.checkpoint, {"source": "update", "step": 9}, {})
    assert main(["chat", "--user", "alice", "--thread", "shared", "--db", db]) == 2
    assert "belongs to no user" in capsys.readouterr().err


def test_quit_ends_the_session(db: str, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines after /quit are not sent to the model; the goodbye says how to resume."""
    monkeypatch.setenv("THREADLOOM_LAUNCHER", "./run")
    out = _chat(capsys, monkeypatch, ["/quit", "what is my name?"], "--user", "alice", "--db", db)
    assert "assistant>" not in out
    assert re.search(
        rf"Resume this thread with: \./run chat --user alice --thread chat-\w+ --db {re.escape(db)}\n", out
    )


def test_help_and_unknown_commands(db: str, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """/help lists the commands; an unknown command says so and the session goes on."""
    out = _chat(capsys, monkeypatch, ["/help", "/frobnicate", "", "hello"], "--user", "alice", "--db", db)
    assert "/memories" in out and "/threads" in out and "/quit" in out
    assert "unknown command /frobnicate; try /help" in out
    assert out.count("assistant>") == 1  # the empty line is not a turn


def test_a_failed_turn_does_not_end_the_session(
    db: str, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the model fails, the error is one line on stderr and the next line is still read."""
    model = FakeChatModel(responses=["first answer"])
    monkeypatch.setattr("threadloom.cli._chat.load_chat_model", lambda spec, env: model)
    monkeypatch.setattr("sys.stdin", io.StringIO("one\ntwo\n/memories\n"))
    assert main(["chat", "--user", "alice", "--db", db]) == 0
    out, err = capsys.readouterr()
    assert "first answer" in out
    assert "error: the turn failed: RuntimeError" in err
    assert "Traceback" not in err
    assert "(no memories for user alice yet)" in out


def test_chat_recalls_across_real_processes(isolated_env: Path, run_cli: Any) -> None:
    """Two `threadloom chat` processes on the default file: the second recalls what the first stored."""
    first = run_cli(["chat", "--user", "carol"], stdin="Remember: my name is Carol\n/quit\n")
    assert first.returncode == 0, first.stderr
    assert (isolated_env / "xdg" / "threadloom" / "threadloom.db").is_file()
    second = run_cli(["chat", "--user", "carol"], stdin="what is my name?\n/memories\n")
    assert second.returncode == 0, second.stderr
    assert "1 memory about carol" in second.stdout
    assert "Your name is Carol" in second.stdout
    assert "- User name is Carol" in second.stdout


def test_replies_stream_token_by_token() -> None:
    """The chat graph streams the model's reply as several token chunks in "messages" mode."""
    from langchain_core.messages import AIMessageChunk

    from threadloom.cli._app import build_graph, open_backends
    from threadloom.testing.models import OfflineChatModel

    with open_backends(":memory:") as backends:
        graph = build_graph(OfflineChatModel(), checkpointer=backends.checkpointer, store=backends.store)
        config = {"configurable": {"thread_id": "t", "user_id": "u"}}
        inputs = {"messages": [{"role": "user", "content": "what is my name?"}]}
        chunks = [m for m, _meta in graph.stream(inputs, config, stream_mode="messages")]
    tokens = [c.content for c in chunks if isinstance(c, AIMessageChunk) and c.content]
    assert len(tokens) > 5
    assert "".join(tokens).startswith("[offline stand-in, not a real LLM]")
