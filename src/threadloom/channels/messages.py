"""The messages channel: an append-mostly list of chat messages, merged by id.

It keeps an id -> position index, so appending ``k`` messages costs O(k)
whatever the history length, and it can describe a step's change as a
delta (the normalized writes) so a checkpoint stores only new messages.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    BaseMessage,
    BaseMessageChunk,
    convert_to_messages,
    message_chunk_to_message,
)

from threadloom.channels.base import MISSING, BaseChannel
from threadloom.channels.overwrite import find_overwrite
from threadloom.checkpoint._replay import REMOVE_ALL_MESSAGES, ReplayedList, apply_by_id
from threadloom.checkpoint.base import ChannelVersion, DeltaChain, DeltaValue
from threadloom.errors import InvalidUpdateError

__all__ = ["REMOVE_ALL_MESSAGES", "MessagesChannel", "normalize_messages"]

#: A delta chain may replay at most this many messages, or the history length if larger.
MIN_REPLAY_BOUND = 64
#: A delta chain may join at most this many deltas, or a quarter of the history if larger.
#: Growing the bound with the history keeps the amortized cost of snapshots per turn flat.
MIN_DEPTH_BOUND = 32


def normalize_messages(value: Any) -> list[BaseMessage]:
    """Messages from a message-like value: dicts, ``(role, content)`` tuples, strings, messages.

    Chunks become whole messages and every message gets an id (a uuid4).
    """
    if isinstance(value, BaseMessage):
        items: list[Any] = [value]
    elif isinstance(value, (list, tuple)) and not _is_role_tuple(value):
        items = list(value)
    else:
        items = [value]
    messages: list[Any] = items
    if not all(isinstance(m, BaseMessage) for m in items):  # messages convert to themselves
        try:
            messages = convert_to_messages(items)
        except (ValueError, TypeError, NotImplementedError) as exc:
            raise InvalidUpdateError(f"cannot turn {value!r} into chat messages: {exc}") from exc
    out: list[BaseMessage] = []
    for message in messages:
        if isinstance(message, BaseMessageChunk):
            message = message_chunk_to_message(message)
        if message.id is None:
            message.id = str(uuid.uuid4())
        out.append(message)
    return out


def _is_role_tuple(value: Any) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], (str, list))
    )


class MessagesChannel(BaseChannel):
    """A list of messages where a known id replaces, ``RemoveMessage`` deletes, others append.

    Example::

        ch = MessagesChannel("messages")
        ch.update([[("user", "hi")]])
        assert ch.get()[0].content == "hi"
    """

    __slots__ = ("_base", "_chain", "_delta", "_depth", "_index", "_msgs", "track_delta")

    supports_delta = True

    def __init__(self, key: str = "") -> None:
        super().__init__(key)
        self._msgs: list[BaseMessage] = []
        self._index: dict[str, int] = {}
        # Delta bookkeeping, used only when a checkpointer is attached.
        self.track_delta = False
        self._delta: list[list[BaseMessage]] = []
        self._base: Any = MISSING
        self._chain = 0
        self._depth = 0

    def new(self) -> MessagesChannel:
        """An empty messages channel."""
        return MessagesChannel(self.key)

    def get(self) -> list[BaseMessage]:
        """A shallow copy of the messages, so a node appending to it changes nothing here."""
        return list(self._msgs)

    def is_available(self) -> bool:
        """Always: the channel starts as an empty list."""
        return True

    def __len__(self) -> int:
        return len(self._msgs)

    def update(self, values: Sequence[Any]) -> bool:
        """Merge each write into the list, in order (an ``Overwrite`` replaces the list)."""
        if not values:
            return False
        found, replacement = find_overwrite(self.key, values)
        if found:
            self._msgs, self._index = [], {}
            self._apply(normalize_messages(replacement))
            self._delta = []
            self._base = MISSING  # a delta cannot say it: the next checkpoint stores the list
            return True
        for value in values:
            normalized = normalize_messages(value)
            self._apply(normalized)
            if self.track_delta:
                self._delta.append(normalized)
        return True

    def _apply(self, messages: list[BaseMessage]) -> None:
        # The same rules a saver uses to join a stored delta chain (checkpoint._replay).
        try:
            apply_by_id(self._msgs, self._index, messages)
        except KeyError as e:
            raise InvalidUpdateError(
                f"RemoveMessage for id '{e.args[0]}', but no message in '{self.key}' has that id"
            ) from None

    def checkpoint(self) -> Any:
        """A full copy of the list."""
        return list(self._msgs)

    def copy(self) -> MessagesChannel:
        """An independent channel with the same messages (no re-normalization)."""
        channel = MessagesChannel(self.key)
        channel._msgs = list(self._msgs)
        channel._index = dict(self._index)
        return channel

    def _restore(self, value: Any) -> None:
        if isinstance(value, ReplayedList):  # joined by the saver: ids are unique
            self._msgs = list(value)
            self._index = {m.id: i for i, m in enumerate(self._msgs) if m.id is not None}
            self._count_chain(value.chain)
        elif isinstance(value, DeltaChain):
            if value.has_snapshot and value.snapshot is not MISSING:
                self._apply(normalize_messages(value.snapshot))
            for write in value.writes:
                self._apply(normalize_messages(write))
            self._count_chain(value)
        else:
            self._apply(normalize_messages(value))

    # --- deltas -------------------------------------------------------------

    def _count_chain(self, chain: DeltaChain) -> None:
        """Carry on the replay length of the chain this channel was read from."""
        self._chain = sum(len(w) if isinstance(w, list) else 1 for w in chain.writes)
        self._depth = chain.depth

    def checkpoint_delta(self) -> Any:
        """What to persist after a step that changed the channel: a delta when it is cheap.

        A full copy is sent when there is no saved base yet or when replaying the
        chain would cost more than reading the whole list again.
        """
        if not self.track_delta:
            return list(self._msgs)
        delta = self._delta
        self._delta = []
        added = sum(len(w) for w in delta)
        size = len(self._msgs)
        if (
            self._base is MISSING
            or self._chain + added > max(MIN_REPLAY_BOUND, size)
            or self._depth >= max(MIN_DEPTH_BOUND, size // 4)
        ):
            self._chain = 0
            self._depth = 0
            return list(self._msgs)
        self._chain += added
        self._depth += 1
        return DeltaValue(base_version=self._base, writes=tuple(delta))

    def mark_saved(self, version: ChannelVersion) -> None:
        """Record that the checkpoint holding ``version`` of this channel was stored."""
        self.track_delta = True
        self._base = version
        self._delta = []
