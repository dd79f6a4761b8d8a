"""The compiled graph as a LangChain ``Runnable``, and the views of its nodes.

LangGraph's compiled graph is a ``Runnable``, so programs pipe it (``graph | parser``),
bind it (``with_config``, ``with_retry``), batch it, turn it into a tool (``as_tool``)
and read its events (``astream_events``, ``astream_log``). :class:`RunnableGraph`
is that base: LangChain builds all of these on ``invoke``/``stream`` and their
async twins, which the compiled graph defines; the callbacks that
``astream_events`` relies on are reported by ``_tracing``.
"""

from __future__ import annotations

import typing
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, create_model

from threadloom.warnings import LangGraphDeprecatedSinceV10

if TYPE_CHECKING:
    from threadloom._engine._spec import GraphSpec, NodeSpec

__all__ = ["GraphNode", "RunnableGraph"]


class GraphNode:
    """A node of a compiled graph, as ``graph.nodes[name]`` shows it.

    ``bound`` is what the node runs (the function or runnable given to
    ``add_node``); ``invoke``/``ainvoke`` call it directly, outside any run.
    """

    __slots__ = ("bound", "metadata", "name", "triggers")

    def __init__(self, spec: NodeSpec) -> None:
        assert spec.func is not None  # START is not a node
        self.name = spec.name
        self.bound: Any = spec.func.fn
        self.triggers: list[str] = list(spec.triggers)
        self.metadata: dict[str, Any] = dict(spec.metadata)

    def copy(self, update: dict[str, Any]) -> GraphNode:
        """A new view of the node, with the attributes in ``update`` replaced."""
        clone = object.__new__(GraphNode)
        for key in GraphNode.__slots__:
            setattr(clone, key, getattr(self, key))
        for key, value in update.items():
            if key not in GraphNode.__slots__:
                raise TypeError(f"copy() cannot set {key!r}: a node has no such attribute")
            setattr(clone, key, value)
        return clone

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Run the node's action on ``input``."""
        if isinstance(self.bound, Runnable):
            return self.bound.invoke(input, config, **kwargs)
        return self.bound(input)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        """Async twin of :meth:`invoke`."""
        if isinstance(self.bound, Runnable):
            return await self.bound.ainvoke(input, config, **kwargs)
        out = self.bound(input)
        return await out if hasattr(out, "__await__") else out

    def __repr__(self) -> str:
        return f"GraphNode({self.name!r}, bound={self.bound!r})"


class RunnableGraph(Runnable[Any, Any]):
    """What a compiled graph is besides its runs: a LangChain ``Runnable`` with typed I/O."""

    spec: GraphSpec
    input_type: Any
    output_type: Any

    @property
    def nodes(self) -> Mapping[str, Any]:
        """The graph's nodes by name (each a :class:`GraphNode`)."""
        return {name: GraphNode(node) for name, node in self.spec.nodes.items()}

    @property
    def InputType(self) -> Any:
        """The type ``invoke`` accepts."""
        return Any if self.input_type is None else self.input_type

    @property
    def OutputType(self) -> Any:
        """The type ``invoke`` returns."""
        return Any if self.output_type is None else self.output_type

    async def aget_graph(self, config: Any = None, *, xray: int | bool = False) -> Any:
        """:meth:`get_graph`, for async callers."""
        if not xray:
            return self.get_graph(config)
        return self.get_graph(config, xray=xray)  # type: ignore[call-arg]  # graphs that draw take it

    # LangGraph replaced the run config's schema with the context schema; these stay, deprecated.

    def config_schema(self, *, include: Sequence[str] | None = None) -> type[BaseModel]:
        """Deprecated: the context schema as ``configurable``, plus the ``include``d config keys."""
        warnings.warn(
            "`config_schema` is deprecated. Use `get_context_jsonschema` for the relevant schema instead.",
            LangGraphDeprecatedSinceV10,
            stacklevel=2,
        )
        return self._config_model(include)

    def get_config_jsonschema(self, *, include: Sequence[str] | None = None) -> dict[str, Any]:
        """Deprecated: the JSON schema of :meth:`config_schema`."""
        warnings.warn(
            "`get_config_jsonschema` is deprecated. Use `get_context_jsonschema` instead.",
            LangGraphDeprecatedSinceV10,
            stacklevel=2,
        )
        return self._config_model(include).model_json_schema()

    def _config_model(self, include: Sequence[str] | None) -> type[BaseModel]:
        fields: dict[str, Any] = {}
        context = getattr(self, "context_schema", None)
        if context is not None:
            fields["configurable"] = (context, None)
        hints = typing.get_type_hints(RunnableConfig)
        for key in include or ():
            if key != "configurable" and key in hints:
                fields[key] = (hints[key], None)
        return create_model(self.get_name("Config"), **fields)
