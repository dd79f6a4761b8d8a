"""``tasks``/``debug`` stream events of a workflow: the entrypoint's task shows the
workflow's input, each ``@task`` call is a pushed task with its arguments as
``(args, kwargs)`` and its return value as ``{"__return__": value}``."""

from __future__ import annotations

import contextlib
from typing import Any

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.func import entrypoint, task
from threadloom.testing.graph import GraphClient


@task
def add(a: int, b: int = 1) -> int:
    return a + b


@task
def refuse(value: int) -> int:
    raise ValueError("refused")


@entrypoint(checkpointer=InMemorySaver())
def flow(n: int) -> int:
    with contextlib.suppress(ValueError):
        refuse(n).result()
    return add(n, b=3).result()


def _shape(part: Any) -> Any:
    mode, payload = part
    shown = {k: v for k, v in payload.items() if k != "id"}
    if isinstance(shown.get("error"), Exception):
        shown["error"] = repr(shown["error"])
    return (mode, shown)


async def test_calls_are_reported_as_pushed_tasks(client: GraphClient) -> None:
    config = {"configurable": {"thread_id": "e"}}
    parts = await client.stream(flow, 2, config, stream_mode=["tasks", "updates"])
    assert [_shape(p) for p in parts] == [
        ("tasks", {"name": "flow", "input": 2, "triggers": ("__start__",)}),
        ("tasks", {"name": "refuse", "input": ((2,), {}), "triggers": ("__pregel_push",)}),
        (
            "tasks",
            {"name": "refuse", "error": "ValueError('refused')", "result": {}, "interrupts": []},
        ),
        ("tasks", {"name": "add", "input": ((2,), {"b": 3}), "triggers": ("__pregel_push",)}),
        ("updates", {"add": 5}),
        ("tasks", {"name": "add", "error": None, "result": {"__return__": 5}, "interrupts": []}),
        ("updates", {"flow": 5}),
        ("tasks", {"name": "flow", "error": None, "result": {"__end__": 5}, "interrupts": []}),
    ]
    ids = {p[1]["name"]: p[1]["id"] for p in parts if p[0] == "tasks"}
    assert len(set(ids.values())) == 3


async def test_a_call_event_and_its_result_share_the_step(client: GraphClient) -> None:
    config = {"configurable": {"thread_id": "d"}}
    events = await client.stream(flow, 1, config, stream_mode="debug")
    calls = [e for e in events if e["payload"].get("name") == "add"]
    assert [e["type"] for e in calls] == ["task", "task_result"]
    assert len({e["step"] for e in calls}) == 1


@task
def inc(a: int) -> int:
    return a + 1


@entrypoint(checkpointer=InMemorySaver())
def counter(n: int) -> int:
    return inc(n).result()


async def test_checkpoint_events_show_what_the_workflow_returned(client: GraphClient) -> None:
    """A workflow's checkpoint values are its return value (``None`` before it returned)."""
    config = {"configurable": {"thread_id": f"c-{client!r}"}}
    parts = await client.stream(counter, 1, config, stream_mode="checkpoints")
    assert [(p["metadata"]["source"], p["values"]) for p in parts] == [("input", None), ("loop", 2)]
    assert (await client.get_state(counter, config)).values == 2


@task
def fetch() -> str:
    return "fetched"


@entrypoint(checkpointer=InMemorySaver())
def asks(_: int) -> str:
    found = fetch().result()
    from threadloom.types import interrupt

    return f"{found} {interrupt('more?')}"


async def test_a_resumed_workflow_reports_a_finished_call_again_without_running_it(
    client: GraphClient,
) -> None:
    from threadloom.types import Command

    config = {"configurable": {"thread_id": f"r-{client!r}"}}
    await client.invoke(asks, 1, config)
    parts = await client.stream(asks, Command(resume="yes"), config, stream_mode="tasks")
    assert [(p["name"], "result" in p) for p in parts] == [
        ("asks", False),
        ("fetch", False),
        ("asks", True),
    ]
    assert parts[1]["input"] == ((), {}) and parts[1]["triggers"] == ("__pregel_push",)
    assert parts[2]["result"] == {"__end__": "fetched yes"}
