"""A checkpointer in one SQLite file: durable, shared safely between processes.

Each checkpoint writes only the channels that changed, one row per channel
version; a :class:`~threadloom.checkpoint.base.DeltaValue` (how the engine
hands over ``messages``) writes only the new messages, so a turn on a long
thread costs O(new messages). Reads rebuild delta channels with one recursive
query. The file runs in WAL mode; "database is locked" is waited out and
retried inside, never raised.

Example::

    from threadloom.checkpoint.sqlite import SqliteSaver

    with SqliteSaver.from_conn_string(":memory:") as saver:
        config = {"configurable": {"thread_id": "1"}}
        checkpoint = {"v": 4, "id": "0001", "ts": "2026-01-01T00:00:00+00:00",
                      "channel_values": {"count": 1}, "channel_versions": {"count": 1},
                      "versions_seen": {}, "updated_channels": ["count"]}
        saved = saver.put(config, checkpoint, {"source": "input", "step": -1}, {"count": 1})
        assert saver.get_tuple(saved).checkpoint["channel_values"] == {"count": 1}
"""

from threadloom.checkpoint.sqlite._saver import SqliteSaver

__all__ = ["SqliteSaver"]
