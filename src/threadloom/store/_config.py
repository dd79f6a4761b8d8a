"""A store's configuration: :class:`IndexConfig` (what is embedded and keyword-indexed) and :class:`TTLConfig`."""

from __future__ import annotations

from typing import Any, TypedDict, TypeVar, cast

from threadloom.errors import InvalidStoreInputError
from threadloom.store._ops import SearchMode
from threadloom.store._validate import validate_search_mode

__all__ = [
    "SEARCH_CONFIG_KEYS",
    "IndexConfig",
    "TTLConfig",
    "configured_search_mode",
    "normalize_index_config",
    "validate_ttl_config",
    "vector_index_config",
]


_C = TypeVar("_C", bound="IndexConfig | None")


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


#: The keys of :class:`IndexConfig` that configure keyword and hybrid search.
SEARCH_CONFIG_KEYS = frozenset({"search_mode", "fusion"})


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


def normalize_index_config(config: _C) -> _C:
    """``config`` with LangGraph SQLite's ``text_fields`` spelled ``fields`` (every backend).

    ``text_fields`` may be one path string or a list of them, as LangGraph's
    SQLite store accepts; giving it next to a different ``fields`` is an error.
    """
    if "text_fields" not in (config if isinstance(config, dict) else ()):
        return config
    given = cast(dict[str, Any], config)
    out = {k: v for k, v in given.items() if k != "text_fields"}
    fields = given["text_fields"]
    if isinstance(fields, str):
        fields = [fields]
    if out.get("fields") is not None and fields is not None and list(out["fields"]) != fields:
        raise InvalidStoreInputError(
            f"index gives both 'fields'={out['fields']!r} and 'text_fields'={fields!r}; "
            "give one ('text_fields' is the older SQLite spelling of 'fields')"
        )
    if out.get("fields") is None:
        out["fields"] = fields
    return cast(_C, out)


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
