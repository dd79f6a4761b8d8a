"""What a store returns: :class:`Item` (a stored value with its address and times) and :class:`SearchItem`."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

__all__ = ["Item", "SearchItem", "stored_item", "stored_search_item"]


class Item:
    """A stored value with its address and timestamps.

    ``created_at`` is kept when the item is overwritten; ``updated_at`` moves.
    """

    __slots__ = ("created_at", "key", "namespace", "updated_at", "value")

    def __init__(
        self,
        *,
        value: dict[str, Any],
        key: str,
        namespace: tuple[str, ...],
        created_at: datetime | str,
        updated_at: datetime | str,
    ) -> None:
        self.value = value
        self.key = key
        self.namespace = tuple(namespace)
        self.created_at = (
            datetime.fromisoformat(created_at) if isinstance(created_at, str) else created_at
        )
        self.updated_at = (
            datetime.fromisoformat(updated_at) if isinstance(updated_at, str) else updated_at
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Item):
            return NotImplemented
        return (
            self.value == other.value
            and self.key == other.key
            and self.namespace == other.namespace
            and self.created_at == other.created_at
            and self.updated_at == other.updated_at
        )

    def __hash__(self) -> int:
        return hash((self.namespace, self.key))

    def dict(self) -> dict[str, Any]:
        """The item as a JSON-ready dict (timestamps in ISO format)."""
        return {
            "namespace": list(self.namespace),
            "key": self.key,
            "value": self.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.dict().items())
        return f"{type(self).__name__}({fields})"


class SearchItem(Item):
    """An item returned by :meth:`BaseStore.search`, with its relevance ``score``.

    ``score`` is ``None`` for a search without ``query``. With a query, higher
    is better, and its meaning depends on the search mode:

    - ``"vector"``: the similarity of the item's best-matching vector (cosine).
    - ``"keyword"``: the BM25 score of the item's best-matching text (``> 0``,
      unbounded, the same number on every backend for the same data).
    - ``"hybrid"``: the fused score (a weighted sum of z-scores); only
      comparable between the results of one search.
    """

    __slots__ = ("score",)

    def __init__(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: dict[str, Any],
        created_at: datetime | str,
        updated_at: datetime | str,
        score: float | None = None,
    ) -> None:
        super().__init__(
            value=value,
            key=key,
            namespace=namespace,
            created_at=created_at,
            updated_at=updated_at,
        )
        self.score = score

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SearchItem):
            return super().__eq__(other)
        return super().__eq__(other) and self.score == other.score

    def __hash__(self) -> int:
        return super().__hash__()

    def dict(self) -> dict[str, Any]:
        result = super().dict()
        result["score"] = self.score
        return result


def stored_item(
    value: dict[str, Any],
    key: str,
    namespace: tuple[str, ...],
    created_at: datetime,
    updated_at: datetime,
    kind: type[Item] = Item,
) -> Item:
    """An :class:`Item` (or ``kind``) from fields a store holds in their final types.

    Nothing is checked or converted: a store's read path, where the checks of
    ``Item(...)`` cost more than the rest of an in-memory ``get``.
    """
    item: Item = object.__new__(kind)
    item.value = value
    item.key = key
    item.namespace = namespace
    item.created_at = created_at
    item.updated_at = updated_at
    return item


def stored_search_item(
    namespace: tuple[str, ...],
    key: str,
    value: dict[str, Any],
    created_at: datetime,
    updated_at: datetime,
    score: float | None,
) -> SearchItem:
    """A :class:`SearchItem` from fields in their final types, as :func:`stored_item`."""
    item = cast(
        "SearchItem", stored_item(value, key, namespace, created_at, updated_at, SearchItem)
    )
    item.score = score
    return item
