"""threadloom vs LangGraph, side by side in one process: the overhead of a ReAct agent turn.

Run:  .venv/bin/python bench/prebuilt_bench.py                 (both savers, turns up to 200)
      .venv/bin/python bench/prebuilt_bench.py --quick         (fewer timed turns)
      .venv/bin/python bench/prebuilt_bench.py --saver sqlite --clock cpu

A turn: the user asks, the scripted model calls one of two tools, the tool
runs, the model answers (three supersteps: agent, tools, agent). Each side
builds the agent with its own ``create_react_agent`` (default ``version="v2"``)
and its own checkpointer (``InMemorySaver`` or ``SqliteSaver`` on a file), and
one thread grows to 200 turns. At each checkpoint the next turns are timed;
the same model and tool calls made directly, on a history of the same length,
are timed too and subtracted: what remains is the runtime's overhead, shown
per superstep. Figures are medians, in milliseconds.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import BaseTool, tool

STEPS_PER_TURN = 3  # agent, tools, agent
CLOCK: Callable[[], float] = time.perf_counter


def progress(message: str) -> None:
    print(f"[prebuilt_bench] {message}", file=sys.stderr, flush=True)


class ScriptedModel(BaseChatModel):
    """Alternates a tool call (to each tool in turn) and a short answer; records nothing."""

    turn: int = 0

    @property
    def _llm_type(self) -> str:
        return "bench-scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.reply(messages))])

    def reply(self, messages: list[BaseMessage]) -> AIMessage:
        if isinstance(messages[-1], ToolMessage):
            return AIMessage(f"done: {messages[-1].content}")
        self.turn += 1
        name, args = (
            ("add", {"a": self.turn, "b": 1}) if self.turn % 2 else ("echo", {"text": "hi"})
        )
        call_id = f"call-{self.turn}"
        return AIMessage(
            "", tool_calls=[{"name": name, "args": args, "id": call_id, "type": "tool_call"}]
        )


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def echo(text: str) -> str:
    """Echo the text."""
    return text


TOOLS: list[BaseTool] = [add, echo]


def make_agent(side: str, saver_kind: str, model: ScriptedModel) -> Any:
    if side == "threadloom":
        from threadloom.checkpoint.memory import InMemorySaver
        from threadloom.checkpoint.sqlite import SqliteSaver
        from threadloom.prebuilt import create_react_agent
    else:
        import warnings

        warnings.filterwarnings("ignore", category=DeprecationWarning)
        from langgraph.checkpoint.memory import InMemorySaver  # type: ignore[no-redef]
        from langgraph.checkpoint.sqlite import SqliteSaver  # type: ignore[no-redef]
        from langgraph.prebuilt import create_react_agent  # type: ignore[no-redef]
    saver: Any
    if saver_kind == "memory":
        saver = InMemorySaver()
    else:
        path = f"{tempfile.mkdtemp(prefix='prebuilt-bench-')}/{side}.db"
        saver = (
            SqliteSaver(path)
            if side == "threadloom"
            else SqliteSaver(sqlite3.connect(path, check_same_thread=False))
        )
        saver.setup()
    return create_react_agent(model, TOOLS, checkpointer=saver)


def direct_cost(history: list[BaseMessage], model: ScriptedModel) -> float:
    """Milliseconds for the model and tool calls of one turn made directly, on ``history``."""
    probe = model.model_copy()
    messages = [*history, HumanMessage("direct")]
    start = CLOCK()
    first = probe.invoke(messages)
    call = first.tool_calls[0]  # type: ignore[union-attr]
    result = {t.name: t for t in TOOLS}[call["name"]].invoke({**call, "type": "tool_call"})
    probe.invoke([*messages, first, result])
    return (CLOCK() - start) * 1000


def bench_side(
    side: str, saver_kind: str, checkpoints: list[int], window: int
) -> dict[int, tuple[float, float]]:
    """Per checkpoint: (median turn ms, median overhead ms per superstep)."""
    model = ScriptedModel()
    agent = make_agent(side, saver_kind, model)
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    done = 0
    out: dict[int, tuple[float, float]] = {}

    def turn() -> list[BaseMessage]:
        nonlocal done
        result = agent.invoke({"messages": [HumanMessage(f"turn {done}")]}, config)
        done += 1
        return list(result["messages"])

    history: list[BaseMessage] = []
    for target in checkpoints:
        while done < target:
            history = turn()
        turns, overheads = [], []
        for _ in range(window):
            start = CLOCK()
            history = turn()
            elapsed = (CLOCK() - start) * 1000
            turns.append(elapsed)
            overheads.append((elapsed - direct_cost(history[:-4], model)) / STEPS_PER_TURN)
        out[target] = (statistics.median(turns), statistics.median(overheads))
        assert len(history) == 4 * done, "every turn adds human, ai, tool, ai"
        progress(
            f"{side}/{saver_kind} @{target}: turn {out[target][0]:.3f} ms, overhead/step {out[target][1]:.3f} ms"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer timed turns per checkpoint")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="what to time")
    parser.add_argument("--saver", choices=["memory", "sqlite", "both"], default="both")
    parser.add_argument("--only", choices=["threadloom", "langgraph"], help="run one side")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    progress(f"timing with the {args.clock} clock")
    checkpoints = [10, 50, 100, 200]
    window = 10 if args.quick else 30
    savers = ["memory", "sqlite"] if args.saver == "both" else [args.saver]
    sides = [args.only] if args.only else ["threadloom", "langgraph"]
    results = {
        (side, s): bench_side(side, s, checkpoints, window) for s in savers for side in sides
    }
    if len(sides) == 2:
        print(
            "| saver | thread length (turns) | threadloom turn (ms) | LangGraph turn (ms) "
            "| threadloom overhead/step (ms) | LangGraph overhead/step (ms) | LangGraph / threadloom |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|")
        for saver in savers:
            for n in checkpoints:
                (t_ours, o_ours), (t_lg, o_lg) = (
                    results[("threadloom", saver)][n],
                    results[("langgraph", saver)][n],
                )
                print(
                    f"| {saver} | {n} | {t_ours:.3f} | {t_lg:.3f} | {o_ours:.3f} | {o_lg:.3f} | {o_lg / o_ours:.1f}x |"
                )
    else:
        print("| saver | thread length (turns) | turn (ms) | overhead/step (ms) |")
        print("|---|---:|---:|---:|")
        for saver in savers:
            for n in checkpoints:
                t, o = results[(sides[0], saver)][n]
                print(f"| {saver} | {n} | {t:.3f} | {o:.3f} |")


if __name__ == "__main__":
    main()
