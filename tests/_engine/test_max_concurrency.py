"""``config["max_concurrency"]`` caps how many tasks of one step run at once."""

from __future__ import annotations

import asyncio
import operator
import threading
import time
from typing import Annotated, Any

from threadloom.graph import START, StateGraph
from threadloom.testing.graph import GraphClient
from threadloom.types import Send


class Gauge:
    """Counts the calls running at once, from threads or coroutines."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


async def test_max_concurrency_caps_a_fan_out(client: GraphClient) -> None:
    """Twenty Send tasks run at most four at a time with max_concurrency=4, all of them finish."""
    gauge = Gauge()

    def worker(item: Any) -> list[Any]:
        gauge.enter()
        time.sleep(0.01)
        gauge.leave()
        return [item]

    builder = StateGraph(Annotated[list, operator.add])
    builder.add_node("worker", worker)
    builder.add_conditional_edges(START, lambda s: [Send("worker", i) for i in range(20)])
    graph = builder.compile()
    out = await client.invoke(graph, [], {"max_concurrency": 4})
    assert sorted(out) == list(range(20))
    assert gauge.peak <= 4


async def test_async_nodes_respect_max_concurrency() -> None:
    """Async tasks are gated the same way."""
    gauge = Gauge()

    async def worker(item: Any) -> list[Any]:
        gauge.enter()
        await asyncio.sleep(0.01)
        gauge.leave()
        return [item]

    builder = StateGraph(Annotated[list, operator.add])
    builder.add_node("worker", worker)
    builder.add_conditional_edges(START, lambda s: [Send("worker", i) for i in range(30)])
    out = await builder.compile().ainvoke([], {"max_concurrency": 5})
    assert len(out) == 30
    assert gauge.peak == 5
