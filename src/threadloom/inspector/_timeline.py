"""A thread's checkpoints as a timeline: each one's step, source and what changed since its parent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from threadloom.checkpoint.base import DeltaChain
from threadloom.inspector._values import (
    MessageView,
    is_messages,
    message_id,
    message_view,
    to_json,
)

__all__ = ["CheckpointRow", "Diff", "KeyChange", "diff", "history_page", "row_of"]

SHOWN_NEW_MESSAGES = 20
"""New messages a timeline row shows; the rest are counted."""

_MISSING = object()


@dataclass
class KeyChange:
    """A state key that changed between two checkpoints."""

    key: str
    kind: str  # "added", "changed" or "removed"
    before: str | None
    after: str | None


@dataclass
class Diff:
    """What changed from one checkpoint to the next."""

    messages: list[MessageView] = field(default_factory=list)
    more_messages: int = 0
    removed_messages: int = 0
    keys: list[KeyChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.messages or self.more_messages or self.removed_messages or self.keys)


def _message_diff(before: Any, after: Any, out: Diff) -> None:
    old = before if isinstance(before, list) else []
    new = after if isinstance(after, list) else []
    old_ids = [message_id(m) for m in old]
    new_ids = [message_id(m) for m in new]
    if all(old_ids) and all(new_ids):
        known = set(old_ids)
        added = [m for m, i in zip(new, new_ids, strict=True) if i not in known]
        out.removed_messages = len(known - set(new_ids))
    else:  # no ids: appended messages are those past the old length
        added = new[len(old) :] if new[: len(old)] == old else new
        out.removed_messages = 0 if new[: len(old)] == old else len(old)
    out.messages = [message_view(m) for m in added[:SHOWN_NEW_MESSAGES]]
    out.more_messages = max(0, len(added) - SHOWN_NEW_MESSAGES)


def _chain_extension(old: Any, new: Any) -> list[Any] | None:
    """The writes ``new`` adds to ``old`` when both are one delta chain (no replay needed)."""
    if not (isinstance(old, DeltaChain) and isinstance(new, DeltaChain)):
        return None
    same_base = old.snapshot is new.snapshot or (
        old.has_snapshot == new.has_snapshot and old.snapshot == new.snapshot
    )
    count = len(old.writes)
    if not same_base or len(new.writes) < count or new.writes[:count] != old.writes:
        return None
    added: list[Any] = []
    for write in new.writes[count:]:
        added.extend(write if isinstance(write, list) else [write])
    return added


def diff(before: dict[str, Any], after: dict[str, Any]) -> Diff:
    """The readable difference between two states: new messages, and other keys as JSON.

    Values may be raw delta chains (as a checkpointer returns a long message
    list): a chain that extends its parent's is diffed by its new writes alone.
    """
    out = Diff()
    for key in sorted(set(before) | set(after), key=str):
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        added = _chain_extension(old, new)
        if added is not None:
            out.messages = [message_view(m) for m in added[:SHOWN_NEW_MESSAGES]]
            out.more_messages = max(0, len(added) - SHOWN_NEW_MESSAGES)
            continue
        old, new = _materialized(str(key), old), _materialized(str(key), new)
        if is_messages(new) or is_messages(old):
            _message_diff(old, new, out)
            continue
        if old is _MISSING:
            out.keys.append(KeyChange(str(key), "added", None, to_json(new)))
        elif new is _MISSING:
            out.keys.append(KeyChange(str(key), "removed", to_json(old), None))
        elif old != new:
            out.keys.append(KeyChange(str(key), "changed", to_json(old), to_json(new)))
    return out


@dataclass
class CheckpointRow:
    """One checkpoint in the timeline."""

    checkpoint_id: str
    parent_id: str | None
    ts: str | None
    step: Any
    source: Any
    metadata: str
    diff: Diff
    pending: list[tuple[str, str, str]]


def _materialized(key: str, value: Any) -> Any:
    """A channel value as the state shows it: a delta chain (messages) replayed in full."""
    if isinstance(value, DeltaChain):
        from threadloom.channels.messages import MessagesChannel

        return MessagesChannel(key).from_checkpoint(value).get()
    return value


def _raw_values(tup: Any) -> dict[str, Any]:
    values = tup.checkpoint.get("channel_values") or {}
    return {k: v for k, v in values.items() if not str(k).startswith(("__", "branch:"))}


def _values(tup: Any) -> dict[str, Any]:
    return {k: _materialized(k, v) for k, v in _raw_values(tup).items()}


def row_of(tup: Any, parent: Any | None) -> CheckpointRow:
    """The timeline row of checkpoint tuple ``tup``, diffed against ``parent``'s."""
    metadata = dict(tup.metadata or {})
    return CheckpointRow(
        checkpoint_id=tup.config["configurable"]["checkpoint_id"],
        parent_id=(tup.parent_config or {}).get("configurable", {}).get("checkpoint_id"),
        ts=tup.checkpoint.get("ts"),
        step=metadata.get("step"),
        source=metadata.get("source"),
        metadata=to_json({k: v for k, v in metadata.items() if k not in ("step", "source")}),
        diff=diff(_raw_values(parent) if parent is not None else {}, _raw_values(tup)),
        pending=[(str(t), str(c), to_json(v, limit=4000)) for t, c, v in tup.pending_writes or []],
    )


def history_page(
    checkpointer: Any, thread_id: str, *, before: str | None, limit: int
) -> tuple[list[CheckpointRow], str | None, Any]:
    """A page of ``thread_id``'s checkpoints, newest first, the cursor of the next page,
    and the page's newest checkpoint tuple."""
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    cursor = None if before is None else {"configurable": {"checkpoint_id": before}}
    tuples = list(checkpointer.list(config, before=cursor, limit=limit + 1))

    def parent_of(i: int) -> Any | None:
        parent = tuples[i].parent_config
        if parent is None:
            return None
        parent_id = parent["configurable"].get("checkpoint_id")
        if (
            i + 1 < len(tuples)
            and tuples[i + 1].config["configurable"]["checkpoint_id"] == parent_id
        ):
            return tuples[i + 1]
        # A fork: the parent is not the next older checkpoint.
        return checkpointer.get_tuple(parent)

    rows = [row_of(tup, parent_of(i)) for i, tup in enumerate(tuples[:limit])]
    # A checkpoint with a child finished its step: its writes are the record of that step
    # (the child's diff shows them); only a checkpoint still waiting has writes pending.
    continued = {row.parent_id for row in rows}
    if before is not None and rows:
        continued.add(rows[0].checkpoint_id)  # its child is on the newer page
    for row in rows:
        if row.checkpoint_id in continued:
            row.pending = []
    more = rows[-1].checkpoint_id if len(tuples) > limit and rows else None
    return rows, more, tuples[0] if tuples else None


def state_values(tup: Any) -> dict[str, Any]:
    """The state keys of a checkpoint tuple (the engine's own channels left out)."""
    return _values(tup)
