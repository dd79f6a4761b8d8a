"""Caches for node and task results (``compile(cache=...)`` with ``add_node(cache_policy=...)``).

:class:`~threadloom.cache.memory.InMemoryCache` keeps entries in the process;
:class:`~threadloom.cache.sqlite.SqliteCache` in one SQLite file. Both
implement :class:`~threadloom.cache.base.BaseCache`.
"""

from threadloom.cache.base import BaseCache

__all__ = ["BaseCache"]
