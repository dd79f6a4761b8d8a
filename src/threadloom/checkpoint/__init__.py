"""Per-thread persistence: checkpointers keep each thread's graph state between calls.

Import a saver from its module: ``threadloom.checkpoint.memory.InMemorySaver``,
``threadloom.checkpoint.sqlite.SqliteSaver`` (and ``.aio.AsyncSqliteSaver``),
or the interface from ``threadloom.checkpoint.base``.
"""

from threadloom.checkpoint.base import (
    BaseCheckpointSaver,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChain,
    DeltaValue,
)

__all__ = [
    "BaseCheckpointSaver",
    "Checkpoint",
    "CheckpointMetadata",
    "CheckpointTuple",
    "DeltaChain",
    "DeltaValue",
]
