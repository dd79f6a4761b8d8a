"""Keeping ``UntrackedValue`` keys out of stored ``Send`` packets."""

from __future__ import annotations

from typing import Any

from threadloom._engine._saving import without_untracked
from threadloom.channels.base import MISSING
from threadloom.channels.topic import Topic

__all__ = ["SendTopic", "untracked_keys"]


def untracked_keys(channels: dict[str, Any]) -> frozenset[str]:
    """The state keys whose channels are never persisted."""
    return frozenset(k for k, c in channels.items() if c.untracked)


class SendTopic(Topic):
    """The graph's ``Send`` queue; its checkpoint drops untracked keys from each packet's state."""

    __slots__ = ("drop_keys",)

    def __init__(self, key: str, untracked: frozenset[str]) -> None:
        super().__init__(key=key)
        self.drop_keys = untracked

    def new(self) -> SendTopic:
        """An empty queue with the same untracked keys."""
        return SendTopic(self.key, self.drop_keys)

    def checkpoint(self) -> Any:
        """The packets, each without the untracked keys of its state."""
        values = super().checkpoint()
        if values is MISSING:
            return values
        return [without_untracked(v, self.drop_keys) for v in values]
