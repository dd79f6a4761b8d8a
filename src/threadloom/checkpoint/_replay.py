"""A delta chain joined into the plain value a reader of a checkpoint sees.

Savers store an append-mostly channel (``messages``) as a snapshot plus deltas;
what :meth:`~threadloom.checkpoint.base.BaseCheckpointSaver.get_tuple` returns
must still be the channel's plain value, as on LangGraph. The items of each
write are applied in order: an item whose ``id`` is already there replaces it,
a ``RemoveMessage`` deletes (``REMOVE_ALL_MESSAGES``: everything), any other
item is appended. The messages channel applies its writes with the same code.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from langchain_core.messages import RemoveMessage

if TYPE_CHECKING:
    from threadloom.checkpoint.base import DeltaChain

__all__ = ["REMOVE_ALL_MESSAGES", "ReplayedList", "apply_by_id", "join_chain"]

REMOVE_ALL_MESSAGES = "__remove_all__"


class ReplayedList(list[Any]):
    """A delta channel's value as read back: the plain list, and the ``chain`` it was joined from.

    It compares, iterates and copies as the list it is. ``chain`` lets the
    channel go on bounding its replay length, and a saver store the value put
    back (a fork) as that chain rather than in full, unless the list was changed.
    """

    chain: DeltaChain

    def is_unchanged(self) -> bool:
        """Whether the list still holds exactly what its chain joins to (no item added, removed or replaced)."""
        joined = join_chain(self.chain)
        return len(joined) == len(self) and all(a is b for a, b in zip(self, joined, strict=True))


def apply_by_id(items: list[Any], index: dict[str, int], new: Iterable[Any]) -> None:
    """Apply the items of one write to ``items``; ``index`` maps ids to positions.

    Raises ``KeyError`` (the id) for a ``RemoveMessage`` whose id is not there.
    """
    for item in new:
        item_id = getattr(item, "id", None)
        if not isinstance(item_id, str):
            items.append(item)
        elif isinstance(item, RemoveMessage):
            if item_id == REMOVE_ALL_MESSAGES:
                items.clear()
                index.clear()
                continue
            del items[index[item_id]]
            index.clear()
            index.update(
                (i_id, i)
                for i, x in enumerate(items)
                if isinstance(i_id := getattr(x, "id", None), str)
            )
        elif item_id in index:
            items[index[item_id]] = item
        else:
            index[item_id] = len(items)
            items.append(item)


def join_chain(chain: DeltaChain) -> ReplayedList:
    """The value ``chain`` stands for: its snapshot with every write applied, oldest first."""
    joined = ReplayedList()
    index: dict[str, int] = {}
    if chain.has_snapshot and chain.snapshot is not None:
        apply_by_id(joined, index, chain.snapshot)
    for write in chain.writes:
        apply_by_id(joined, index, write)
    joined.chain = chain
    return joined
