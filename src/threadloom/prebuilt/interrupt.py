"""``threadloom.prebuilt.interrupt``: the shapes of a human-in-the-loop request and its answer.

A tool or node asks a person with ``interrupt(HumanInterrupt(...))`` and
reads their :class:`HumanResponse` from the resume value.
"""

from __future__ import annotations

from typing import Any, Literal

from typing_extensions import TypedDict

__all__ = ["ActionRequest", "HumanInterrupt", "HumanInterruptConfig", "HumanResponse"]


class HumanInterruptConfig(TypedDict):
    """Which answers the person may give."""

    allow_ignore: bool
    allow_respond: bool
    allow_edit: bool
    allow_accept: bool


class ActionRequest(TypedDict):
    """The action awaiting review: its name and arguments."""

    action: str
    args: dict[str, Any]


class HumanInterrupt(TypedDict):
    """What the graph shows the person: the action, the allowed answers, a description."""

    action_request: ActionRequest
    config: HumanInterruptConfig
    description: str | None


class HumanResponse(TypedDict):
    """The person's answer: accept, ignore, a text response, or edited arguments."""

    type: Literal["accept", "ignore", "response", "edit"]
    args: str | ActionRequest | None
