"""The store interface: long-term memory shared across threads.

A store keeps JSON-like ``dict`` values under a ``(namespace, key)`` address,
where a namespace is a tuple of string labels such as ``("memories", user_id)``.
A backend implements two methods, :meth:`BaseStore.batch` and
:meth:`BaseStore.abatch`, that execute a list of operations
(:class:`GetOp`, :class:`PutOp`, :class:`SearchOp`, :class:`ListNamespacesOp`);
every convenience method (``get``, ``put``, ``search``, ...) is built on them.
:class:`~threadloom.store.base.batch.AsyncBatchedBaseStore` is the base for an
async-only backend whose concurrent calls are gathered into one ``abatch``.

Example::

    from threadloom.store.memory import InMemoryStore

    store = InMemoryStore()
    store.put(("memories", "1"), "name", {"data": "User name is Bob"})
    assert store.get(("memories", "1"), "name").value == {"data": "User name is Bob"}
"""

from threadloom.errors import InvalidNamespaceError
from threadloom.store._config import SEARCH_CONFIG_KEYS as SEARCH_CONFIG_KEYS
from threadloom.store._config import IndexConfig, TTLConfig
from threadloom.store._config import configured_search_mode as configured_search_mode
from threadloom.store._config import normalize_index_config as normalize_index_config
from threadloom.store._config import validate_ttl_config as validate_ttl_config
from threadloom.store._config import vector_index_config as vector_index_config
from threadloom.store._dump import StoredItem
from threadloom.store._items import Item, SearchItem
from threadloom.store._ops import NOT_PROVIDED as NOT_PROVIDED
from threadloom.store._ops import (
    SEARCH_MODES,
    GetOp,
    ListNamespacesOp,
    MatchCondition,
    NamespacePath,
    Op,
    PutOp,
    Result,
    SearchMode,
    SearchOp,
)
from threadloom.store._ops import AEmbedFunc as AEmbedFunc
from threadloom.store._ops import DeleteNamespaceOp as DeleteNamespaceOp
from threadloom.store._ops import EmbedFunc as EmbedFunc
from threadloom.store._ops import NamespaceMatchType as NamespaceMatchType
from threadloom.store._paths import get_text_at_path, tokenize_path
from threadloom.store._validate import RESERVED_NAMESPACE_LABEL
from threadloom.store._validate import plain_json_copy as plain_json_copy
from threadloom.store._validate import validate_index_arg as validate_index_arg
from threadloom.store._validate import validate_op as validate_op
from threadloom.store._validate import validate_ops as validate_ops
from threadloom.store._validate import validate_page as validate_page
from threadloom.store._validate import validate_ttl as validate_ttl
from threadloom.store._validate import validate_value as validate_value
from threadloom.store.base._store import BaseStore
from threadloom.store.base._store import run_in_thread as run_in_thread

__all__ = [
    "RESERVED_NAMESPACE_LABEL",
    "SEARCH_MODES",
    "BaseStore",
    "GetOp",
    "IndexConfig",
    "InvalidNamespaceError",
    "Item",
    "ListNamespacesOp",
    "MatchCondition",
    "NamespacePath",
    "Op",
    "PutOp",
    "Result",
    "SearchItem",
    "SearchMode",
    "SearchOp",
    "StoredItem",
    "TTLConfig",
    "get_text_at_path",
    "tokenize_path",
]
