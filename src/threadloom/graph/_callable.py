"""What ``StateGraph.nodes[name].runnable`` is for a node given as a plain function."""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda

from threadloom._engine._injection import NodeFunc

__all__ = ["NodeCallable", "node_runnable"]


class NodeCallable(Runnable[Any, Any]):
    """A node function as a LangChain runnable, with LangGraph's attributes: ``func`` (the
    function, ``None`` if it is async only), ``afunc`` (the async function, else ``None``)
    and ``name``. Invoking it calls the function with the input as its state."""

    def __init__(self, action: Any, name: str) -> None:
        async_only = NodeFunc(action, f"node '{name}'").is_async_only
        self.func: Any = None if async_only else action
        self.afunc: Any = action if async_only else None
        self.name = name
        self._call = RunnableLambda(action, name=name)

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self._call.invoke(input, config, **kwargs)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return await self._call.ainvoke(input, config, **kwargs)


def node_runnable(action: Any, name: str) -> Any:
    """A node's action as a runnable: a runnable (or compiled graph) as it is, a function wrapped."""
    if NodeFunc(action, f"node '{name}'").is_runnable:
        return action
    return NodeCallable(action, name)
