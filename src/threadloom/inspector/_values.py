"""Stored values as text a page can show: JSON for data, chat bubbles for messages."""

from __future__ import annotations

import dataclasses
import datetime
import json
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage

__all__ = ["MessageView", "is_messages", "message_view", "plain", "to_json"]

MAX_JSON = 20_000
"""Characters of one value a page shows before cutting it (the rest is counted)."""


def plain(value: Any) -> Any:
    """``value`` as JSON-ready data (messages and models as their dicts)."""
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if hasattr(value, "model_dump"):
        return plain(value.model_dump())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return repr(value)


def to_json(value: Any, *, limit: int = MAX_JSON) -> str:
    """Indented JSON of ``value``, cut after ``limit`` characters."""
    text = json.dumps(plain(value), indent=2, ensure_ascii=False, sort_keys=True)
    if len(text) > limit:
        return f"{text[:limit]}\n… ({len(text) - limit} more characters)"
    return text


@dataclass
class MessageView:
    """One chat message: who spoke, the text, and anything else it carries (tool calls)."""

    role: str
    content: str
    id: str | None = None
    name: str | None = None
    extra: str | None = None


def _is_message(value: Any) -> bool:
    return isinstance(value, BaseMessage) or (
        isinstance(value, dict) and "content" in value and ("role" in value or "type" in value)
    )


def is_messages(value: Any) -> bool:
    """Whether ``value`` is a list of chat messages (its ends are checked: lists can be long)."""
    return (
        isinstance(value, list) and bool(value) and _is_message(value[0]) and _is_message(value[-1])
    )


def message_id(message: Any) -> str | None:
    raw = (
        message.id
        if isinstance(message, BaseMessage)
        else message.get("id")
        if isinstance(message, dict)
        else None
    )
    return raw if isinstance(raw, str) else None


def message_view(message: Any) -> MessageView:
    """A message as the chat view shows it."""
    content: Any
    if isinstance(message, BaseMessage):
        content, role, name = message.content, message.type, message.name
        extras = {
            k: v
            for k, v in (
                ("tool_calls", getattr(message, "tool_calls", None)),
                ("tool_call_id", getattr(message, "tool_call_id", None)),
            )
            if v
        }
    elif isinstance(message, dict):
        content = message.get("content")
        role = str(message.get("role") or message.get("type") or "message")
        name = message.get("name") if isinstance(message.get("name"), str) else None
        extras = {k: v for k, v in message.items() if k in ("tool_calls", "tool_call_id") and v}
    else:
        return MessageView(role="value", content=to_json(message))
    text = content if isinstance(content, str) else to_json(content)
    return MessageView(
        role=role,
        content=text,
        id=message_id(message),
        name=name,
        extra=to_json(extras) if extras else None,
    )
