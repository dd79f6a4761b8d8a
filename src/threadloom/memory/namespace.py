"""Namespace templates: ``("memories", "{user_id}")`` filled from the run's config and context.

A label such as ``"{user_id}"`` is replaced by the value of ``user_id`` in the
config's ``configurable`` dict, else in the run's context (a mapping or an
object with that attribute). A value that is missing or empty is a
:class:`~threadloom.errors.MemoryNamespaceError`: a memory must never land in a
namespace shared by everyone because a user id was forgotten.

>>> NamespaceTemplate(("memories", "{user_id}")).fill({"configurable": {"user_id": "u1"}})
('memories', 'u1')
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig

from threadloom.errors import InvalidNamespaceError, MemoryNamespaceError

__all__ = ["RESERVED_LABELS", "NamespaceTemplate", "current_config_and_context"]

#: First labels the memory layer keeps for itself (history, reflection queue).
RESERVED_LABELS: frozenset[str] = frozenset({"memory_history", "memory_reflection"})

_FORMATTER = string.Formatter()


class NamespaceTemplate:
    """A namespace whose labels may name values of the run: ``"{user_id}"``."""

    __slots__ = ("fields", "template")

    def __init__(self, template: Sequence[str] | str) -> None:
        labels = (template,) if isinstance(template, str) else tuple(template)
        if not labels or not all(isinstance(label, str) and label for label in labels):
            raise InvalidNamespaceError(
                f"A memory namespace needs one or more non-empty text labels, got {template!r}"
            )
        if labels[0] in RESERVED_LABELS:
            raise InvalidNamespaceError(
                f"The first label {labels[0]!r} is reserved for the memory layer: {labels!r}"
            )
        self.template = labels
        self.fields = tuple(
            name for label in labels for _, name, _, _ in _FORMATTER.parse(label) if name
        )

    def __repr__(self) -> str:
        return f"NamespaceTemplate({self.template!r})"

    def fill(
        self, config: RunnableConfig | Mapping[str, Any] | None = None, context: Any = None
    ) -> tuple[str, ...]:
        """The namespace for a run with ``config`` and ``context``."""
        if not self.fields:
            return self.template
        configurable = dict((config or {}).get("configurable") or {})
        values = {name: _lookup(name, configurable, context, self.template) for name in self.fields}
        return tuple(label.format(**values) for label in self.template)


def _lookup(name: str, configurable: Mapping[str, Any], context: Any, template: Any) -> str:
    value = configurable.get(name)
    if value is None and context is not None:
        value = context.get(name) if isinstance(context, Mapping) else getattr(context, name, None)
    if value is None or str(value) == "":
        raise MemoryNamespaceError(
            f"The memory namespace {template!r} needs {name!r}: pass it in "
            f"config['configurable'][{name!r}] or in the run's context"
        )
    return str(value)


def current_config_and_context(
    config: RunnableConfig | None,
) -> tuple[RunnableConfig | None, Any]:
    """``config`` merged over the running node's config, and the node's context, if any.

    A tool called inside a node without an explicit config still sees the
    node's ``configurable`` values; explicit values win.
    """
    try:
        from threadloom.config import get_config
        from threadloom.runtime import get_runtime

        node_config = get_config()
        context = get_runtime().context
    except RuntimeError:
        return config, None  # not inside a graph node: only the explicit config counts
    if config is None:
        return node_config, context
    configurable = {
        **(node_config.get("configurable") or {}),
        **(config.get("configurable") or {}),
    }
    return {**config, "configurable": configurable}, context
