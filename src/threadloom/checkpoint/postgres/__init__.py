"""A checkpointer on PostgreSQL: conversation threads shared by every host of an application.

Install with ``pip install 'threadloom[postgres]'``. Example (``dsn`` is a
``postgresql://user:password@host:port/db`` URL)::

    from threadloom.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(dsn) as saver:
        saver.setup()                      # once per database; safe to repeat
        config = {"configurable": {"thread_id": "1"}}
        assert saver.get_tuple(config) is None

Many hosts may work on one database. Two hosts taking turns on the *same*
thread at the same moment cannot both extend it: the second ``put`` raises
:class:`~threadloom.errors.CheckpointConflictError` (nothing is written), and
the caller re-reads the thread and retries the turn. See
:mod:`threadloom.checkpoint._common` for the exact rule (the same on every saver).

Retention: :meth:`PostgresSaver.delete_thread` and
``prune(thread_ids, strategy="keep_latest")``.
"""

from threadloom.checkpoint.postgres._saver import PostgresSaver
from threadloom.checkpoint.postgres._shallow import ShallowPostgresSaver

__all__ = ["PostgresSaver", "ShallowPostgresSaver"]
