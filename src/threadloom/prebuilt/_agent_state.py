"""The state of a ReAct agent: its messages, the steps left, and the structured response."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from langchain_core.messages import BaseMessage
from pydantic import BaseModel
from typing_extensions import NotRequired, TypedDict

from threadloom.graph.message import add_messages
from threadloom.managed import RemainingSteps

__all__ = [
    "AgentState",
    "AgentStatePydantic",
    "AgentStateWithStructuredResponse",
    "AgentStateWithStructuredResponsePydantic",
    "StructuredResponse",
    "StructuredResponseSchema",
]

StructuredResponse = dict[str, Any] | BaseModel
"""What ``response_format`` produces: a dict (for a JSON schema) or a model instance."""

StructuredResponseSchema = dict[str, Any] | type[BaseModel]
"""What ``response_format`` accepts: a JSON schema or a pydantic model class."""


class AgentState(TypedDict):
    """The default agent state: the conversation and the steps left before the limit."""

    messages: Annotated[Sequence[BaseMessage], add_messages]
    remaining_steps: NotRequired[RemainingSteps]


class AgentStatePydantic(BaseModel):
    """:class:`AgentState` as a pydantic model."""

    messages: Annotated[Sequence[BaseMessage], add_messages]
    remaining_steps: RemainingSteps = 25


class AgentStateWithStructuredResponse(AgentState):
    """:class:`AgentState` plus the ``structured_response`` of ``response_format``."""

    structured_response: StructuredResponse


class AgentStateWithStructuredResponsePydantic(AgentStatePydantic):
    """:class:`AgentStatePydantic` plus the ``structured_response`` of ``response_format``."""

    structured_response: StructuredResponse
