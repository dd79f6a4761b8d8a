"""The checkpointer interface: per-thread persistence of graph state.

A checkpoint is a snapshot of every channel of a graph after one superstep.
A saver stores checkpoints per ``thread_id`` (and checkpoint namespace, for
subgraphs), plus the *pending writes* of tasks that finished in a step that did
not complete, so that resuming does not re-run them.

Delta channels. Append-mostly channels (``messages``) would cost O(history)
per turn if every checkpoint re-serialized them. The engine may therefore hand
a saver a :class:`DeltaValue` instead of a full channel value: "the writes
applied to version ``base_version`` of this channel". A saver stores it as is
(only the new writes are serialized) and, on read, rebuilds a
:class:`DeltaChain` — the nearest full snapshot plus the writes since — and
returns the plain value it stands for (as LangGraph does), a list that keeps
the chain as its ``chain`` attribute (``_replay.ReplayedList``). The engine
bounds the chain by sending a full value every so often, so reads stay fast.

Reading a delta channel. A :class:`DeltaValue` for version ``v`` points at
``base_version``; if that stored value is itself a delta, the chain continues
until a full value (the snapshot) or a version with no stored value (the
channel was empty: ``has_snapshot=False`` and ``snapshot`` is ``None``).
``DeltaChain.writes`` are the writes of every delta, oldest first. A full value
(anything that is not a ``DeltaValue``) resets the chain. A value read back
and handed to :meth:`BaseCheckpointSaver.put` again (a fork of a read
checkpoint) is stored as its ``DeltaChain`` (so is a ``DeltaChain`` itself)
and read back as the root of later chains.

Channel versions. The savers shipped with threadloom return *unique* float
versions from :meth:`BaseCheckpointSaver.get_next_version` (``n + 1`` plus a
random fraction below 0.5, e.g. ``3.27...``), so that two branches forked from
one checkpoint never store different values under one version. They are still
numbers: they compare with ints and with each other, and the next version is
always greater than the current one. Treat versions as opaque and compare
them only with ``<``/``>``/``==``.

Pending writes to the special channels in :data:`WRITES_IDX_MAP`
(``__error__``, ``__interrupt__``, ...) replace an earlier special write of
the same task; other writes of a task are kept from the first ``put_writes``
(a retried call does not duplicate them). ``pending_writes`` are returned in
the order they were first stored.

Backends share the encoding of checkpoints and channel blobs through the
helpers at the end of this module (:func:`encode_checkpoint`,
:func:`encode_channels`, :func:`decode_channels`, ...), so every backend
stores and replays delta chains the same way.

Changes to this contract (for code written against an earlier revision):

- a delta channel reads back as its plain list (joined from the chain, kept
  as the list's ``chain``), no longer as a ``DeltaChain``;
- added ``WRITES_IDX_MAP`` and the special channel names, ``get_thread_address``
  and the backend helpers; ``DeltaChain.snapshot`` is ``None`` when
  ``has_snapshot`` is false;
- ``InMemorySaver``/``SqliteSaver`` return float versions (see above).

Example::

    from threadloom.checkpoint.memory import InMemorySaver

    saver = InMemorySaver()
    config = {"configurable": {"thread_id": "1"}}
    assert saver.get_tuple(config) is None
"""

from threadloom.checkpoint._metadata import (
    EXCLUDED_METADATA_KEYS,
    get_checkpoint_metadata,
    metadata_matches,
)
from threadloom.checkpoint.base._core import (
    ERROR,
    INTERRUPT,
    LATEST_VERSION,
    RESUME,
    SCHEDULED,
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChainCache,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChain,
    DeltaValue,
    PendingWrite,
    StoredBlob,
    TaskWrites,
    copy_checkpoint,
    create_checkpoint,
    decode_channels,
    decode_checkpoint,
    empty_checkpoint,
    encode_channels,
    encode_checkpoint,
    get_checkpoint_id,
    get_thread_address,
    unique_next_version,
)
from threadloom.checkpoint.base._core import ChannelVersion as ChannelVersion
from threadloom.checkpoint.base._core import accepts_task_path as accepts_task_path

__all__ = [
    "ERROR",
    "EXCLUDED_METADATA_KEYS",
    "INTERRUPT",
    "LATEST_VERSION",
    "RESUME",
    "SCHEDULED",
    "WRITES_IDX_MAP",
    "BaseCheckpointSaver",
    "ChainCache",
    "ChannelVersions",
    "Checkpoint",
    "CheckpointMetadata",
    "CheckpointTuple",
    "DeltaChain",
    "DeltaValue",
    "PendingWrite",
    "StoredBlob",
    "TaskWrites",
    "copy_checkpoint",
    "create_checkpoint",
    "decode_channels",
    "decode_checkpoint",
    "empty_checkpoint",
    "encode_channels",
    "encode_checkpoint",
    "get_checkpoint_id",
    "get_checkpoint_metadata",
    "get_thread_address",
    "metadata_matches",
    "unique_next_version",
]
