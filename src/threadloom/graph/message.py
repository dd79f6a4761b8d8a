"""Chat-message state: the ``add_messages`` reducer and :class:`MessagesState`.

Example::

    from threadloom.graph.message import add_messages

    history = add_messages([], [("user", "hi")])
    history = add_messages(history, {"role": "assistant", "content": "hello"})
    assert [m.type for m in history] == ["human", "ai"]
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.messages import AnyMessage, BaseMessage, RemoveMessage
from typing_extensions import TypedDict

from threadloom.channels.messages import REMOVE_ALL_MESSAGES, normalize_messages
from threadloom.errors import InvalidUpdateError

__all__ = ["REMOVE_ALL_MESSAGES", "MessagesState", "add_messages"]

Messages = Any
"""A message, a list of messages, or anything message-like (dict, tuple, str)."""


def add_messages(left: Messages, right: Messages) -> list[BaseMessage]:
    """Merge ``right`` into ``left`` by message id; neither input is modified.

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
                    f"RemoveMessage for id '{mid}', but no message has that id"
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


class MessagesState(TypedDict):
    """A state with one key, ``messages``, merged with :func:`add_messages`."""

    messages: Annotated[list[AnyMessage], add_messages]
