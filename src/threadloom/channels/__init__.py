"""Channels: how the writes to one state key (or one trigger) combine.

Each kind is a small class: :class:`LastValue` (the default),
:class:`BinaryOperatorAggregate` (a reducer), :class:`Topic`,
:class:`EphemeralValue`, :class:`AnyValue`, :class:`UntrackedValue` (never
persisted), :class:`DeltaChannel` (a batch reducer), :class:`NamedBarrierValue` (multi-source edges),
:class:`Trigger` (edges) and :class:`MessagesChannel` (``add_messages``).
"""

from threadloom.channels.any_value import AnyValue
from threadloom.channels.barrier import NamedBarrierValue
from threadloom.channels.base import BaseChannel
from threadloom.channels.binop import BinaryOperatorAggregate
from threadloom.channels.delta import DeltaChannel
from threadloom.channels.ephemeral import EphemeralValue
from threadloom.channels.last_value import LastValue
from threadloom.channels.messages import MessagesChannel
from threadloom.channels.topic import Topic
from threadloom.channels.trigger import Trigger
from threadloom.channels.untracked_value import UntrackedValue

__all__ = [
    "AnyValue",
    "BaseChannel",
    "BinaryOperatorAggregate",
    "DeltaChannel",
    "EphemeralValue",
    "LastValue",
    "MessagesChannel",
    "NamedBarrierValue",
    "Topic",
    "Trigger",
    "UntrackedValue",
]
