"""Run the same graph test through the sync API and the async API.

A test takes a :class:`GraphClient` and awaits its methods; parametrize the
fixture over :data:`FLAVOURS` and every test runs twice, once through
``invoke``/``stream``/``get_state``/... and once through their ``a``-twins::

    import pytest
    from threadloom.testing.graph import FLAVOURS, GraphClient

    @pytest.fixture(params=FLAVOURS)
    def client(request: pytest.FixtureRequest) -> GraphClient:
        return GraphClient(request.param)

    async def test_runs(client: GraphClient) -> None:
        assert await client.invoke(graph, {"x": 1}) == {"x": 2}

The sync flavour calls the sync method in a worker thread, as a sync program
would call it (no event loop running in that thread), so tests can also run
several sync calls concurrently with ``asyncio.gather``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from threadloom._engine._pregel import CompiledGraph
    from threadloom.types import StateSnapshot

__all__ = ["FLAVOURS", "Flavour", "GraphClient"]

Flavour = Literal["sync", "async"]
FLAVOURS: tuple[Flavour, ...] = ("sync", "async")


class GraphClient:
    """A compiled graph's API in one flavour; every method is awaitable and takes the graph first."""

    def __init__(self, flavour: Flavour) -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour must be one of {FLAVOURS}, got {flavour!r}")
        self.flavour = flavour

    def __repr__(self) -> str:
        return f"GraphClient({self.flavour!r})"

    @property
    def is_async(self) -> bool:
        """Whether calls go through the ``a``-prefixed methods."""
        return self.flavour == "async"

    async def _call(self, name: str, graph: CompiledGraph, *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return await getattr(graph, "a" + name)(*args, **kwargs)
        return await asyncio.to_thread(getattr(graph, name), *args, **kwargs)

    async def _collect(self, name: str, graph: CompiledGraph, *args: Any, **kwargs: Any) -> Any:
        if self.is_async:
            return [item async for item in getattr(graph, "a" + name)(*args, **kwargs)]
        return await asyncio.to_thread(lambda: list(getattr(graph, name)(*args, **kwargs)))

    async def invoke(self, graph: CompiledGraph, *args: Any, **kwargs: Any) -> Any:
        """``invoke`` / ``ainvoke``."""
        return await self._call("invoke", graph, *args, **kwargs)

    async def stream(self, graph: CompiledGraph, *args: Any, **kwargs: Any) -> list[Any]:
        """Every part of ``stream`` / ``astream``, in order."""
        return cast("list[Any]", await self._collect("stream", graph, *args, **kwargs))

    async def get_state(self, graph: CompiledGraph, *args: Any, **kwargs: Any) -> StateSnapshot:
        """``get_state`` / ``aget_state``."""
        return cast("StateSnapshot", await self._call("get_state", graph, *args, **kwargs))

    async def get_state_history(
        self, graph: CompiledGraph, *args: Any, **kwargs: Any
    ) -> list[StateSnapshot]:
        """Every snapshot of ``get_state_history`` / ``aget_state_history``, newest first."""
        return cast(
            "list[StateSnapshot]", await self._collect("get_state_history", graph, *args, **kwargs)
        )

    async def update_state(self, graph: CompiledGraph, *args: Any, **kwargs: Any) -> Any:
        """``update_state`` / ``aupdate_state``."""
        return await self._call("update_state", graph, *args, **kwargs)
