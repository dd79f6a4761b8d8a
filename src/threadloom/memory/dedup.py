"""Dedup on write: a new memory that means what an existing one says updates it instead.

A candidate is a duplicate when its text is the same as an existing memory's
(ignoring case and spacing), or when the store's vector search scores it at
or above ``threshold`` (cosine similarity). ``threshold=None`` keeps only the
exact check; ``DedupConfig(enabled=False)`` turns dedup off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from threadloom.errors import IndexNotConfiguredError, InvalidStoreInputError
from threadloom.store.base import BaseStore, Item, SearchItem

__all__ = [
    "DEFAULT_THRESHOLD",
    "DedupConfig",
    "content_text",
    "find_duplicate",
    "normalized_text",
]

DEFAULT_THRESHOLD = 0.85
"""Default cosine similarity at which a new memory counts as a duplicate (see docs/memory.md)."""


@dataclass(frozen=True)
class DedupConfig:
    """How a new memory is matched against existing ones."""

    enabled: bool = True
    threshold: float | None = DEFAULT_THRESHOLD
    candidates: int = 5

    def __post_init__(self) -> None:
        if self.threshold is not None and not -1.0 <= self.threshold <= 1.0:
            raise InvalidStoreInputError(
                f"The dedup threshold is a cosine similarity in [-1, 1], got {self.threshold!r}"
            )
        if self.candidates < 1:
            raise InvalidStoreInputError(f"candidates must be at least 1, got {self.candidates!r}")


def content_text(content: Any) -> str:
    """The text of a memory's content: itself for text, sorted JSON for structured content."""
    if isinstance(content, str):
        return content
    return json.dumps(content, sort_keys=True, ensure_ascii=False)


def normalized_text(content: Any) -> str:
    """The text of ``content`` with case and spacing folded, for exact-duplicate checks."""
    return " ".join(content_text(content).casefold().split())


def find_duplicate(
    store: BaseStore,
    namespace: tuple[str, ...],
    value: dict[str, Any],
    config: DedupConfig,
    *,
    exclude: frozenset[str] = frozenset(),
) -> Item | None:
    """The existing memory in ``namespace`` that ``value`` duplicates, or ``None``."""
    if not config.enabled:
        return None
    content = value.get("content")
    kind_filter = {"kind": value["kind"]} if "kind" in value else None
    wanted = normalized_text(content)
    if isinstance(content, str):
        # The exact check works without an index: a filter on the stored text.
        same = store.search(namespace, filter={**(kind_filter or {}), "content": content}, limit=1)
        same = [item for item in same if item.namespace == namespace and item.key not in exclude]
        if same:
            return same[0]
    try:
        hits = store.search(
            namespace,
            query=content_text(content),
            filter=kind_filter,
            limit=config.candidates,
            mode="vector",
        )
    except (IndexNotConfiguredError, InvalidStoreInputError):
        return None  # no vector index (or a keyword-only one): only exact duplicates count
    hits = [item for item in hits if item.namespace == namespace and item.key not in exclude]
    for item in hits:
        if normalized_text(item.value.get("content")) == wanted:
            return item
    return next((item for item in hits if _is_close(item, config.threshold)), None)


def _is_close(item: SearchItem, threshold: float | None) -> bool:
    return threshold is not None and item.score is not None and item.score >= threshold
