"""Checkpoint metadata: what a saver stores from the caller's config, and how ``list`` filters match it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig

_MISSING_KEY = object()


def _metadata_value(metadata: Mapping[str, Any], key: str) -> Any:
    """``metadata[key]``; a dotted key the metadata lacks addresses nested dicts (``"user.id"``)."""
    if key in metadata:
        return metadata[key]
    if not isinstance(key, str) or "." not in key:
        return _MISSING_KEY
    value: Any = metadata
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING_KEY
        value = value[part]
    return value


def metadata_matches(metadata: Mapping[str, Any], filter: Mapping[str, Any] | None) -> bool:
    """True when every key of ``filter`` is in ``metadata`` with an equal value.

    A key the metadata does not hold as such, with dots in it, is a path into
    nested dicts: ``{"user.id": 1}`` matches ``{"user": {"id": 1}}``.
    """
    if not filter:
        return True
    return all(_metadata_value(metadata, k) == v for k, v in filter.items())


EXCLUDED_METADATA_KEYS = frozenset(
    {
        "thread_id",
        "checkpoint_id",
        "checkpoint_ns",
        "checkpoint_map",
        "langgraph_step",
        "langgraph_node",
        "langgraph_triggers",
        "langgraph_path",
        "langgraph_checkpoint_ns",
    }
)
"""Config keys a saver never copies into checkpoint metadata: the address and a task's run keys."""


def get_checkpoint_metadata(config: RunnableConfig, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """``metadata`` with the caller's plain values added, as every saver stores it.

    The string, number and boolean values of ``config["metadata"]`` and of
    ``config["configurable"]`` are kept (so ``list(filter=...)`` finds them),
    except addressing keys, keys starting with ``__`` and keys ``metadata``
    already holds.
    """
    merged: dict[str, Any] = dict(metadata)
    for source in (config.get("metadata"), config.get("configurable")):
        for key, value in (source or {}).items():
            if (
                key not in merged
                and key not in EXCLUDED_METADATA_KEYS
                and not key.startswith("__")
                and isinstance(value, (str, int, float, bool))
            ):
                merged[key] = value
    return merged
