"""Search-mode configuration shared by the stores: fusion settings and indexed paths.

Every backend reads ``index["fusion"]`` and decides which paths are
keyword-indexed the same way, so a config accepted (or rejected) by one store
behaves identically on another.
"""

from __future__ import annotations

from threadloom.errors import InvalidStoreInputError
from threadloom.store._embedding import ResolvedIndex
from threadloom.store._fusion import DEFAULT_FUSION, FusionConfig
from threadloom.store.base import IndexConfig, tokenize_path

__all__ = ["fusion_config", "text_fields"]


def fusion_config(index: IndexConfig | None) -> FusionConfig:
    """The hybrid tuning of ``index["fusion"]``, checked; the defaults when absent."""
    fusion = (index or {}).get("fusion")
    if fusion is None:
        return DEFAULT_FUSION
    if not isinstance(fusion, dict):
        raise InvalidStoreInputError(
            f"index['fusion'] must be a dict such as {{'vector_weight': 0.5}}, got {fusion!r}"
        )
    try:
        return FusionConfig(**fusion)
    except (TypeError, ValueError) as exc:
        raise InvalidStoreInputError(f"index['fusion'] is invalid: {exc}") from exc


def text_fields(
    index: IndexConfig | None, resolved: ResolvedIndex | None
) -> tuple[str, ...] | None:
    """The keyword-indexed paths: the embedded fields, or a keyword-only config's own."""
    if index is None:
        return None
    if resolved is not None:
        return resolved.fields
    unknown = set(index) - {"fields", "search_mode", "fusion"}
    if unknown:
        raise InvalidStoreInputError(
            f"Unknown option(s) for a keyword-only index: {', '.join(sorted(unknown))} "
            "(a vector index needs both 'embed' and 'dims')"
        )
    fields = index.get("fields") or ["$"]
    if not isinstance(fields, (list, tuple)) or not all(isinstance(f, str) and f for f in fields):
        raise InvalidStoreInputError(
            f"index['fields'] must be a list of path strings, got {fields!r}"
        )
    for path in fields:
        tokenize_path(path)  # a malformed path fails now, not at the first put
    return tuple(fields)
