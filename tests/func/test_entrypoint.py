"""``@entrypoint`` and ``@task``: futures, streaming, interrupts, resume and ``previous``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.func import entrypoint, task
from threadloom.testing.graph import GraphClient
from threadloom.types import Command, RetryPolicy, interrupt

THREAD = {"configurable": {"thread_id": "t"}}


@pytest.fixture(params=["memory", "sqlite"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield InMemorySaver()
        return
    with SqliteSaver.from_conn_string(tmp_path / "cp.sqlite") as sqlite_saver:
        yield sqlite_saver


async def test_tasks_return_futures_and_the_entrypoint_returns_its_value(
    client: GraphClient,
) -> None:
    """Task calls start at once and return futures; invoke returns the function's value."""

    @task
    def double(x: int) -> int:
        return 2 * x

    @entrypoint()
    def workflow(numbers: list[int]) -> int:
        futures = [double(n) for n in numbers]
        return sum(f.result() for f in futures)

    assert await client.invoke(workflow, [1, 2, 3]) == 12


async def test_stream_shows_each_task_then_the_entrypoint(client: GraphClient) -> None:
    """``stream`` yields one update per task call, named after the task, then the workflow's."""

    @task(name="first")
    def one(text: str) -> str:
        return text + "1"

    @task
    def two(text: str) -> str:
        return text + "2"

    @entrypoint()
    def flow(text: str) -> str:
        return two(one(text).result()).result()

    assert await client.stream(flow, "x") == [{"first": "x1"}, {"two": "x12"}, {"flow": "x12"}]


async def test_finished_tasks_are_not_run_again_on_resume(client: GraphClient, saver: Any) -> None:
    """A task that finished before an interrupt returns its saved result when the run resumes."""
    calls: list[int] = []

    @task
    def slow(x: int) -> str:
        calls.append(x)
        return str(x) * 2

    @entrypoint(checkpointer=saver)
    def flow(numbers: list[int]) -> list[str]:
        mapped = [f.result() for f in [slow(n) for n in numbers]]
        answer = interrupt("question")
        return [m + answer for m in mapped]

    out = await client.invoke(flow, [1, 2], THREAD)
    assert [i.value for i in out["__interrupt__"]] == ["question"]
    assert await client.invoke(flow, Command(resume="!"), THREAD) == ["11!", "22!"]
    assert sorted(calls) == [1, 2]
    assert (await client.get_state(flow, THREAD)).values == ["11!", "22!"]


async def test_a_task_still_running_at_an_interrupt_finishes_with_the_step(
    client: GraphClient, saver: Any
) -> None:
    """A task started but not yet awaited when the entrypoint interrupts still finishes before
    the step is saved: on resume it returns its saved result and does not run again."""
    calls: list[str] = []

    @task
    def slow(text: str) -> str:
        time.sleep(0.2)
        calls.append(text)
        return text + "!"

    @entrypoint(checkpointer=saver)
    def flow(text: str) -> str:
        pending = slow(text)
        answer = interrupt("go?")
        return pending.result() + answer

    out = await client.invoke(flow, "a", THREAD)
    assert [i.value for i in out["__interrupt__"]] == ["go?"]
    assert calls == ["a"]  # finished before invoke returned
    assert await client.invoke(flow, Command(resume="b"), THREAD) == "a!b"
    assert calls == ["a"]


async def test_interrupt_inside_a_task_resumes_that_task(client: GraphClient, saver: Any) -> None:
    """A task that calls ``interrupt()`` gets each resume value, once per pause."""

    @task
    def ask(text: str) -> str:
        return text + interrupt("more?")

    @entrypoint(checkpointer=saver)
    def flow(text: str) -> str:
        return ask(ask(text).result()).result()

    first = await client.invoke(flow, "a", THREAD)
    assert [i.value for i in first["__interrupt__"]] == ["more?"]
    second = await client.invoke(flow, Command(resume="b"), THREAD)
    assert [i.value for i in second["__interrupt__"]] == ["more?"]
    assert await client.invoke(flow, Command(resume="c"), THREAD) == "abc"


async def test_previous_and_final(client: GraphClient, saver: Any) -> None:
    """``previous`` is what the thread's last run saved: its return value or ``final(save=)``."""

    @entrypoint(checkpointer=saver)
    def total(n: int, *, previous: Any = None) -> Any:
        seen = previous or 0
        return entrypoint.final(value=seen, save=seen + n)

    assert await client.invoke(total, 5, THREAD) == 0
    assert await client.invoke(total, 2, THREAD) == 5
    assert await client.invoke(total, 0, THREAD) == 7


async def test_task_retry_policy() -> None:
    """A task with a retry policy is attempted again after a retried error."""
    attempts: list[int] = []

    @task(
        retry_policy=RetryPolicy(
            max_attempts=3, initial_interval=0.0, jitter=False, retry_on=ValueError
        )
    )
    def flaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) < 3:
            raise ValueError("not yet")
        return x

    @entrypoint()
    def flow(x: int) -> int:
        return flaky(x).result()

    assert flow.invoke(4) == 4
    assert attempts == [4, 4, 4]


async def test_async_tasks_are_awaitable() -> None:
    """In an async entrypoint, task calls return awaitables that run concurrently."""

    @task
    async def triple(x: int) -> int:
        await asyncio.sleep(0)
        return 3 * x

    @entrypoint()
    async def flow(xs: list[int]) -> list[int]:
        return list(await asyncio.gather(*(triple(x) for x in xs)))

    assert await flow.ainvoke([1, 2]) == [3, 6]


def test_task_outside_a_workflow_is_a_clear_error() -> None:
    """Calling a task outside an entrypoint or node raises instead of running unrecorded."""

    @task
    def alone(x: int) -> int:
        return x

    with pytest.raises(RuntimeError, match="inside an entrypoint"):
        alone(1)


def test_entrypoint_needs_an_input_parameter() -> None:
    """A function without an input parameter cannot be an entrypoint."""
    from threadloom.errors import GraphBuildError

    with pytest.raises(GraphBuildError):

        @entrypoint()
        def nothing() -> None:
            return None


def test_json_schemas_come_from_the_annotations() -> None:
    """Input/output schemas follow the function's annotations; ``final[R, S]`` returns ``R``."""
    from typing_extensions import TypedDict

    class Ctx(TypedDict):
        model: str

    @entrypoint(context_schema=Ctx)
    def typed(numbers: list[int]) -> entrypoint.final[int, list[str]]:
        return entrypoint.final(value=len(numbers), save=[])

    assert typed.get_input_jsonschema() == {
        "items": {"type": "integer"},
        "type": "array",
        "title": "LangGraphInput",
    }
    assert typed.get_output_jsonschema() == {"type": "integer", "title": "LangGraphOutput"}
    context = typed.get_context_jsonschema()
    assert context is not None and context["required"] == ["model"]
    with pytest.raises(TypeError):

        @entrypoint()
        def bad(x: int) -> entrypoint.final[int]:  # type: ignore[type-arg]
            return entrypoint.final(value=x, save=x)


async def test_update_state_sets_what_previous_sees(client: GraphClient, saver: Any) -> None:
    """``update_state`` on a workflow's thread is taken as its return value: the next ``previous``."""
    seen: list[Any] = []

    @entrypoint(checkpointer=saver)
    def flow(x: int, *, previous: Any = None) -> int:
        seen.append(previous)
        return x

    await client.update_state(flow, THREAD, 41)
    assert await client.invoke(flow, 1, THREAD) == 1
    assert await client.invoke(flow, 2, THREAD) == 2
    assert seen == [41, 1]


def test_task_updates_stream_while_the_workflow_runs() -> None:
    """Each task's update reaches the caller when the task finishes, not when the run ends."""
    import functools
    import time

    @task
    def slow(value: str, tag: str) -> str:
        time.sleep(0.05)
        return value + tag

    tagged = task(functools.partial(slow.func, tag="!"))  # named after the wrapped function

    @entrypoint()
    def flow(value: str) -> str:
        return tagged(slow(value, "?").result()).result()

    arrivals = []
    for part in flow.stream("x"):
        arrivals.append((time.monotonic(), part))
    assert [p for _, p in arrivals] == [{"slow": "x?"}, {"slow": "x?!"}, {"flow": "x?!"}]
    assert arrivals[1][0] - arrivals[0][0] > 0.03
