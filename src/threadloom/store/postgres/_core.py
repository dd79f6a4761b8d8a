"""What the sync and async PostgreSQL stores share: configuration, setup and planning."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, TypedDict, cast

from threadloom._postgres import Plan, Query, migrate, require_extension
from threadloom.errors import (
    IndexConfigMismatchError,
    IndexNotConfiguredError,
    InvalidStoreInputError,
)
from threadloom.store._dump import StoredItem, prepare_load
from threadloom.store._embedding import ResolvedIndex
from threadloom.store._modes import fusion_config, text_fields
from threadloom.store.base import (
    SEARCH_MODES,
    BaseStore,
    IndexConfig,
    Op,
    PutOp,
    Result,
    SearchOp,
    TTLConfig,
    configured_search_mode,
    normalize_index_config,
    validate_ops,
    validate_ttl_config,
    vector_index_config,
)
from threadloom.store.postgres._dump import dump_plan, load_plan
from threadloom.store.postgres._plans import StorePlanner, backfill_keyword_plan
from threadloom.store.postgres._schema import DISTANCES, ITEM_MIGRATIONS, VectorLayout

__all__ = ["ANNIndexConfig", "PostgresIndexConfig", "PostgresStoreCore"]


class ANNIndexConfig(TypedDict, total=False):
    """The HNSW index: ``vector_type`` (``"vector"``, or ``"halfvec"`` for half the
    space), ``m`` and ``ef_construction`` (build), ``ef_search`` (query breadth).

    Defaults: ``m=32``, ``ef_construction=128`` (at least ``2 * m``), ``ef_search=100``. The build
    parameters are larger than pgvector's own (16 and 64) because with those
    recall@10 of a search across 1M memories fell to about 0.84 in our
    benchmark; they apply when ``setup()`` creates the index, so an existing
    index keeps the parameters it was built with.
    """

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


#: HNSW build parameters when ``ann_index_config`` leaves them out.
DEFAULT_M = 32
DEFAULT_EF_CONSTRUCTION = 128


def _integer(config: dict[str, Any], name: str, default: int, lower: int, upper: int) -> int:
    value = config.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lower <= value <= upper:
        raise InvalidStoreInputError(
            f"ann_index_config[{name!r}] must be an integer in {lower}..{upper}, got {value!r}"
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
    # pgvector's own limits, checked here so a bad value fails before setup() runs DDL.
    m = _integer(ann, "m", DEFAULT_M, 2, 100)
    ef_construction = _integer(ann, "ef_construction", max(DEFAULT_EF_CONSTRUCTION, 2 * m), 4, 1000)
    if ef_construction < 2 * m:
        raise InvalidStoreInputError(
            f"ann_index_config['ef_construction'] must be at least 2 * m = {2 * m} "
            f"(pgvector's rule), got {ef_construction}"
        )
    layout = VectorLayout(
        dims=resolved.dims,
        vector_type=vector_type,
        distance=distance,
        m=m,
        ef_construction=ef_construction,
    )
    return resolved, layout, _integer(ann, "ef_search", 100, 1, 1000)


class PostgresStoreCore(BaseStore):
    """Configuration, schema and plans shared by :class:`PostgresStore` and its async twin."""

    supports_ttl = True
    supported_search_modes = SEARCH_MODES

    def __init__(
        self, *, index: PostgresIndexConfig | None = None, ttl: TTLConfig | None = None
    ) -> None:
        index = normalize_index_config(index)
        self.index_config = index
        self.ttl_config = validate_ttl_config(ttl)
        self._search_mode = configured_search_mode(index)
        # The same dict minus the keyword options (search_mode, fusion).
        vectors = cast(PostgresIndexConfig | None, vector_index_config(index))
        self._index, self._layout, ef_search = resolve_layout(vectors)
        # The paths whose text is keyword-indexed; None: no keyword index at all.
        self._text_fields = text_fields(index, self._index)
        self._planner = StorePlanner(
            self._layout, ef_search or 100, self._text_fields, fusion_config(index)
        )
        # Whether single puts leave their vectors to the indexer (set by its rounds).
        self._deferring = False

    def _setup_plan(self) -> Plan[None]:
        yield from migrate("store", ITEM_MIGRATIONS)
        yield from self._setup_vectors()
        if self._text_fields is not None:
            yield from backfill_keyword_plan(
                self._text_fields, vectors_only=self._layout is not None
            )

    def _setup_vectors(self) -> Plan[None]:
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
        if self._planner.wide is not None:
            yield from self._planner.wide.setup()

    def _prepare(self, ops: Iterable[Op]) -> tuple[list[Op], Any]:
        """Validate the batch and collect what needs embedding (nothing is written yet)."""
        checked = validate_ops(ops)
        for position, op in enumerate(checked):
            if isinstance(op, SearchOp):
                mode = op.mode or self._search_mode
                checked[position] = op = op._replace(mode=mode)
                if op.query is None:
                    continue
                if self._text_fields is None:
                    raise IndexNotConfiguredError(
                        "search(query=...) needs a store created with an index, e.g. "
                        "index={'embed': ..., 'dims': ...} or, for keyword search only, "
                        "index={'fields': ['text']}; search without query to list items"
                    )
                if mode != "keyword" and self._index is None:
                    raise IndexNotConfiguredError(
                        f"search(mode={mode!r}) needs an embedder, and this store's index has "
                        "none ('embed' and 'dims'); use mode='keyword'"
                    )
        if self._index is None:
            return checked, None
        # Keyword searches embed no query.
        to_embed = [
            op._replace(query=None)
            if isinstance(op, SearchOp) and op.query is not None and op.mode == "keyword"
            else op
            for op in checked
        ]
        return checked, self._index.plan(to_embed)

    def _batch_plan(
        self, ops: list[Op], embedded: Any, *, defer: bool = False
    ) -> Plan[list[Result]]:
        return self._planner.batch(ops, embedded, defer=defer)

    @staticmethod
    def _writes_vectors(ops: list[Op]) -> bool:
        return any(isinstance(op, PutOp) and op.value is not None for op in ops)

    def _dump_plan(
        self, namespace_prefix: tuple[str, ...], vectors: bool
    ) -> Plan[list[StoredItem]]:
        return dump_plan(
            tuple(namespace_prefix), vectors=vectors, has_layout=self._layout is not None
        )

    def _load_plan(self, items: Iterable[StoredItem]) -> Plan[int]:
        """Check (and embed) every item first: nothing is sent before all are good."""
        return load_plan(self._planner, prepare_load(items, self._index))
