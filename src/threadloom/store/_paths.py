"""Paths into a stored value (``"text"``, ``"a.b[*]"``, ``"{x,y}"``): the texts a store embeds and keyword-indexes."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from threadloom.errors import InvalidStoreInputError

__all__ = ["get_text_at_path", "tokenize_path"]


def tokenize_path(path: str) -> list[str]:
    """Split a path such as ``a.b[0].{c,d.e}`` into its tokens."""
    if not path:
        return []
    tokens: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(path):
        char = path[i]
        if char == "[":
            if current:
                tokens.append("".join(current))
                current = []
            end = path.find("]", i)
            if end == -1:
                raise InvalidStoreInputError(f"Unclosed '[' in path {path!r}")
            tokens.append(path[i : end + 1])
            i = end + 1
        elif char == "{":
            if current:
                tokens.append("".join(current))
                current = []
            depth, j = 1, i + 1
            while j < len(path) and depth:
                depth += {"{": 1, "}": -1}.get(path[j], 0)
                j += 1
            if depth:
                raise InvalidStoreInputError(f"Unclosed '{{' in path {path!r}")
            tokens.append(path[i:j])
            i = j
        elif char == ".":
            if current:
                tokens.append("".join(current))
                current = []
            i += 1
        else:
            current.append(char)
            i += 1
    if current:
        tokens.append("".join(current))
    return tokens


@functools.lru_cache(maxsize=256)
def _cached_tokens(path: str) -> tuple[str, ...]:
    # Stores extract the same few paths from every item; tokenize each once.
    return tuple(tokenize_path(path))


def _leaf_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _split_alternatives(inner: str) -> list[str]:
    parts: list[str] = []
    depth, start = 0, 0
    for i, char in enumerate(inner):
        if char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    return [p for p in parts if p]


def get_text_at_path(obj: Any, path: str | Sequence[str]) -> list[str]:
    """The texts found at ``path`` in ``obj``; several texts give several vectors.

    Paths: ``$`` (the whole value as JSON), ``a.b`` (nested key), ``a[0]`` and
    ``a[-1]`` (list index), ``a[*]`` (every element), ``a.*`` (every value of a
    dict), ``{x,y.z}`` (several paths). A path that is missing, or malformed, yields nothing.

    >>> get_text_at_path({"a": {"b": ["x", "y"]}}, "a.b[*]")
    ['x', 'y']
    """
    if path == "$" or path == [] or path == "":
        text = _leaf_text(obj)
        return [text] if text is not None else []
    try:
        tokens = _cached_tokens(path) if isinstance(path, str) else path
    except InvalidStoreInputError:
        return []  # a malformed path finds nothing, as in LangGraph (index configs check theirs)
    if (
        len(tokens) == 1
        and isinstance(obj, dict)
        and tokens[0] in obj
        and tokens[0][0] not in "[{*"
    ):
        # The common case, one plain field such as "text": no tree walk.
        text = _leaf_text(obj[tokens[0]])
        return [text] if text is not None else []
    texts: list[str] = []

    def walk(node: Any, pos: int) -> None:
        if pos == len(tokens):
            text = _leaf_text(node)
            if text is not None:
                texts.append(text)
            return
        token = tokens[pos]
        if token.startswith("[") and token.endswith("]"):
            if not isinstance(node, list):
                return
            inner = token[1:-1].strip()
            if inner == "*":
                for element in node:
                    walk(element, pos + 1)
                return
            try:
                index = int(inner)
            except ValueError:
                return
            if -len(node) <= index < len(node):
                walk(node[index], pos + 1)
        elif token.startswith("{") and token.endswith("}"):
            for alternative in _split_alternatives(token[1:-1]):
                sub = tokenize_path(alternative) + list(tokens[pos + 1 :])
                texts.extend(get_text_at_path(node, sub))
        elif token == "*":
            if isinstance(node, dict):
                for child in node.values():
                    walk(child, pos + 1)
            elif isinstance(node, list):
                for child in node:
                    walk(child, pos + 1)
        elif isinstance(node, dict) and token in node:
            walk(node[token], pos + 1)

    walk(obj, 0)
    return texts
