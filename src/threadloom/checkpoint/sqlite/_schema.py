"""The SQLite checkpointer's tables, as migrations (position in the list = schema version).

``checkpoint_snapshots`` holds one row per checkpoint: its header (versions,
versions seen, timestamp; no channel values) and metadata. Metadata serialized
as JSON is stored as TEXT so that ``list(filter=...)`` can use ``json_extract``.
``checkpoint_blobs`` holds one row per channel version: a full value, a delta
(``base_version`` names the version it applies to) or ``empty``. A checkpoint
only writes rows for the channels that changed.
``writer``, ``open_turn`` and ``created_at`` of a snapshot serve the rule that
two writers never both extend one thread. ``checkpoint_writes`` holds pending writes; ``rowid`` keeps the order they
were first stored in.
"""

from __future__ import annotations

from threadloom._sqlite import Migration

__all__ = ["COMPONENT", "MIGRATIONS"]

#: The name under which the checkpointer's schema version is recorded.
COMPONENT = "checkpoint"

MIGRATIONS: list[Migration] = [
    """
    CREATE TABLE checkpoint_snapshots (
        thread_id TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL,
        checkpoint_id TEXT NOT NULL,
        parent_checkpoint_id TEXT,
        type TEXT NOT NULL,
        checkpoint BLOB NOT NULL,
        metadata_type TEXT NOT NULL,
        metadata BLOB NOT NULL,
        PRIMARY KEY (thread_id, checkpoint_ns, checkpoint_id)
    ) WITHOUT ROWID;
    CREATE TABLE checkpoint_blobs (
        thread_id TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL,
        channel TEXT NOT NULL,
        version TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('full', 'delta', 'empty')),
        base_version TEXT,
        type TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (thread_id, checkpoint_ns, channel, version)
    ) WITHOUT ROWID;
    CREATE TABLE checkpoint_writes (
        thread_id TEXT NOT NULL,
        checkpoint_ns TEXT NOT NULL,
        checkpoint_id TEXT NOT NULL,
        task_id TEXT NOT NULL,
        idx INTEGER NOT NULL,
        channel TEXT NOT NULL,
        type TEXT NOT NULL,
        data BLOB NOT NULL,
        task_path TEXT NOT NULL DEFAULT '',
        UNIQUE (thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
    );
    """,
    # Who wrote a checkpoint, when (unix seconds), and whether its turn still has nodes to run:
    # what the concurrency rule reads (threadloom.checkpoint._common).
    """
    ALTER TABLE checkpoint_snapshots ADD COLUMN writer TEXT NOT NULL DEFAULT '';
    ALTER TABLE checkpoint_snapshots ADD COLUMN open_turn INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE checkpoint_snapshots ADD COLUMN created_at REAL NOT NULL DEFAULT 0;
    """,
]
