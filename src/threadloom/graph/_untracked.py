"""Keeping ``UntrackedValue`` keys out of stored ``Send`` packets."""

from __future__ import annotations

from typing import Any

from threadloom.channels.base import MISSING
from threadloom.channels.topic import Topic
from threadloom.types import Send

__all__ = ["SendTopic", "untracked_keys"]


def untracked_keys(channels: dict[str, Any]) -> frozenset[str]:
    """The state keys whose channels are never persisted."""
    return frozenset(k for k, c in channels.items() if getattr(c, "untracked", False))


class SendTopic(Topic):
    """The graph's ``Send`` queue; its checkpoint drops untracked keys from each packet's state.

    A node that fans out with ``Send("worker", state)`` hands the worker the
    live values, but what is saved (to resume later) must not hold them.
    """

    __slots__ = ("untracked",)

    def __init__(self, key: str, untracked: frozenset[str]) -> None:
        super().__init__(key=key)
        self.untracked = untracked

    def new(self) -> SendTopic:
        """An empty queue with the same untracked keys."""
        return SendTopic(self.key, self.untracked)

    def checkpoint(self) -> Any:
        """The packets, each without the untracked keys of its state."""
        values = super().checkpoint()
        if values is MISSING:
            return values
        return [self._sanitize(v) for v in values]

    def _sanitize(self, packet: Any) -> Any:
        if not isinstance(packet, Send) or not isinstance(packet.arg, dict):
            return packet
        arg = {k: v for k, v in packet.arg.items() if k not in self.untracked}
        return Send(packet.node, arg, timeout=packet.timeout)
