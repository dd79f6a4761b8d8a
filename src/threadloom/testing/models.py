"""Chat models that run offline: for tests, examples and the demo.

Both are real LangChain ``BaseChatModel`` subclasses, so they work anywhere a
chat model does (``invoke``, ``stream``, ``ainvoke``, ``astream``, inside graph
nodes with ``stream_mode="messages"``), and both stream their replies one
word-sized token at a time.

- :class:`FakeChatModel` replies from a script, in order, and records every
  list of messages it was called with. Use it to make tests deterministic::

      >>> model = FakeChatModel(responses=["Hello there!"])
      >>> model.invoke("hi").content
      'Hello there!'
      >>> chunks = FakeChatModel(responses=["a b"]).stream("hi")
      >>> [chunk.content for chunk in chunks if chunk.content]
      ['a ', 'b']

- :class:`OfflineChatModel` is a stand-in for a real model that needs no
  network and no API key. It says plainly that it is a stand-in and answers
  from the ``User info:`` memories in its system prompt, which is what the
  cross-thread memory guide puts there::

      >>> model = OfflineChatModel()
      >>> reply = model.invoke([
      ...     {"role": "system", "content": "You are helpful. User info: User name is Bob"},
      ...     {"role": "user", "content": "what is my name?"},
      ... ])
      >>> print(reply.content)
      [offline stand-in, not a real LLM] Your name is Bob, according to my memories of you.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, Field, PrivateAttr

__all__ = [
    "OFFLINE_TAG",
    "FakeChatModel",
    "OfflineChatModel",
    "memories_from_system_prompt",
    "offline_reply",
    "tool_call_reply",
]

OFFLINE_TAG = "[offline stand-in, not a real LLM]"
"""Every reply of :class:`OfflineChatModel` starts with this tag."""

# Word-sized tokens that keep their trailing whitespace, so joining the
# streamed chunks gives back the reply exactly.
_TOKEN = re.compile(r"\s*\S+\s*|\s+")


def _tokens(text: str) -> list[str]:
    """Split ``text`` into streaming tokens whose concatenation is ``text``."""
    return _TOKEN.findall(text)


def _content_text(content: str | list[Any]) -> str:
    """The plain text of a message content (a string or a list of content blocks)."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def _stream_message(
    message: AIMessage, run_manager: CallbackManagerForLLMRun | None
) -> Iterator[ChatGenerationChunk]:
    """Yield ``message`` as token chunks, then its tool calls (if any) as one chunk."""
    for token in _tokens(_content_text(message.content)):
        chunk = ChatGenerationChunk(message=AIMessageChunk(content=token, id=message.id))
        if run_manager is not None:
            run_manager.on_llm_new_token(token, chunk=chunk)
        yield chunk
    if message.tool_calls:
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                id=message.id,
                tool_call_chunks=[
                    tool_call_chunk(
                        name=call["name"],
                        args=json.dumps(call["args"]),
                        id=call.get("id"),
                        index=i,
                    )
                    for i, call in enumerate(message.tool_calls)
                ],
            )
        )


def tool_call_reply(
    name: str, args: dict[str, Any] | None = None, *, id: str | None = None, content: str = ""
) -> AIMessage:
    """A scripted model reply that calls one tool (chain several with ``AIMessage.tool_calls``).

    >>> reply = tool_call_reply("search", {"query": "pets"}, id="call-1")
    >>> reply.tool_calls[0]["name"], reply.tool_calls[0]["args"]
    ('search', {'query': 'pets'})
    """
    call_id = id if id is not None else f"call_{uuid.uuid4().hex[:12]}"
    return AIMessage(
        content=content,
        tool_calls=[{"name": name, "args": dict(args or {}), "id": call_id, "type": "tool_call"}],
    )


class FakeChatModel(BaseChatModel):
    """A chat model that replies from a script, in order, and records its calls.

    ``responses`` holds strings or ``AIMessage`` objects (to script tool calls,
    see :func:`tool_call_reply`, or metadata). When the script runs out the
    model raises ``RuntimeError``, unless ``cycle=True`` makes it start over.
    ``calls`` holds the messages of every call, so a test can check what a
    node sent to the model. ``bind_tools`` records the tools' names in
    ``bound_tools``; ``with_structured_output`` answers with
    ``structured_response`` (validated into the schema when it is a model class).
    """

    responses: list[str | AIMessage] = Field(default_factory=list)
    cycle: bool = False
    structured_response: Any = None
    bound_tools: list[str] = Field(default_factory=list)

    _calls: list[list[BaseMessage]] = PrivateAttr(default_factory=list)
    _next: int = PrivateAttr(default=0)
    # Graph nodes of one step run in threads; the script must advance atomically.
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    @property
    def _llm_type(self) -> str:
        return "threadloom-fake"

    @property
    def calls(self) -> list[list[BaseMessage]]:
        """The messages of every call so far, oldest first (a copy)."""
        with self._lock:
            return [list(messages) for messages in self._calls]

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> FakeChatModel:
        """Record the tools' names; the script still decides which tool calls happen."""
        self.bound_tools = [
            tool["function"]["name"]
            if isinstance(tool, dict) and "function" in tool
            else str(tool.get("name"))
            if isinstance(tool, dict)
            else convert_to_openai_tool(tool)["function"]["name"]
            for tool in tools
        ]
        return self

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Runnable[Any, Any]:
        """A runnable that records its input as a call and answers ``structured_response``."""
        if self.structured_response is None:
            raise ValueError("FakeChatModel has no structured_response to answer with")

        def answer(messages: Any) -> Any:
            with self._lock:
                self._calls.append(list(messages) if isinstance(messages, list) else [messages])
            value = self.structured_response
            if (
                isinstance(schema, type)
                and issubclass(schema, BaseModel)
                and isinstance(value, dict)
            ):
                return schema.model_validate(value)
            return value

        return RunnableLambda(answer)

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        """Record the call and return the next scripted reply."""
        with self._lock:
            self._calls.append(list(messages))
            if self._next >= len(self.responses):
                if not self.cycle or not self.responses:
                    raise RuntimeError(
                        f"FakeChatModel ran out of scripted responses after "
                        f"{len(self.responses)} call(s); add more or pass cycle=True"
                    )
                self._next = 0
            response = self.responses[self._next]
            self._next += 1
        if isinstance(response, str):
            return AIMessage(content=response)
        return response.model_copy(deep=True)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from _stream_message(self._reply(messages), run_manager)


# --- the offline stand-in -------------------------------------------------

_USER_INFO = re.compile(r"user info:\s*(.*)\Z", re.IGNORECASE | re.DOTALL)
_NAME_IN_MEMORY = re.compile(r"\bname is\s+([A-Za-z][\w'-]*)", re.IGNORECASE)
_NAME_GIVEN = re.compile(r"\bmy name is\s+([A-Za-z][\w'-]*)", re.IGNORECASE)
_NAME_ASKED = re.compile(
    r"\b(what(?:'s| is) my name|who am i|do you know my name|my name\?)", re.IGNORECASE
)
_GREETING = re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening))\b", re.IGNORECASE)


def memories_from_system_prompt(text: str) -> list[str]:
    """The memories listed after ``User info:`` in a system prompt, one per line."""
    match = _USER_INFO.search(text)
    if match is None:
        return []
    return [line.strip() for line in match.group(1).splitlines() if line.strip()]


def offline_reply(system_prompt: str, user_message: str) -> str:
    """What :class:`OfflineChatModel` answers to ``user_message`` given ``system_prompt``."""
    memories = memories_from_system_prompt(system_prompt)
    parts: list[str] = []
    if _GREETING.search(user_message):
        parts.append("Hello!")
    given = _NAME_GIVEN.search(user_message)
    if given:
        parts.append(f"Nice to meet you, {given.group(1)}.")
    elif _NAME_ASKED.search(user_message):
        known = next((m for m in map(_NAME_IN_MEMORY.search, memories) if m), None)
        if known:
            parts.append(f"Your name is {known.group(1)}, according to my memories of you.")
        else:
            parts.append("I don't know your name: none of my memories of you mention it.")
    elif memories:
        parts.append("I can only repeat my memories of you: " + "; ".join(memories) + ".")
    else:
        parts.append("I have no memories of you yet, and I can only answer from memories.")
    return f"{OFFLINE_TAG} " + " ".join(parts)


class OfflineChatModel(BaseChatModel):
    """An offline stand-in for a real chat model: no network, no API key.

    It answers the last user message from the ``User info:`` memories in the
    system prompt (so "what is my name?" gets the name the memories hold) and
    starts every reply with ``[offline stand-in, not a real LLM]`` so nobody
    mistakes it for a real model. Replies stream as word-sized tokens.
    """

    @property
    def _llm_type(self) -> str:
        return "threadloom-offline"

    def _answer(self, messages: list[BaseMessage]) -> AIMessage:
        """Build the reply to ``messages``."""
        system = "\n".join(
            _content_text(m.content) for m in messages if isinstance(m, SystemMessage)
        )
        last_user = next(
            (_content_text(m.content) for m in reversed(messages) if isinstance(m, HumanMessage)),
            "",
        )
        return AIMessage(content=offline_reply(system, last_user))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._answer(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from _stream_message(self._answer(messages), run_manager)
