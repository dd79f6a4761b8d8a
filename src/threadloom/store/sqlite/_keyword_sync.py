"""The SQLite store's in-process keyword index, kept in step with the file.

FTS5 finds the rows sharing a query term, but BM25 with the searched scope's
statistics (:mod:`threadloom.store._keyword`) needs every such row scored in
Python: with common terms that is thousands of rows per search. So a process
that searches by keyword keeps a :class:`~threadloom.store._keyword.KeywordIndex`
of the file's keyword rows (``store_texts``, already tokenized), loaded one
namespace prefix at a time on its first keyword search there (after
:data:`~threadloom.store.sqlite._vector_sync.PREFIX_LOADS_BEFORE_ALL` prefixes,
everything at once), and follows every commit the way the vectors do
(:mod:`~threadloom.store.sqlite._vector_sync`): its own writes are applied
after they commit, other processes' through ``PRAGMA data_version``, the
items whose ``seq`` is newer and the removals logged since.

Not thread-safe on its own: the store calls it with its database lock held.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from threadloom.store._keyword import KeywordIndex
from threadloom.store.sqlite._sql import prefix_where, split_namespace
from threadloom.store.sqlite._text_search import keyword_rows_seq
from threadloom.store.sqlite._vector_sync import PREFIX_LOADS_BEFORE_ALL

__all__ = ["KeywordChange", "SyncedKeywords"]

#: ``(namespace, key, keyword bodies or None)``: an item's new rows, or its removal.
KeywordChange = tuple[tuple[str, ...], str, "list[str] | None"]


def _meta(conn: sqlite3.Connection, name: str) -> Any:
    row = conn.execute("SELECT value FROM store_meta WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


class SyncedKeywords:
    """A lazily loaded :class:`KeywordIndex` of the file and the ``seq`` it reflects."""

    def __init__(self) -> None:
        self.index: KeywordIndex | None = None
        self.seq = -1
        # Namespace prefixes whose rows are all in the index (``()``: everything);
        # outside them it may hold some items (changes applied as they come).
        self.loaded: set[tuple[str, ...]] = set()
        self._prefix_loads = 0
        self._data_version: int | None = None
        self._behind = True

    def invalidate(self) -> None:
        """Forget the index; the next keyword search reloads what it needs."""
        self.index = None
        self.seq = -1
        self.loaded = set()
        self._behind = True

    def rows_changed(self) -> None:
        """This process indexed items outside a write the index follows (a catch-up):
        look at the file again on the next search (its own commits leave data_version alone)."""
        self._behind = True

    def covers(self, prefix: tuple[str, ...]) -> bool:
        """Whether every keyword row under ``prefix`` is in the index."""
        return any(prefix[: len(done)] == done for done in self.loaded)

    def catch_up(
        self,
        conn: sqlite3.Connection,
        data_version: int | None,
        scope: tuple[str, ...] = (),
        *,
        current: int | None = None,
    ) -> KeywordIndex:
        """An index holding every keyword row under ``scope`` as ``conn`` sees the file.

        Run inside a transaction on ``conn``. ``data_version=None`` forces a
        check for changes; ``current`` is the ``seq`` a write transaction has
        reached but not yet stored.
        """
        if (
            self.index is None
            or self._behind
            or data_version is None
            or data_version != self._data_version
        ):
            if current is None:
                current = int(_meta(conn, "seq") or 0)
                # A file whose index is not live has keyword rows up to keyword_seq only:
                # items written since are taken in once a catch-up has indexed them.
                complete = keyword_rows_seq(conn)
                if complete is not None:
                    current = min(current, complete)
            floor = int(_meta(conn, "removals_floor") or 0)
            if self.index is None or self.seq < floor:
                self.index, self.seq, self.loaded = KeywordIndex(), current, set()
            elif current != self.seq:
                self._apply_since(conn, current)
            self._data_version = data_version
            self._behind = data_version is None
        assert self.index is not None
        if not self.covers(scope):
            self._prefix_loads += 1
            whole = self._prefix_loads > PREFIX_LOADS_BEFORE_ALL
            _load(conn, self.index, () if whole else scope)
            self.loaded = {done for done in self.loaded if done[: len(scope)] != scope}
            self.loaded.add(() if whole else scope)
        return self.index

    def _apply_since(self, conn: sqlite3.Connection, current: int) -> None:
        assert self.index is not None
        # Removals first: an address removed and then put again is in store_items now.
        for prefix, key in conn.execute(
            "SELECT prefix, key FROM store_removals WHERE seq > ? AND seq <= ?", (self.seq, current)
        ):
            self.index.delete(split_namespace(prefix), key)
        changed = conn.execute(
            "SELECT i.prefix, i.key, t.body FROM store_items i "
            "LEFT JOIN store_texts t ON t.item_id = i.id WHERE i.seq > ? AND i.seq <= ? "
            "ORDER BY i.id, t.id",
            (self.seq, current),
        )
        for (prefix, key), bodies in _grouped(changed).items():
            self.index.put_bodies(split_namespace(prefix), key, bodies)
        self.seq = current

    def applied_own_write(
        self, before: int, after: int, changes: list[KeywordChange], *, complete: bool = True
    ) -> None:
        """Apply a committed write of this process that moved ``seq`` from ``before`` to ``after``.

        ``complete=False``: the write kept no keyword rows (a ``"vector"`` store's puts), so
        the index takes its items in from the file once a catch-up has indexed them.
        """
        if self.index is None:
            return
        if self.seq != before or not complete:
            self._behind = True  # someone else wrote in between: catch up from the file
            return
        for namespace, key, bodies in changes:  # in order: the last change of a key wins
            self.index.put_bodies(namespace, key, bodies or [])
        self.seq = after


def _grouped(rows: Any) -> dict[tuple[str, str], list[str]]:
    """``(prefix, key, body or None)`` rows as each address's bodies (none: it has no rows)."""
    found: dict[tuple[str, str], list[str]] = {}
    for prefix, key, body in rows:
        bodies = found.setdefault((prefix, key), [])
        if body is not None:
            bodies.append(body)
    return found


def _load(conn: sqlite3.Connection, index: KeywordIndex, scope: tuple[str, ...]) -> None:
    """Put every item's keyword rows under ``scope`` into ``index`` (same snapshot as its seq)."""
    where, params = prefix_where(scope, column="prefix")
    rows = conn.execute(
        f"SELECT prefix, key, body FROM store_texts WHERE {where} ORDER BY item_id, id", params
    )
    namespaces: dict[str, tuple[str, ...]] = {}
    for (prefix, key), bodies in _grouped(rows).items():
        namespace = namespaces.get(prefix)
        if namespace is None:
            namespace = namespaces[prefix] = split_namespace(prefix)
        index.put_bodies(namespace, key, bodies)
    index.sort_keys(scope)
