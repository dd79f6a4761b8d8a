"""The model side of a ReAct agent: the prompt, binding tools, and checking the chat history."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import BaseMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableBinding, RunnableLambda, RunnableSequence
from langchain_core.tools import BaseTool

from threadloom.prebuilt._runnable import injecting

__all__ = [
    "PROMPT_RUNNABLE_NAME",
    "HistoryCheck",
    "Prompt",
    "get_model",
    "get_prompt_runnable",
    "get_state_value",
    "init_model",
    "prompt_function",
    "should_bind_tools",
    "validate_chat_history",
]

PROMPT_RUNNABLE_NAME = "Prompt"

Prompt = (
    SystemMessage | str | Callable[[Any], LanguageModelInput] | Runnable[Any, LanguageModelInput]
)
"""A system prompt (text or message), a function of the state, or a runnable over the state."""


def get_state_value(state: Any, key: str, default: Any = None) -> Any:
    """``state[key]`` for dict states, ``state.key`` for objects."""
    if isinstance(state, dict):
        return state.get(key, default)
    return getattr(state, key, default)


def prompt_function(prompt: Prompt | None) -> Callable[[Any], Any] | None:
    """The plain function from state to model input for no prompt or a system prompt, else ``None``."""
    if prompt is None:
        return lambda state: get_state_value(state, "messages")
    if isinstance(prompt, str):
        prompt = SystemMessage(content=prompt)
    if isinstance(prompt, SystemMessage):
        message = prompt
        return lambda state: [message, *get_state_value(state, "messages")]
    return None


def get_prompt_runnable(prompt: Prompt | None) -> Runnable[Any, Any]:
    """The runnable that turns the agent state into the model's input."""
    fn = prompt_function(prompt)
    if fn is not None:
        return RunnableLambda(fn, name=PROMPT_RUNNABLE_NAME)
    if isinstance(prompt, Runnable):
        return prompt
    if inspect.iscoroutinefunction(prompt):
        return injecting(None, prompt, name=PROMPT_RUNNABLE_NAME)
    if callable(prompt):
        return injecting(prompt, None, name=PROMPT_RUNNABLE_NAME)
    raise ValueError(f"Got unexpected type for `prompt`: {type(prompt)}")


def _first_model_step(model: Any) -> Any:
    if isinstance(model, RunnableSequence):
        return next(
            (s for s in model.steps if isinstance(s, (RunnableBinding, BaseChatModel))), model
        )
    return model


def should_bind_tools(model: Any, tools: Sequence[BaseTool], num_builtin: int = 0) -> bool:
    """Whether ``model`` still needs ``bind_tools``; an error if it is bound to other tools."""
    model = _first_model_step(model)
    if not isinstance(model, RunnableBinding) or "tools" not in model.kwargs:
        return True
    bound = model.kwargs["tools"]
    if len(tools) != len(bound) - num_builtin:
        raise ValueError(
            "Number of tools in the model.bind_tools() and tools passed to create_react_agent "
            f"must match Got {len(tools)} tools, expected {len(bound) - num_builtin}"
        )
    bound_names = set()
    for spec in bound:
        if spec.get("type") == "function":
            bound_names.add(spec["function"]["name"])
        elif spec.get("name"):
            bound_names.add(spec["name"])
    missing = {t.name for t in tools} - bound_names
    if missing:
        raise ValueError(f"Missing tools '{missing}' in the model.bind_tools()")
    return False


def get_model(model: Any) -> BaseChatModel:
    """The chat model inside ``model`` (a chat model, a binding of one, or a sequence)."""
    model = _first_model_step(model)
    if isinstance(model, RunnableBinding):
        model = model.bound
    if not isinstance(model, BaseChatModel):
        raise TypeError(
            "Expected `model` to be a ChatModel or RunnableBinding (e.g. model.bind_tools(...)), "
            f"got {type(model)}"
        )
    return model


def init_model(spec: str) -> BaseChatModel:
    """A chat model from a ``"provider:model"`` string, through langchain's ``init_chat_model``."""
    try:
        from langchain.chat_models import init_chat_model  # type: ignore[import-not-found, unused-ignore]
    except ImportError as exc:
        raise ImportError(
            f"model={spec!r} needs the 'langchain' package for '<provider>:<model>' strings: "
            "pip install langchain (and the provider's package), or pass a chat model object"
        ) from exc
    model: BaseChatModel = init_chat_model(spec)
    return model


_TOOL_TYPES = frozenset({"tool", "ToolMessageChunk"})
_AI_TYPES = frozenset({"ai", "AIMessageChunk"})


def validate_chat_history(messages: Sequence[BaseMessage]) -> None:
    """Raise if an AI message's tool call has no ``ToolMessage`` answering it."""
    _raise_pending(_scan(messages, set(), []))


def _scan(messages: Sequence[BaseMessage], answered: set[str], calls: list[Any]) -> list[Any]:
    """The tool calls still unanswered after ``messages`` (``answered``/``calls``: before them)."""
    # One pass over type tags, no isinstance: this runs before every model call.
    for m in messages:
        kind = m.type
        if kind in _TOOL_TYPES:
            answered.add(m.tool_call_id)  # type: ignore[attr-defined]  # a ToolMessage
        elif kind in _AI_TYPES and m.tool_calls:  # type: ignore[attr-defined]  # an AIMessage
            calls.extend(m.tool_calls)  # type: ignore[attr-defined]
    return [call for call in calls if call["id"] not in answered]


def _raise_pending(pending: list[Any]) -> None:
    if pending:
        raise ValueError(
            "Found AIMessages with tool_calls that do not have a corresponding ToolMessage. "
            f"Here are the first few of those tool calls: {pending[:3]}.\n\n"
            "Every tool call (LLM requesting to call a tool) in the message history MUST have "
            "a corresponding ToolMessage (result of a tool invocation to return to the LLM) - "
            "this is required by most LLM providers."
        )


class HistoryCheck:
    """:func:`validate_chat_history` for a history that grows between calls.

    A thread's history reaches the model again and again with a few messages
    more each time; the check remembers the histories it passed (a few, one per
    recent thread) and reads only the messages after the ones it passed, so its
    cost stays flat as the thread grows. Messages are taken as unchanged once
    read, as the channel keeps them.
    """

    _KEEP = 16

    def __init__(self) -> None:
        # id of the first message -> (the history passed, the tool call ids it answers)
        self._passed: dict[int, tuple[list[BaseMessage], frozenset[str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, messages: Sequence[BaseMessage]) -> None:
        if not messages:
            return
        key = id(messages[0])  # the memo holds that message, so its id is not reused meanwhile
        passed = self._passed.get(key)
        start, answered = 0, set()
        if passed is not None:
            seen, seen_answered = passed
            n = len(seen)
            if n <= len(messages) and seen[-1] is messages[n - 1]:
                head = messages[:n]
                # The same objects: the list comparison checks identity first, in C.
                if seen == (head if type(head) is list else list(head)):
                    start, answered = n, set(seen_answered)
        # A passed history left no call pending: only the new messages can add one.
        _raise_pending(_scan(messages[start:] if start else messages, answered, []))
        entry = (list(messages), frozenset(answered))
        with self._lock:
            memo = self._passed
            if key not in memo and len(memo) >= self._KEEP:
                del memo[next(iter(memo))]  # the least recently started thread
            memo[key] = entry
