"""``NodeBuilder``: a low-level node that subscribes to channels, runs functions and writes channels."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from threadloom._engine._context import current_scope
from threadloom._engine._injection import NodeFunc, cancellable
from threadloom._engine._results import NodeReturn
from threadloom.errors import GraphBuildError, InvalidUpdateError
from threadloom.types import RetryPolicy, TimeoutPolicy

__all__ = ["NodeBuilder", "PregelNode"]


@dataclass
class PregelNode:
    """A built node: what triggers it, what it reads, what it runs and where its output goes."""

    channels: str | list[str]
    """One channel (the node gets its value) or several (the node gets a dict)."""
    triggers: list[str]
    bound: list[Any] = field(default_factory=list)
    """In order: functions or runnables to apply, and lists of writes (see :class:`NodeBuilder`)."""
    retry_policy: Sequence[RetryPolicy] = ()
    cache_policy: Any = None
    timeout: TimeoutPolicy | None = None
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)

    def copy(self, update: dict[str, Any]) -> PregelNode:
        """A new node with the fields in ``update`` replaced."""
        return dataclasses.replace(self, **update)


_OUTPUT: Any = object()
"""The writer value meaning "the node's output"."""


class _Writes(list[tuple[str, Any, bool]]):
    """A ``write_to`` step: ``(channel, value, is_mapper)`` for a value, ``fn(output)`` or the output."""


class NodeBuilder:
    """Build a node step by step::

    node = NodeBuilder().subscribe_only("input").do(lambda x: x + 1).write_to("output")
    """

    def __init__(self) -> None:
        self._channels: str | list[str] = []
        self._triggers: list[str] = []
        self._bound: list[Any] = []
        self._retry: list[RetryPolicy] = []
        self._cache_policy: Any = None
        self._timeout: TimeoutPolicy | None = None
        self._tags: list[str] = []
        self._metadata: dict[str, Any] = {}

    def subscribe_only(self, channel: str) -> NodeBuilder:
        """Run when ``channel`` is updated; the node's input is that channel's value."""
        if self._channels:
            raise ValueError("subscribe_only() must be the only way this node reads channels")
        self._channels = channel
        self._triggers.append(channel)
        return self

    def subscribe_to(self, *channels: str, read: bool = True) -> NodeBuilder:
        """Run when any of ``channels`` is updated; with ``read`` the input dict includes them."""
        if isinstance(self._channels, str):
            raise ValueError("subscribe_to() cannot follow subscribe_only()")
        if read:
            self._channels.extend(c for c in channels if c not in self._channels)
        self._triggers.extend(channels)
        return self

    def read_from(self, *channels: str) -> NodeBuilder:
        """Also read ``channels`` into the input dict (without being triggered by them)."""
        if isinstance(self._channels, str):
            raise ValueError("read_from() cannot follow subscribe_only()")
        self._channels.extend(c for c in channels if c not in self._channels)
        return self

    def do(self, node: Any) -> NodeBuilder:
        """Apply ``node`` (a function or runnable) to the result so far."""
        self._bound.append(node)
        return self

    def write_to(self, *channels: str, **kwargs: Any) -> NodeBuilder:
        """Write the output to ``channels``; ``name=value`` writes a value, ``name=fn`` ``fn(output)``."""
        writes: list[tuple[str, Any, bool]] = [(c, _OUTPUT, False) for c in channels]
        writes.extend((name, value, callable(value)) for name, value in kwargs.items())
        self._bound.append(_Writes(writes))
        return self

    def meta(self, *tags: str, **metadata: Any) -> NodeBuilder:
        """Add tags and metadata to the node."""
        self._tags.extend(tags)
        self._metadata.update(metadata)
        return self

    def add_retry_policies(self, *policies: RetryPolicy) -> NodeBuilder:
        """Retry the node under these policies (the first whose ``retry_on`` matches decides)."""
        self._retry.extend(policies)
        return self

    def add_cache_policy(self, policy: Any) -> NodeBuilder:
        """Cache the node's results under ``policy``."""
        self._cache_policy = policy
        return self

    def set_timeout(self, timeout: Any) -> NodeBuilder:
        """Limit each attempt of the node (async functions only)."""
        self._timeout = TimeoutPolicy.coerce(timeout)
        return self

    def build(self) -> PregelNode:
        """The node, for ``Pregel(nodes={...})``."""
        return PregelNode(
            channels=self._channels,
            triggers=list(self._triggers),
            bound=list(self._bound),
            retry_policy=tuple(self._retry),
            cache_policy=self._cache_policy,
            timeout=self._timeout,
            tags=list(self._tags),
            metadata=dict(self._metadata),
        )


class NodeChain:
    """Runs a node's steps in order (functions, and the writes placed between them)."""

    def __init__(self, name: str, node: PregelNode, stream_keys: str | tuple[str, ...]) -> None:
        self.steps: list[NodeFunc | _Writes] = [
            step if isinstance(step, _Writes) else NodeFunc(step, f"node '{name}'")
            for step in node.bound
        ]
        self.name = name
        self.stream_keys = stream_keys
        funcs = [s for s in self.steps if isinstance(s, NodeFunc)]
        if node.timeout is not None and not all(cancellable(f) for f in funcs):
            raise GraphBuildError(
                f"node '{name}' has a timeout, which is only supported for async nodes "
                "(a sync function cannot be cancelled)"
            )
        # A timed node runs its steps asynchronously (runnables through ainvoke), so that
        # the attempt can be cancelled.
        self.is_async = node.timeout is not None or any(f.is_async_only for f in funcs)

    @staticmethod
    def _write(step: _Writes, output: Any, writes: list[tuple[str, Any]]) -> None:
        for channel, value, is_mapper in step:
            if value is _OUTPUT:
                writes.append((channel, output))
            elif is_mapper:
                writes.append((channel, value(output)))
            else:
                writes.append((channel, value))

    def _done(self, writes: list[tuple[str, Any]]) -> NodeReturn:
        # What ``stream_mode="updates"`` shows: the writes to the streamed channels.
        keys = self.stream_keys
        if isinstance(keys, str):
            shown = next((v for c, v in writes if c == keys), None)
        else:
            shown = {c: v for c, v in writes if c in keys} or None
        return NodeReturn(writes, shown)

    def update(self, value: Any) -> NodeReturn:
        """The writes ``update_state(value, as_node=...)`` makes: every write step, given ``value``."""
        writes: list[tuple[str, Any]] = []
        for step in self.steps:
            if isinstance(step, _Writes):
                self._write(step, value, writes)
        if not any(isinstance(step, _Writes) for step in self.steps):
            raise InvalidUpdateError(f"node '{self.name}' writes no channel: it cannot be updated as")
        return self._done(writes)

    def call(self, value: Any) -> NodeReturn:
        task = current_scope("node")
        writes: list[tuple[str, Any]] = []
        for step in self.steps:
            if isinstance(step, _Writes):
                self._write(step, value, writes)
            else:
                value = step.call(task, value)
        return self._done(writes)

    async def acall(self, value: Any) -> NodeReturn:
        task = current_scope("node")
        writes: list[tuple[str, Any]] = []
        for step in self.steps:
            if isinstance(step, _Writes):
                self._write(step, value, writes)
            else:
                value = await step.acall(task, value)
        return self._done(writes)

    @property
    def func(self) -> Callable[[Any], Any]:
        """The function the engine calls: async when any step is."""
        return self.acall if self.is_async else self.call
