"""Chat-message state: the ``add_messages`` reducer and :class:`MessagesState`.

Example::

    from threadloom.graph.message import add_messages

    history = add_messages([], [("user", "hi")])
    history = add_messages(history, {"role": "assistant", "content": "hello"})
    assert [m.type for m in history] == ["human", "ai"]
"""

from __future__ import annotations

import functools
from typing import Annotated, Any, Literal, cast

from langchain_core.messages import (
    AnyMessage,
    BaseMessage,
    BaseMessageChunk,
    RemoveMessage,
    convert_to_messages,
    convert_to_openai_messages,
    message_chunk_to_message,
)
from typing_extensions import TypedDict

from threadloom.channels.messages import REMOVE_ALL_MESSAGES, normalize_messages
from threadloom.errors import InvalidUpdateError

__all__ = ["REMOVE_ALL_MESSAGES", "MessagesState", "add_messages", "push_message"]

Messages = Any
"""A message, a list of messages, or anything message-like (dict, tuple, str)."""


def add_messages(
    left: Messages = None,
    right: Messages = None,
    *,
    format: Literal["langchain-openai"] | None = None,
) -> Any:
    """Merge ``right`` into ``left`` by message id; neither input is modified.

    ``add_messages(format="langchain-openai")`` (no messages) returns the
    reducer that also converts the merged messages to OpenAI's content format
    (text and ``image_url`` blocks), for ``Annotated[list, add_messages(format=...)]``.

    Message-likes (dicts, ``(role, content)`` tuples, strings) become
    messages and get a uuid when they have no id. A message whose id is
    already in ``left`` replaces it in place; ``RemoveMessage(id)`` deletes
    that message (an unknown id is an :class:`InvalidUpdateError`);
    ``RemoveMessage(id=REMOVE_ALL_MESSAGES)`` drops everything before it.

    Example::

        from langchain_core.messages import AIMessage, RemoveMessage

        msgs = add_messages([], [AIMessage("draft", id="a1")])
        msgs = add_messages(msgs, AIMessage("final", id="a1"))
        assert [m.content for m in msgs] == ["final"]
        assert add_messages(msgs, RemoveMessage(id="a1")) == []
    """
    if format not in (None, "langchain-openai"):
        raise ValueError(
            f"Unrecognized format={format!r}. Expected one of 'langchain-openai', None."
        )
    if left is None and right is None:
        return functools.partial(_merge_formatted if format else add_messages, format=format)
    if left is None or right is None:
        raise ValueError(
            "Must specify non-null arguments for both 'left' and 'right'. Only received: "
            f"'{'left' if left is not None else 'right'}'."
        )
    merged = _merge(left, right)
    return _openai_format(merged) if format else merged


def _merge_formatted(left: Messages, right: Messages, *, format: str | None) -> list[BaseMessage]:
    return _openai_format(_merge(left, right))


def _openai_format(messages: list[BaseMessage]) -> list[BaseMessage]:
    """The messages with their content in OpenAI's format (tool results as their own messages)."""
    return convert_to_messages(convert_to_openai_messages(messages))


def _merge(left: Messages, right: Messages) -> list[BaseMessage]:
    merged = normalize_messages(left)
    index = {m.id: i for i, m in enumerate(merged)}
    removed: set[str] = set()
    for message in normalize_messages(right):
        mid = message.id
        assert mid is not None
        if isinstance(message, RemoveMessage):
            if mid == REMOVE_ALL_MESSAGES:
                merged, index, removed = [], {}, set()
            elif mid in index:
                removed.add(mid)
            else:
                raise InvalidUpdateError(
                    f"Attempting to delete a message with an ID that doesn't exist ('{mid}')"
                )
        elif mid in index:
            merged[index[mid]] = message
            removed.discard(mid)
        else:
            index[mid] = len(merged)
            merged.append(message)
    if removed:
        merged = [m for m in merged if m.id not in removed]
    return merged


def _messages_delta_reducer(state: Messages, writes: list[Messages]) -> list[BaseMessage]:
    """:func:`add_messages` over a batch of writes: the reducer for a messages ``DeltaChannel``.

    LangGraph's name, for ``Annotated[list, DeltaChannel(_messages_delta_reducer)]``.
    """
    items: list[Any] = []
    for write in writes:
        items.extend(normalize_messages(write))
    return _merge(state or [], items)


def push_message(message: Any, *, state_key: str | None = "messages") -> AnyMessage:
    """Send ``message`` on the ``messages`` stream now, and write it to ``state_key``.

    For messages a node builds itself (not from a chat model it calls). The
    message needs an id (a ``ValueError`` otherwise), so that the state keeps
    it once however often it is streamed. ``state_key=None`` only streams it.
    Call it from inside a node; returns the message.
    """
    from threadloom._engine._context import current_scope
    from threadloom._engine._messages import ns_path_of

    task = current_scope("push_message")
    item = convert_to_messages([message])[0]
    if isinstance(item, BaseMessageChunk):
        item = message_chunk_to_message(item)
    if item.id is None:
        raise InvalidUpdateError("Message ID is required")
    handler = task.run.callbacks_handler
    if handler is not None:
        if task.config is None:
            task.config = task.run.task_config(task)
        metadata = task.config["metadata"]
        handler._send((ns_path_of(metadata), metadata), item)
    if state_key:
        task.writes.append((state_key, item))
    return cast(AnyMessage, item)


class MessagesState(TypedDict):
    """A state with one key, ``messages``, merged with :func:`add_messages`."""

    messages: Annotated[list[AnyMessage], add_messages]
