"""The store interface: long-term memory shared across threads.

A store keeps JSON-like ``dict`` values under a ``(namespace, key)`` address,
where a namespace is a tuple of string labels such as ``("memories", user_id)``.
A backend implements two methods, :meth:`BaseStore.batch` and
:meth:`BaseStore.abatch`, that execute a list of operations
(:class:`GetOp`, :class:`PutOp`, :class:`SearchOp`, :class:`ListNamespacesOp`);
every convenience method (``get``, ``put``, ``search``, ...) is built on them.

Example::

    from threadloom.store.memory import InMemoryStore

    store = InMemoryStore()
    store.put(("memories", "1"), "name", {"data": "User name is Bob"})
    assert store.get(("memories", "1"), "name").value == {"data": "User name is Bob"}
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple, TypedDict, cast

from threadloom.errors import (
    InvalidNamespaceError,
    InvalidStoreInputError,
)
from threadloom.store._validate import (
    RESERVED_NAMESPACE_LABEL,
    bad_text,
    capped,
    check_read_namespace,
    normalized_value,
    validate_key,
    validate_namespace,
    validate_value,
)
from threadloom.store._validate import (
    plain_json_copy as plain_json_copy,  # re-exported: callers copy values with it
)

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
    "TTLConfig",
    "get_text_at_path",
    "tokenize_path",
]

NamespacePath = tuple[str | Literal["*"], ...]
"""A namespace pattern; the label ``"*"`` matches any one label."""

NamespaceMatchType = Literal["prefix", "suffix"]

SearchMode = Literal["vector", "keyword", "hybrid"]
"""How a query search ranks: by meaning, by keywords (BM25), or both fused."""

#: Every search mode, in the order the docs list them.
SEARCH_MODES: tuple[str, ...] = ("vector", "keyword", "hybrid")


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


class GetOp(NamedTuple):
    """Read one item by namespace and key."""

    namespace: tuple[str, ...]
    key: str
    refresh_ttl: bool = True


class SearchOp(NamedTuple):
    """Search items under a namespace prefix, by filter and/or natural-language query.

    ``mode`` (``"vector"``, ``"keyword"`` or ``"hybrid"``) ranks a query
    search; ``None`` means the index config's ``search_mode`` (default
    ``"vector"``). It is ignored without a query.
    """

    namespace_prefix: tuple[str, ...]
    filter: dict[str, Any] | None = None
    limit: int = 10
    offset: int = 0
    query: str | None = None
    refresh_ttl: bool = True
    # Last, so positional callers written for the reference API are unaffected.
    mode: str | None = None


class MatchCondition(NamedTuple):
    """A namespace pattern anchored at the start (``prefix``) or end (``suffix``)."""

    match_type: NamespaceMatchType
    path: NamespacePath


class ListNamespacesOp(NamedTuple):
    """List the namespaces that hold items, filtered by match conditions."""

    match_conditions: tuple[MatchCondition, ...] | None = None
    max_depth: int | None = None
    limit: int = 100
    offset: int = 0


class PutOp(NamedTuple):
    """Store (``value`` is a dict) or delete (``value is None``) one item.

    ``index`` is ``None`` to embed the store's configured fields, ``False`` to
    skip embedding, or a list of paths to embed instead. ``ttl`` is minutes to
    live, ``None`` for the store's default.
    """

    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any] | None
    # The field name shadows tuple.index; kept because it is the reference API's name.
    index: Literal[False] | list[str] | None = None  # type: ignore[assignment]
    ttl: float | None = None


class DeleteNamespaceOp(NamedTuple):
    """Delete every item whose namespace starts with ``namespace_prefix``."""

    namespace_prefix: tuple[str, ...]


Op = GetOp | SearchOp | PutOp | ListNamespacesOp | DeleteNamespaceOp
Result = Item | list[Item] | list[SearchItem] | list[tuple[str, ...]] | int | None

EmbedFunc = Callable[[Sequence[str]], Sequence[Sequence[float]]]
AEmbedFunc = Callable[[Sequence[str]], Awaitable[Sequence[Sequence[float]]]]


class IndexConfig(TypedDict, total=False):
    """How a store indexes items for query search.

    ``dims``: the embedding size. ``embed``: a LangChain ``Embeddings``, a sync
    or async function from texts to vectors, or a ``"provider:model"`` string
    (``"local"`` is threadloom's offline default model). ``fields``: the paths
    whose text is embedded and keyword-indexed (default ``["$"]``, the whole value).

    ``search_mode``: how ``search(query=...)`` ranks when the call gives no
    ``mode``: ``"vector"`` (default, as in LangGraph), ``"keyword"`` or
    ``"hybrid"``. ``fusion``: hybrid tuning, e.g. ``{"vector_weight": 0.5,
    "candidates": 100}`` (the fields of ``threadloom.store._fusion.FusionConfig``).

    A config without ``embed`` and ``dims`` (``{"fields": ["text"]}``) makes a
    keyword-only store: no embedder, keyword searches only (its default mode).
    """

    dims: int
    embed: Any
    fields: list[str] | None
    search_mode: SearchMode
    fusion: dict[str, Any]


class TTLConfig(TypedDict, total=False):
    """Time-to-live for items.

    ``default_ttl``: minutes an item lives when ``put`` gives no ``ttl``.
    ``refresh_on_read``: whether reads push the expiry back (default True).
    ``sweep_interval_minutes``: how often a background sweeper removes
    expired items (no sweeper when unset; expired items are never returned).
    """

    refresh_on_read: bool
    default_ttl: float | None
    sweep_interval_minutes: int | None


class _NotProvided:
    __slots__ = ()

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "NOT_PROVIDED"


NOT_PROVIDED: Any = _NotProvided()


# --- validation shared by every backend ---------------------------------------


def validate_ttl(ttl: float | None) -> None:
    if ttl is None:
        return
    if (
        isinstance(ttl, bool)
        or not isinstance(ttl, (int, float))
        or not math.isfinite(ttl)
        or ttl <= 0
    ):
        raise InvalidStoreInputError(
            f"ttl must be a positive number of minutes or None, got {ttl!r}"
        )


def validate_ttl_config(ttl: TTLConfig | None) -> TTLConfig | None:
    """Check a store's ``ttl=`` argument (every backend); returns it unchanged."""
    if ttl is None:
        return None
    if not isinstance(ttl, dict):
        raise InvalidStoreInputError(f"ttl must be a dict (TTLConfig), got {type(ttl).__name__}")
    unknown = set(ttl) - {"default_ttl", "refresh_on_read", "sweep_interval_minutes"}
    if unknown:
        raise InvalidStoreInputError(f"Unknown ttl option(s): {', '.join(sorted(unknown))}")
    for name in ("default_ttl", "sweep_interval_minutes"):
        minutes = ttl.get(name)
        if minutes is not None and (
            isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not minutes > 0
        ):
            raise InvalidStoreInputError(
                f"ttl[{name!r}] must be a positive number of minutes, got {minutes!r}"
            )
    if not isinstance(ttl.get("refresh_on_read", True), bool):
        raise InvalidStoreInputError(
            f"ttl['refresh_on_read'] must be a bool, got {ttl['refresh_on_read']!r}"
        )
    return ttl


def validate_index_arg(index: Any) -> None:
    if index is None or index is False:
        return
    if not isinstance(index, list) or not all(isinstance(p, str) and p for p in index):
        raise InvalidStoreInputError(
            f"index must be None, False or a list of non-empty path strings, got {index!r}"
        )
    for path in index:
        problem = bad_text(path)
        if problem is not None:
            raise InvalidStoreInputError(f"index paths cannot contain {problem}: {path!r}")


#: The keys of :class:`IndexConfig` that configure keyword and hybrid search.
SEARCH_CONFIG_KEYS = frozenset({"search_mode", "fusion"})


def validate_search_mode(mode: Any) -> None:
    """Raise :class:`InvalidStoreInputError` unless ``mode`` is ``None`` or a known mode."""
    if mode is not None and (not isinstance(mode, str) or mode not in SEARCH_MODES):
        raise InvalidStoreInputError(
            f"Unknown search mode {mode!r}; use one of {', '.join(SEARCH_MODES)} (or None)"
        )


def vector_index_config(config: IndexConfig | None) -> IndexConfig | None:
    """The part of ``config`` that configures vectors; ``None`` for a keyword-only store.

    Backends hand this to their embedding setup, so the keyword options
    (``search_mode``, ``fusion``) never reach it. A config with neither
    ``embed`` nor ``dims`` has no vectors.
    """
    if config is None or not isinstance(config, dict):
        return config
    if config.get("embed") is None and "dims" not in config:
        return None
    return cast(IndexConfig, {k: v for k, v in config.items() if k not in SEARCH_CONFIG_KEYS})


def configured_search_mode(config: IndexConfig | None) -> str:
    """The index config's ``search_mode``, checked; when unset ``"vector"``, or
    ``"keyword"`` for a keyword-only config (no embedder), its only possible mode.
    """
    keyword_only = config is not None and vector_index_config(config) is None
    mode = (config or {}).get("search_mode") or ("keyword" if keyword_only else "vector")
    validate_search_mode(mode)
    if config is not None and mode != "keyword" and vector_index_config(config) is None:
        raise InvalidStoreInputError(
            f"index['search_mode']={mode!r} needs an embedder ('embed' and 'dims'); "
            "a store indexed by 'fields' alone can only search with search_mode='keyword'"
        )
    return str(mode)


def validate_page(limit: Any, offset: Any) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidStoreInputError(f"limit must be a non-negative integer, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidStoreInputError(f"offset must be a non-negative integer, got {offset!r}")


def validate_op(op: Op) -> None:
    """Check one operation the way every backend must, before anything is written.

    Backends call this (through :func:`validate_ops`) at the top of ``batch``, so
    direct ``batch`` calls get the same errors as the convenience methods.
    """
    if isinstance(op, PutOp):
        validate_namespace(op.namespace)
        validate_key(op.key)
        if op.value is not None:
            validate_value(op.value)
            validate_index_arg(op.index)
            validate_ttl(op.ttl)
    elif isinstance(op, GetOp):
        if not isinstance(op.namespace, tuple):
            raise InvalidNamespaceError(f"Namespace must be a tuple, got {op.namespace!r}")
        check_read_namespace(op.namespace)
        validate_key(op.key)
    elif isinstance(op, SearchOp):
        if not isinstance(op.namespace_prefix, tuple):
            raise InvalidNamespaceError(
                f"Namespace prefix must be a tuple, got {op.namespace_prefix!r}"
            )
        check_read_namespace(op.namespace_prefix)
        validate_page(op.limit, op.offset)
        if op.query is not None and not isinstance(op.query, str):
            raise InvalidStoreInputError(f"query must be a string, got {type(op.query).__name__}")
        problem = bad_text(op.query) if op.query else None
        if problem is not None:
            raise InvalidStoreInputError(f"A query cannot contain {problem}: {op.query!r:.200}")
        validate_search_mode(op.mode)
        if op.filter is not None and not isinstance(op.filter, dict):
            from threadloom.errors import InvalidFilterError

            raise InvalidFilterError(f"filter must be a dict, got {type(op.filter).__name__}")
    elif isinstance(op, ListNamespacesOp):
        validate_page(op.limit, op.offset)
        for condition in op.match_conditions or ():
            path = getattr(condition, "path", None)
            if isinstance(path, (tuple, list)):
                check_read_namespace(tuple(path))
        if op.max_depth is not None and (
            isinstance(op.max_depth, bool) or not isinstance(op.max_depth, int) or op.max_depth < 1
        ):
            raise InvalidStoreInputError(
                f"max_depth must be a positive integer, got {op.max_depth!r}"
            )
    elif isinstance(op, DeleteNamespaceOp):
        if not isinstance(op.namespace_prefix, tuple) or not op.namespace_prefix:
            raise InvalidNamespaceError(
                "delete_namespace needs a non-empty namespace prefix tuple, "
                f"got {op.namespace_prefix!r}"
            )
        validate_namespace(op.namespace_prefix)
    else:
        raise InvalidStoreInputError(f"Unknown store operation: {op!r}")


_CAP = capped(2**63)


def validate_ops(ops: Iterable[Op]) -> list[Op]:
    """Materialize and validate a batch; raises before any operation runs.

    Each put's value comes back replaced by :func:`normalized_value` (a deep
    copy, as JSON would return it), so a caller mutating its dict later, or
    during the embedding call, cannot change what is stored; a search's empty
    query (``""``) comes back as ``None``, no query; a limit or offset beyond
    ``PAGE_CAP`` comes back capped (the same page, in numbers SQL can bind).
    """
    ops = list(ops)
    for position, op in enumerate(ops):
        if type(op) is PutOp and op.value is not None:
            validate_namespace(op.namespace)
            validate_key(op.key)
            validate_index_arg(op.index)
            validate_ttl(op.ttl)
            ops[position] = PutOp(
                op.namespace, op.key, normalized_value(op.value), op.index, op.ttl
            )
        else:
            validate_op(op)
            if type(op) is SearchOp and op.query == "":
                # As in the reference API, an empty query means no query.
                ops[position] = op = op._replace(query=None)
            if isinstance(op, (SearchOp, ListNamespacesOp)) and max(op.limit, op.offset) > _CAP:
                ops[position] = op._replace(limit=capped(op.limit), offset=capped(op.offset))
    return ops


# --- text extraction for embeddings -----------------------------------------------


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
    dict), ``{x,y.z}`` (several paths). A path that is missing yields nothing.

    >>> get_text_at_path({"a": {"b": ["x", "y"]}}, "a.b[*]")
    ['x', 'y']
    """
    if path == "$" or path == [] or path == "":
        text = _leaf_text(obj)
        return [text] if text is not None else []
    tokens = _cached_tokens(path) if isinstance(path, str) else path
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


# --- the interface -------------------------------------------------------------


class BaseStore(ABC):
    """Abstract store: implement :meth:`batch` and :meth:`abatch`, inherit the rest.

    Every method has an async twin prefixed with ``a`` (``aget``, ``aput``, ...).
    """

    supports_ttl: bool = False
    ttl_config: TTLConfig | None = None
    #: The search modes this backend implements; a backend adds ``"keyword"``
    #: and ``"hybrid"`` once it keeps a keyword index.
    supported_search_modes: tuple[str, ...] = ("vector",)

    __slots__ = ("__weakref__",)

    @abstractmethod
    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Execute operations in order and return one result per operation.

        The whole batch is validated before any of it runs.
        """

    @abstractmethod
    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Async twin of :meth:`batch`."""

    # --- sync conveniences ---

    def get(
        self,
        namespace: tuple[str, ...],
        key: str,
        *,
        refresh_ttl: bool | None = None,
    ) -> Item | None:
        """The item at ``(namespace, key)``, or ``None``."""
        op = GetOp(namespace, key, self._refresh(refresh_ttl))
        return cast("Item | None", self.batch([op])[0])

    def search(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
        mode: SearchMode | None = None,
    ) -> list[SearchItem]:
        """Items under ``namespace_prefix``, best match first.

        With ``query``, items are ranked according to ``mode`` (the store must
        have an index): ``"vector"`` by semantic similarity, ``"keyword"`` by
        BM25 over the indexed text, ``"hybrid"`` by both fused; ``None`` uses
        the index config's ``search_mode`` (default ``"vector"``). Without a
        query, the most recently updated come first, whatever the mode.
        ``filter`` matches values: ``{"kind": "fact", "score": {"$gte": 3}}``.
        See :class:`SearchItem` for what ``score`` means in each mode.
        """
        self._check_mode(mode)
        op = SearchOp(
            namespace_prefix, filter, limit, offset, query, self._refresh(refresh_ttl), mode
        )
        return cast("list[SearchItem]", self.batch([op])[0])

    def put(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: dict[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | Any | None = NOT_PROVIDED,
    ) -> None:
        """Store ``value`` at ``(namespace, key)``, replacing any previous item."""
        self.batch([PutOp(namespace, key, value, index, self._ttl(ttl))])

    def delete(self, namespace: tuple[str, ...], key: str) -> None:
        """Delete the item at ``(namespace, key)`` if it exists."""
        self.batch([PutOp(namespace, key, None)])

    def list_namespaces(
        self,
        *,
        prefix: NamespacePath | None = None,
        suffix: NamespacePath | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """Namespaces that hold items, sorted; ``"*"`` in a pattern matches any label.

        ``max_depth`` truncates longer namespaces to that many labels.
        """
        op = ListNamespacesOp(_match_conditions(prefix, suffix), max_depth, limit, offset)
        return cast("list[tuple[str, ...]]", self.batch([op])[0])

    def delete_namespace(self, namespace_prefix: tuple[str, ...]) -> int:
        """Delete every item under ``namespace_prefix``; returns how many were deleted."""
        return cast(int, self.batch([DeleteNamespaceOp(namespace_prefix)])[0])

    # --- async conveniences ---

    async def aget(
        self,
        namespace: tuple[str, ...],
        key: str,
        *,
        refresh_ttl: bool | None = None,
    ) -> Item | None:
        """Async twin of :meth:`get`."""
        op = GetOp(namespace, key, self._refresh(refresh_ttl))
        return cast("Item | None", (await self.abatch([op]))[0])

    async def asearch(
        self,
        namespace_prefix: tuple[str, ...],
        /,
        *,
        query: str | None = None,
        filter: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        refresh_ttl: bool | None = None,
        mode: SearchMode | None = None,
    ) -> list[SearchItem]:
        """Async twin of :meth:`search`."""
        self._check_mode(mode)
        op = SearchOp(
            namespace_prefix, filter, limit, offset, query, self._refresh(refresh_ttl), mode
        )
        return cast("list[SearchItem]", (await self.abatch([op]))[0])

    async def aput(
        self,
        namespace: tuple[str, ...],
        key: str,
        value: dict[str, Any],
        index: Literal[False] | list[str] | None = None,
        *,
        ttl: float | Any | None = NOT_PROVIDED,
    ) -> None:
        """Async twin of :meth:`put`."""
        await self.abatch([PutOp(namespace, key, value, index, self._ttl(ttl))])

    async def adelete(self, namespace: tuple[str, ...], key: str) -> None:
        """Async twin of :meth:`delete`."""
        await self.abatch([PutOp(namespace, key, None)])

    async def alist_namespaces(
        self,
        *,
        prefix: NamespacePath | None = None,
        suffix: NamespacePath | None = None,
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[tuple[str, ...]]:
        """Async twin of :meth:`list_namespaces`."""
        op = ListNamespacesOp(_match_conditions(prefix, suffix), max_depth, limit, offset)
        return cast("list[tuple[str, ...]]", (await self.abatch([op]))[0])

    async def adelete_namespace(self, namespace_prefix: tuple[str, ...]) -> int:
        """Async twin of :meth:`delete_namespace`."""
        return cast(int, (await self.abatch([DeleteNamespaceOp(namespace_prefix)]))[0])

    # --- helpers ---

    def _check_mode(self, mode: Any) -> None:
        validate_search_mode(mode)
        if mode is not None and mode not in self.supported_search_modes:
            raise InvalidStoreInputError(
                f"Search mode {mode!r} is not supported by {type(self).__name__} "
                f"(supported: {', '.join(self.supported_search_modes)})"
            )

    def _refresh(self, refresh_ttl: bool | None) -> bool:
        if refresh_ttl is not None:
            return refresh_ttl
        if self.ttl_config is None:
            return True
        return self.ttl_config.get("refresh_on_read", True)

    def _ttl(self, ttl: Any) -> float | None:
        if ttl is NOT_PROVIDED:
            return (self.ttl_config or {}).get("default_ttl")
        return cast("float | None", ttl)


def _match_conditions(
    prefix: NamespacePath | None, suffix: NamespacePath | None
) -> tuple[MatchCondition, ...] | None:
    conditions = []
    if prefix:
        conditions.append(MatchCondition("prefix", tuple(prefix)))
    if suffix:
        conditions.append(MatchCondition("suffix", tuple(suffix)))
    return tuple(conditions) or None


async def run_in_thread(func: Callable[..., Any], *args: Any) -> Any:
    """Run blocking work (an embedding call, a SQLite query) off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, func, *args)
