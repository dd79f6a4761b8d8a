"""The public surface, pinned: every public module's ``__all__``, name by name.

A change here is a change to the public API: make it on purpose, and record it
in CHANGELOG.md. Private modules (``_``-prefixed) may change freely.
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC_API: dict[str, list[str]] = {
    "threadloom": ["__version__"],
    "threadloom.checkpoint.base": [
        "BaseCheckpointSaver",
        "ChannelVersions",
        "Checkpoint",
        "CheckpointMetadata",
        "CheckpointTuple",
        "DeltaChain",
        "DeltaValue",
        "ERROR",
        "INTERRUPT",
        "PendingWrite",
        "RESUME",
        "SCHEDULED",
        "StoredBlob",
        "WRITES_IDX_MAP",
        "decode_channels",
        "decode_checkpoint",
        "encode_channels",
        "encode_checkpoint",
        "get_checkpoint_id",
        "get_thread_address",
        "metadata_matches",
        "unique_next_version",
    ],
    "threadloom.checkpoint.memory": ["InMemorySaver", "MemorySaver"],
    "threadloom.checkpoint.postgres": ["PostgresSaver"],
    "threadloom.checkpoint.postgres.aio": ["AsyncPostgresSaver"],
    "threadloom.checkpoint.serde": ["JsonPlusSerializer", "SerializerProtocol", "register_type"],
    "threadloom.checkpoint.sqlite": ["SqliteSaver"],
    "threadloom.checkpoint.sqlite.aio": ["AsyncSqliteSaver"],
    "threadloom.config": ["get_config", "get_store", "get_stream_writer"],
    "threadloom.constants": ["END", "INTERRUPT", "START"],
    "threadloom.embeddings": [
        "EmbedFunction",
        "FunctionEmbeddings",
        "LocalEmbeddings",
        "ensure_embeddings",
        "init_embeddings",
    ],
    "threadloom.errors": [
        "CheckpointConflictError",
        "CheckpointNotFoundError",
        "CheckpointerNotConfiguredError",
        "DatabaseError",
        "EmbeddingError",
        "EmptyChannelError",
        "EmptyInputError",
        "GraphBubbleUp",
        "GraphBuildError",
        "GraphInterrupt",
        "GraphRecursionError",
        "IndexConfigMismatchError",
        "IndexNotConfiguredError",
        "InvalidCheckpointInputError",
        "InvalidConnectionError",
        "InvalidEmbedderError",
        "InvalidFilterError",
        "InvalidNamespaceError",
        "InvalidResumeError",
        "InvalidStoreInputError",
        "InvalidUpdateError",
        "InvalidValueError",
        "MissingThreadIdError",
        "ParentCommand",
        "SchemaVersionError",
        "SerializationError",
        "StoreNotConfiguredError",
        "ThreadloomError",
        "UnknownEmbeddingProviderError",
    ],
    "threadloom.graph": [
        "CompiledStateGraph",
        "END",
        "MessagesState",
        "START",
        "StateGraph",
        "add_messages",
    ],
    "threadloom.graph.message": ["MessagesState", "REMOVE_ALL_MESSAGES", "add_messages"],
    "threadloom.graph.state": ["CompiledStateGraph", "StateGraph"],
    "threadloom.runtime": ["Runtime", "get_runtime"],
    "threadloom.store.base": [
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
        "RESERVED_NAMESPACE_LABEL",
        "Result",
        "SEARCH_MODES",
        "SearchItem",
        "SearchMode",
        "SearchOp",
        "TTLConfig",
        "get_text_at_path",
        "tokenize_path",
    ],
    "threadloom.store.memory": ["InMemoryStore"],
    "threadloom.store.postgres": ["ANNIndexConfig", "PostgresIndexConfig", "PostgresStore"],
    "threadloom.store.postgres.aio": ["AsyncPostgresStore"],
    "threadloom.store.sqlite": ["SqliteStore"],
    "threadloom.store.sqlite.aio": ["AsyncSqliteStore"],
    "threadloom.testing.checkpoint": [
        "CheckpointerConformance",
        "SaverDriver",
        "SharedCheckpointerConformance",
        "make_checkpoint",
    ],
    "threadloom.testing.embeddings": [
        "AsyncHashingEmbed",
        "HashingEmbed",
        "InfEmbed",
        "NaNEmbed",
        "RaisingEmbed",
        "WrongCountEmbed",
        "WrongDimsEmbed",
    ],
    "threadloom.testing.models": [
        "FakeChatModel",
        "OFFLINE_TAG",
        "OfflineChatModel",
        "memories_from_system_prompt",
        "offline_reply",
    ],
    "threadloom.testing.postgres": [
        "PostgresServer",
        "find_postgres_binaries",
        "postgres_fixture",
        "start_postgres",
    ],
    "threadloom.testing.store": [
        "DIMS",
        "SearchModeConformance",
        "StoreClient",
        "StoreConformance",
    ],
    "threadloom.types": [
        "All",
        "Command",
        "Interrupt",
        "PregelTask",
        "RetryPolicy",
        "Send",
        "StateSnapshot",
        "StreamMode",
        "StreamWriter",
        "default_retry_on",
        "interrupt",
    ],
}

# The migration contract of DESIGN.md: these names must stay importable from these paths.
CONTRACT: dict[str, list[str]] = {
    "threadloom.graph": ["StateGraph", "MessagesState", "START", "END", "add_messages"],
    "threadloom.graph.message": ["MessagesState", "add_messages"],
    "threadloom.graph.state": ["StateGraph", "CompiledStateGraph"],
    "threadloom.types": [
        "Command",
        "Send",
        "interrupt",
        "Interrupt",
        "RetryPolicy",
        "StateSnapshot",
        "StreamWriter",
    ],
    "threadloom.config": ["get_config", "get_store", "get_stream_writer"],
    "threadloom.runtime": ["Runtime"],
    "threadloom.errors": ["GraphRecursionError", "InvalidUpdateError"],
    "threadloom.checkpoint.base": [
        "BaseCheckpointSaver",
        "Checkpoint",
        "CheckpointMetadata",
        "CheckpointTuple",
    ],
    "threadloom.checkpoint.memory": ["InMemorySaver", "MemorySaver"],
    "threadloom.checkpoint.sqlite": ["SqliteSaver"],
    "threadloom.checkpoint.sqlite.aio": ["AsyncSqliteSaver"],
    "threadloom.checkpoint.postgres": ["PostgresSaver"],
    "threadloom.checkpoint.postgres.aio": ["AsyncPostgresSaver"],
    "threadloom.store.base": [
        "BaseStore",
        "Item",
        "SearchItem",
        "GetOp",
        "PutOp",
        "SearchOp",
        "ListNamespacesOp",
        "MatchCondition",
        "IndexConfig",
        "TTLConfig",
        "InvalidNamespaceError",
        "get_text_at_path",
    ],
    "threadloom.store.memory": ["InMemoryStore"],
    "threadloom.store.sqlite": ["SqliteStore"],
    "threadloom.store.sqlite.aio": ["AsyncSqliteStore"],
    "threadloom.store.postgres": ["PostgresStore"],
    "threadloom.store.postgres.aio": ["AsyncPostgresStore"],
    "threadloom.embeddings": ["init_embeddings"],
}


@pytest.mark.parametrize("module", sorted(PUBLIC_API))
def test_all_is_exactly_the_pinned_list(module: str) -> None:
    """A public module exports exactly the names pinned here, and each of them exists."""
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == PUBLIC_API[module]
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name} is listed in __all__ but missing"


@pytest.mark.parametrize("module", sorted(CONTRACT))
def test_the_migration_contract_holds(module: str) -> None:
    """Every import path of DESIGN.md's table is exported (a search-and-replace migration works)."""
    assert set(CONTRACT[module]) <= set(PUBLIC_API[module])
