"""The cross-thread persistence guide, run as ``examples/cross_thread_memory.py``, does what the guide shows."""

from __future__ import annotations

import contextlib
import io
import runpy
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from threadloom.graph import StateGraph

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cross_thread_memory.py"
HUMAN_BANNER = "=" * 32 + " Human Message " + "=" * 33
AI_BANNER = "=" * 34 + " Ai Message " + "=" * 34


@dataclass
class Run:
    """What one run of the example left behind."""

    stdout: str
    namespace: dict[str, Any]
    streams: list[list[Any]] = field(default_factory=list)

    def last_message(self, stream: int) -> BaseMessage:
        """The last message of the last chunk of the given ``graph.stream`` call."""
        message: BaseMessage = self.streams[stream][-1]["messages"][-1]
        return message


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    """Run the example once, recording every chunk each ``graph.stream`` call yields."""
    with pytest.MonkeyPatch.context() as mp:
        result = Run(stdout="", namespace={})
        original_compile = StateGraph.compile

        def compile_and_record(self: Any, *args: Any, **kwargs: Any) -> Any:
            compiled = original_compile(self, *args, **kwargs)
            original_stream = type(compiled).stream

            def recording_stream(graph: Any, *s_args: Any, **s_kwargs: Any) -> Iterator[Any]:
                chunks: list[Any] = []
                result.streams.append(chunks)
                for chunk in original_stream(graph, *s_args, **s_kwargs):
                    chunks.append(chunk)
                    yield chunk

            mp.setattr(type(compiled), "stream", recording_stream)
            return compiled

        mp.setattr(StateGraph, "compile", compile_and_record)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            result.namespace = runpy.run_path(str(EXAMPLE), run_name="__main__")
        result.stdout = out.getvalue()
    yield result


def test_the_example_streams_three_turns(run: Run) -> None:
    """The example makes the guide's three graph.stream calls."""
    assert len(run.streams) == 3


def test_values_stream_yields_the_whole_state_as_a_dict(run: Run) -> None:
    """With stream_mode="values" each chunk is a dict whose "messages" is the thread's message list."""
    for chunks in run.streams:
        assert len(chunks) == 2  # the input applied, then the node's reply
        for chunk in chunks:
            assert isinstance(chunk, dict)
            assert isinstance(chunk["messages"], list)
            assert all(isinstance(m, BaseMessage) for m in chunk["messages"])
        before, after = chunks
        assert isinstance(before["messages"][-1], HumanMessage)
        assert isinstance(after["messages"][-1], AIMessage)
        assert after["messages"][:-1] == before["messages"]


def test_each_thread_starts_empty(run: Run) -> None:
    """Threads 1, 2 and 3 are separate: each holds only its own question and answer."""
    for chunks in run.streams:
        assert [type(m) for m in chunks[-1]["messages"]] == [HumanMessage, AIMessage]


def test_the_memory_is_stored_for_user_1(run: Run) -> None:
    """Telling the assistant to remember stores "User name is Bob" under ("memories", "1")."""
    store = run.namespace["in_memory_store"]
    assert [item.value for item in store.search(("memories", "1"))] == [{"data": "User name is Bob"}]
    assert "{'data': 'User name is Bob'}" in run.stdout


def test_the_memory_is_recalled_in_a_new_thread(run: Run) -> None:
    """In thread 2, user 1 asks for their name and the answer is Bob, from the memory."""
    question, answer = run.streams[1][-1]["messages"]
    assert question.content == "what is my name?"
    assert "Your name is Bob" in str(answer.content)


def test_the_memory_is_invisible_to_user_2(run: Run) -> None:
    """User 2 has no memories, and their answer does not mention Bob."""
    store = run.namespace["in_memory_store"]
    assert store.search(("memories", "2")) == []
    answer = run.last_message(2)
    assert "Bob" not in str(answer.content)
    assert "don't know your name" in str(answer.content)


def test_the_model_says_it_is_a_stand_in(run: Run) -> None:
    """Every reply is marked as coming from the offline stand-in."""
    for index in range(3):
        assert "offline stand-in" in str(run.last_message(index).content)


def test_pretty_print_shows_the_conversation(run: Run) -> None:
    """The output alternates Human and Ai banners, three of each, with the messages under them."""
    banners = [line for line in run.stdout.splitlines() if line.startswith("=" * 10)]
    assert banners == [HUMAN_BANNER, AI_BANNER] * 3
    assert "\n\nHi! Remember: my name is Bob\n" in run.stdout
    assert run.stdout.count("\n\nwhat is my name?\n") == 2


def test_the_example_runs_as_a_script(tmp_path: Path) -> None:
    """`python examples/cross_thread_memory.py` exits 0 and prints the conversation."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Ai Message") == 3
    assert "Your name is Bob" in result.stdout
