"""The shallow PostgreSQL savers: a thread keeps its latest checkpoint only."""

from __future__ import annotations

import operator
import warnings
from typing import Annotated, Any

import pytest
from typing_extensions import TypedDict

from threadloom.checkpoint.postgres import ShallowPostgresSaver
from threadloom.checkpoint.postgres.aio import AsyncShallowPostgresSaver
from threadloom.graph import START, MessagesState, StateGraph
from threadloom.types import Command, interrupt


class Log(TypedDict):
    log: Annotated[list[str], operator.add]


def _graph(saver: Any) -> Any:
    def ask(state: Log) -> Log:
        return {"log": [f"answer: {interrupt('question')}"]}

    builder = StateGraph(Log)
    builder.add_node("first", lambda s: {"log": ["first"]})
    builder.add_node("ask", ask)
    builder.add_edge(START, "first")
    builder.add_edge("first", "ask")
    return builder.compile(checkpointer=saver)


def _quiet(cls: Any, *args: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return cls.from_conn_string(*args)


def test_a_thread_keeps_one_checkpoint_and_still_resumes(pg_dsn: str) -> None:
    with _quiet(ShallowPostgresSaver, pg_dsn) as saver:
        saver.setup()
        graph = _graph(saver)
        config = {"configurable": {"thread_id": "t"}}
        graph.invoke({"log": []}, config)
        assert len(list(saver.list(config))) == 1
        assert graph.get_state(config).next == ("ask",)
        assert graph.invoke(Command(resume="yes"), config) == {"log": ["first", "answer: yes"]}
        assert len(list(graph.get_state_history(config))) == 1
        other = {"configurable": {"thread_id": "other"}}
        graph.invoke({"log": []}, other)
        assert len(list(saver.list(config))) == 1  # each thread keeps its own latest


def test_message_deltas_stay_readable_after_older_checkpoints_go(pg_dsn: str) -> None:
    """Messages are stored as deltas on earlier values; dropping old checkpoints keeps
    what the latest one reads."""
    with _quiet(ShallowPostgresSaver, pg_dsn) as saver:
        saver.setup()
        builder = StateGraph(MessagesState)
        builder.add_node("echo", lambda s: {"messages": [("ai", f"#{len(s['messages'])}")]})
        builder.add_edge(START, "echo")
        graph = builder.compile(checkpointer=saver)
        config = {"configurable": {"thread_id": "chat"}}
        for turn in range(5):
            graph.invoke({"messages": [("user", f"turn {turn}")]}, config)
        contents = [m.content for m in graph.get_state(config).values["messages"]]
        assert contents == [x for t in range(5) for x in (f"turn {t}", f"#{2 * t + 1}")]
        assert len(list(saver.list(config))) == 1


async def test_the_async_saver_keeps_one_checkpoint(pg_dsn: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        opened = AsyncShallowPostgresSaver.from_conn_string(pg_dsn)
    async with opened as saver:
        await saver.setup()
        graph = _graph(saver)
        config = {"configurable": {"thread_id": "t"}}
        await graph.ainvoke({"log": []}, config)
        await graph.ainvoke(Command(resume="ok"), config)
        assert [c async for c in saver.alist(config)].__len__() == 1
        assert (await graph.aget_state(config)).values == {"log": ["first", "answer: ok"]}


def test_they_warn_as_deprecated_and_refuse_a_pipeline(pg_dsn: str) -> None:
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        with pytest.warns(DeprecationWarning, match="durability='exit'"):
            ShallowPostgresSaver(conn)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            with pytest.raises(TypeError, match="takes no pipeline"):
                ShallowPostgresSaver(conn, pipe=object())
