"""What the sync and async PostgreSQL stores share: configuration, setup and planning."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, TypedDict

from threadloom._postgres import Plan, Query, migrate, require_extension
from threadloom.errors import IndexConfigMismatchError, InvalidStoreInputError
from threadloom.store._embedding import ResolvedIndex
from threadloom.store.base import BaseStore, IndexConfig, Op, Result, TTLConfig, validate_ops
from threadloom.store.postgres._plans import StorePlanner
from threadloom.store.postgres._schema import DISTANCES, ITEM_MIGRATIONS, VectorLayout

__all__ = ["ANNIndexConfig", "PostgresIndexConfig", "PostgresStoreCore"]


class ANNIndexConfig(TypedDict, total=False):
    """The HNSW index: ``vector_type`` (``"vector"``, or ``"halfvec"`` for half the
    space), ``m`` and ``ef_construction`` (build), ``ef_search`` (query breadth)."""

    kind: Literal["hnsw"]
    vector_type: Literal["vector", "halfvec"]
    m: int
    ef_construction: int
    ef_search: int


class PostgresIndexConfig(IndexConfig, total=False):
    """:class:`~threadloom.store.base.IndexConfig` plus ``distance_type``
    (``"cosine"``, ``"l2"`` or ``"inner_product"``) and ``ann_index_config``."""

    distance_type: Literal["cosine", "l2", "inner_product"]
    ann_index_config: ANNIndexConfig


def _positive(config: dict[str, Any], name: str, default: int, upper: int) -> int:
    value = config.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= upper:
        raise InvalidStoreInputError(
            f"ann_index_config[{name!r}] must be an integer in 1..{upper}, got {value!r}"
        )
    return value


def resolve_layout(
    index: PostgresIndexConfig | None,
) -> tuple[ResolvedIndex | None, VectorLayout | None, int]:
    """Validate the index configuration: the embedder, the vector layout and ef_search."""
    resolved = ResolvedIndex.from_config(index)
    if resolved is None or index is None:
        return None, None, 0
    distance = index.get("distance_type", "cosine")
    if distance not in DISTANCES:
        raise InvalidStoreInputError(
            f"distance_type must be one of {', '.join(DISTANCES)}, got {distance!r}"
        )
    ann: dict[str, Any] = dict(index.get("ann_index_config") or {})
    unknown = set(ann) - {"kind", "vector_type", "m", "ef_construction", "ef_search"}
    if unknown or ann.get("kind", "hnsw") != "hnsw":
        raise InvalidStoreInputError(
            f"ann_index_config takes kind='hnsw', vector_type, m, ef_construction, ef_search; got {ann!r}"
        )
    vector_type = ann.get("vector_type", "vector")
    if vector_type not in ("vector", "halfvec"):
        raise InvalidStoreInputError(
            f"vector_type must be 'vector' or 'halfvec', got {vector_type!r}"
        )
    max_dims = 2000 if vector_type == "vector" else 4000  # pgvector's HNSW limits
    if resolved.dims > max_dims:
        raise InvalidStoreInputError(
            f"An HNSW index on {vector_type} holds at most {max_dims} dims, got {resolved.dims}; "
            "use vector_type='halfvec' for up to 4000"
        )
    layout = VectorLayout(
        dims=resolved.dims,
        vector_type=vector_type,
        distance=distance,
        m=_positive(ann, "m", 16, 100),
        ef_construction=_positive(ann, "ef_construction", 64, 1000),
    )
    return resolved, layout, _positive(ann, "ef_search", 100, 1000)


class PostgresStoreCore(BaseStore):
    """Configuration, schema and plans shared by :class:`PostgresStore` and its async twin."""

    supports_ttl = True

    def __init__(
        self, *, index: PostgresIndexConfig | None = None, ttl: TTLConfig | None = None
    ) -> None:
        self.index_config = index
        self.ttl_config = ttl
        self._index, self._layout, ef_search = resolve_layout(index)
        self._planner = StorePlanner(self._layout, ef_search or 100)

    def _setup_plan(self) -> Plan[None]:
        yield from migrate("store", ITEM_MIGRATIONS)
        layout = self._layout
        if layout is None:
            return
        yield from require_extension("vector", "the store's semantic search")
        found = yield Query(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass('threadloom_store_vectors') AND a.attname = 'embedding'"
        )
        if found.rows and found.rows[0][0] != layout.column_type:
            raise IndexConfigMismatchError(
                f"The store's vectors are {found.rows[0][0]} but the index asks for "
                f"{layout.column_type}. Use dims={found.rows[0][0]} (and the same vector_type), "
                "or re-embed into a new database; nothing was changed."
            )
        yield from migrate("store_vectors", layout.migrations())
        yield Query(layout.index_ddl())

    def _prepare(self, ops: Iterable[Op]) -> tuple[list[Op], Any]:
        """Validate the batch and collect what needs embedding (nothing is written yet)."""
        checked = validate_ops(ops)
        if self._index is None:
            return checked, None
        return checked, self._index.plan(checked)

    def _batch_plan(self, ops: list[Op], embedded: Any) -> Plan[list[Result]]:
        return self._planner.batch(ops, embedded)
