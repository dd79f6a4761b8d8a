"""The ``messages`` stream mode: LLM tokens from inside nodes, with their metadata.

A callback handler rides on each node's config. LangChain chat models stream
through it (it marks itself as a streaming handler, so ``model.invoke``
streams too), and messages a node returns that were not streamed are sent
once the node finishes.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGenerationChunk, LLMResult
from langchain_core.tracers._streaming import _StreamingCallbackHandler

from threadloom._engine._timeout import progress

__all__ = ["StreamMessagesHandler"]

T = TypeVar("T")

Emit = Callable[[tuple[str, ...], tuple[BaseMessage, dict[str, Any]]], None]


def ns_path_of(metadata: dict[str, Any]) -> tuple[str, ...]:
    """The stream namespace of the graph a node ran in, from its checkpoint namespace."""
    ns = metadata.get("langgraph_checkpoint_ns") or ""
    return tuple(ns.split("|")[:-1]) if ns else ()


class StreamMessagesHandler(BaseCallbackHandler, _StreamingCallbackHandler):
    """Forwards chat-model chunks (and node-returned messages) as ``(message, metadata)``."""

    run_inline = True

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.runs: dict[UUID, tuple[tuple[str, ...], dict[str, Any]]] = {}
        self.streamed: set[UUID] = set()
        self.seen: set[str] = set()

    def tap_output_iter(self, run_id: UUID, output: Iterator[T]) -> Iterator[T]:
        """Pass the output through unchanged."""
        return output

    def tap_output_aiter(self, run_id: UUID, output: AsyncIterator[T]) -> AsyncIterator[T]:
        """Pass the output through unchanged."""
        return output

    def _send(self, key: tuple[tuple[str, ...], dict[str, Any]], message: BaseMessage) -> None:
        if message.id is not None:
            self.seen.add(message.id)
        self.emit(key[0], (message, key[1]))
        progress()  # a streamed message moves a timed node's idle deadline (refresh_on="auto")

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Remember which node a model call belongs to."""
        if metadata and "langgraph_node" in metadata and not (tags and "nostream" in tags):
            user_tags = [t for t in tags or () if not t.startswith("seq:step:")]
            if user_tags:  # the model's and the caller's tags, as LangGraph passes them on
                metadata = {**metadata, "tags": user_tags}
            self.runs[run_id] = (ns_path_of(metadata), _integration_first(metadata))

    def on_llm_new_token(
        self,
        token: Any,
        *,
        chunk: Any = None,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        """Send each streamed chunk."""
        key = self.runs.get(run_id)
        if key is None or not isinstance(chunk, ChatGenerationChunk):
            return
        self.streamed.add(run_id)
        self._send(key, chunk.message)

    def on_llm_end(
        self, response: LLMResult, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        """Send the whole message of a model call that did not stream."""
        key = self.runs.pop(run_id, None)
        streamed = run_id in self.streamed
        self.streamed.discard(run_id)
        if key is None:
            return
        if streamed:
            for generations in response.generations:
                for gen in generations:
                    message = getattr(gen, "message", None)
                    if isinstance(message, BaseMessage) and message.id is not None:
                        self.seen.add(message.id)
            return
        for generations in response.generations:
            for gen in generations:
                message = getattr(gen, "message", None)
                if isinstance(message, BaseMessage):
                    self._send(key, message)

    def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Forget a failed model call."""
        self.runs.pop(run_id, None)
        self.streamed.discard(run_id)

    def node_output(self, metadata: dict[str, Any], update: Any, node_input: Any) -> None:
        """Send the messages a node returned that it neither streamed nor received as input.

        The messages of every node's input count as seen from then on (LangGraph marks
        them when the node starts): a graph that returns them again, such as a subgraph
        resumed in a later request, does not send them twice.
        """
        known = _message_ids(node_input)
        updates = update if isinstance(update, list) else [update]  # a list of Commands' updates
        values = [v for u in updates if isinstance(u, dict) for v in u.values()]
        if values:
            key = (ns_path_of(metadata), _integration_first(metadata))
            for value in values:
                items = value if isinstance(value, (list, tuple)) else [value]
                for item in items:
                    if not isinstance(item, BaseMessage) or item.id in self.seen:
                        continue
                    if item.id is None:
                        # The same id the messages channel would give it, so a parent graph
                        # receiving this message back knows it was streamed already.
                        item.id = str(uuid.uuid4())
                        self._send(key, item)
                    elif item.id not in known:
                        self._send(key, item)
        known.discard(None)
        self.seen |= known


def _integration_first(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata in the order LangGraph's messages carry it: ``ls_integration`` (the
    model's, else ``"langgraph"``, which the graph's run gives every run under it)
    before the node's ``langgraph_*`` keys, where the graph's run put it first."""
    if "langgraph_step" not in metadata:
        return (
            metadata
            if "ls_integration" in metadata
            else {**metadata, "ls_integration": "langgraph"}
        )
    integration = metadata.get("ls_integration", "langgraph")
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if key == "langgraph_step":
            out["ls_integration"] = integration
        if key != "ls_integration":
            out[key] = value
    return out


def _message_ids(value: Any) -> set[Any]:
    """Ids of the messages in a node's input (a state dict or object)."""
    values = value.values() if isinstance(value, dict) else getattr(value, "__dict__", {}).values()
    ids: set[Any] = set()
    for item in values:
        for message in item if isinstance(item, (list, tuple)) else [item]:
            if isinstance(message, BaseMessage):
                ids.add(message.id)
    return ids
