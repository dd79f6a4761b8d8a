"""PostgreSQL checkpointers that keep only each thread's latest checkpoint.

``ShallowPostgresSaver`` and ``AsyncShallowPostgresSaver`` are
:class:`~threadloom.checkpoint.postgres.PostgresSaver` and
:class:`~threadloom.checkpoint.postgres.aio.AsyncPostgresSaver` that, after each
checkpoint they store, drop the thread's older ones (per namespace, with their
pending writes and the values only they read), as
``prune(thread_ids, strategy="keep_latest")`` does. A thread keeps its state and
can resume an interrupt, but has no history to replay or fork from.

LangGraph deprecates its classes of these names in favour of a regular saver with
``durability="exit"`` (one checkpoint per run); threadloom keeps them for programs
that use them, and warns the same way. Example::

    import warnings
    from threadloom.checkpoint.postgres import ShallowPostgresSaver

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        with ShallowPostgresSaver.from_conn_string(dsn) as saver:
            saver.setup()
"""

from threadloom.checkpoint.postgres._shallow import ShallowPostgresSaver
from threadloom.checkpoint.postgres.aio import AsyncShallowPostgresSaver

__all__ = ["AsyncShallowPostgresSaver", "ShallowPostgresSaver"]
