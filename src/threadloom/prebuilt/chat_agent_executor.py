"""``threadloom.prebuilt.chat_agent_executor``: the ReAct agent and its state schemas."""

from typing import Any

from threadloom.prebuilt._agent_model import PROMPT_RUNNABLE_NAME, Prompt
from threadloom.prebuilt._agent_model import get_model as _get_model
from threadloom.prebuilt._agent_model import should_bind_tools as _should_bind_tools
from threadloom.prebuilt._agent_model import validate_chat_history as _validate_chat_history
from threadloom.prebuilt._agent_state import (
    AgentState,
    AgentStatePydantic,
    AgentStateWithStructuredResponse,
    AgentStateWithStructuredResponsePydantic,
    StructuredResponse,
    StructuredResponseSchema,
)
from threadloom.prebuilt._react_agent import create_react_agent, create_tool_calling_executor

StateSchemaType = type[Any]
"""A state schema class for ``create_react_agent(state_schema=...)``."""

__all__ = [
    "PROMPT_RUNNABLE_NAME",
    "AgentState",
    "AgentStatePydantic",
    "AgentStateWithStructuredResponse",
    "AgentStateWithStructuredResponsePydantic",
    "Prompt",
    "StateSchemaType",
    "StructuredResponse",
    "StructuredResponseSchema",
    "_get_model",
    "_should_bind_tools",
    "_validate_chat_history",
    "create_react_agent",
    "create_tool_calling_executor",
]
