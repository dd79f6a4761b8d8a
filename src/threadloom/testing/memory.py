"""A scripted chat model for the memory layer: deterministic, offline.

:class:`ScriptedMemoryModel` is a :class:`~threadloom.testing.models.FakeChatModel`
(scripted replies and tool calls for ``invoke`` and ``bind_tools``) whose
``with_structured_output`` answers from ``script``, one entry per call. An
entry is the answer itself (a dict or a pydantic object) or a function of
the messages the model was given, such as :func:`turn`, which builds the
memory manager's operations and finds the ids of existing memories the way a
model would: by reading them in its prompt.

>>> model = ScriptedMemoryModel(script=[turn(insert("User lives in Paris"))])
>>> from threadloom.memory import create_memory_manager
>>> [m.content for m in create_memory_manager(model).invoke({"messages": [("user", "hi")]})]
['User lives in Paris']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import BaseMessage, convert_to_messages
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, Field, PrivateAttr

from threadloom.testing.models import FakeChatModel

__all__ = ["ScriptedMemoryModel", "delete", "existing_memories", "insert", "turn", "update"]

# The memory manager lists existing memories one per line as "[id] content".
_EXISTING = re.compile(r"^\[([^\]\n]+)\] (.*)$", re.MULTILINE)

Op = Callable[[dict[str, str]], dict[str, Any] | None]


def existing_memories(messages: Sequence[BaseMessage]) -> dict[str, str]:
    """The ``{id: text}`` of the existing memories listed in the manager's prompt."""
    found: dict[str, str] = {}
    for message in messages:
        if message.type == "system":
            found.update(dict(_EXISTING.findall(message.text)))
    return found


def _find(existing: dict[str, str], match: str) -> str | None:
    wanted = match.casefold()
    return next((key for key, text in existing.items() if wanted in text.casefold()), None)


def insert(content: Any, kind: str = "Memory") -> Op:
    """Insert ``content`` as a new memory."""
    return lambda existing: {"action": "insert", "kind": kind, "content": content}


def update(match: str, content: Any, kind: str = "Memory") -> Op:
    """Update the existing memory whose text contains ``match``.

    When the prompt shows no such memory, the model inserts ``content``
    instead, as a real model that cannot see the old fact would.
    """

    def op(existing: dict[str, str]) -> dict[str, Any]:
        key = _find(existing, match)
        if key is None:
            return {"action": "insert", "kind": kind, "content": content}
        return {"action": "update", "id": key, "kind": kind, "content": content}

    return op


def delete(match: str) -> Op:
    """Delete the existing memory whose text contains ``match`` (nothing when none is shown)."""

    def op(existing: dict[str, str]) -> dict[str, Any] | None:
        key = _find(existing, match)
        return None if key is None else {"action": "delete", "id": key}

    return op


def turn(*ops: Op) -> Callable[[list[BaseMessage]], dict[str, Any]]:
    """One structured answer of the memory manager: ``ops`` resolved against the prompt."""

    def answer(messages: list[BaseMessage]) -> dict[str, Any]:
        existing = existing_memories(messages)
        resolved = [op(existing) for op in ops]
        return {"operations": [op for op in resolved if op is not None]}

    return answer


class ScriptedMemoryModel(FakeChatModel):
    """A fake chat model whose structured outputs follow ``script``, one entry per call.

    When the script runs out, ``with_structured_output`` answers with no
    operations if ``then_nothing`` is true, else raises ``RuntimeError``.
    ``structured_calls`` counts the structured-output calls.
    """

    script: list[Any] = Field(default_factory=list)
    then_nothing: bool = False

    _cursor: int = PrivateAttr(default=0)

    @property
    def structured_calls(self) -> int:
        """How many structured-output calls the model answered."""
        with self._lock:
            return self._cursor

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Runnable[Any, Any]:
        """A runnable that answers each call with the next script entry, validated into ``schema``."""

        def answer(messages: Any) -> Any:
            converted = convert_to_messages(messages if isinstance(messages, list) else [messages])
            with self._lock:
                self._calls.append(list(converted))
                index = self._cursor
                self._cursor += 1
            if index < len(self.script):
                entry = self.script[index]
            elif self.then_nothing:
                entry = {"operations": []}
            else:
                raise RuntimeError(
                    f"ScriptedMemoryModel ran out of script after {len(self.script)} call(s)"
                )
            value = entry(converted) if callable(entry) else entry
            if isinstance(schema, type) and issubclass(schema, BaseModel):
                return schema.model_validate(value)
            return value

        return RunnableLambda(answer)
