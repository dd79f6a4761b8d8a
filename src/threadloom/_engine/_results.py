"""What a task's return value means: state writes, routing, and the branches after a node.

A node returns a dict of updates, a :class:`~threadloom.types.Command`, a
list of commands, a dataclass/pydantic object, or ``None``; this module turns
that into ``(channel, value)`` writes and evaluates conditional edges on the
state as the task sees it after its own writes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from threadloom._engine._constants import END, TASKS, branch_channel
from threadloom._engine._spec import BranchSpec, NodeSpec
from threadloom.errors import InvalidUpdateError, ParentCommand
from threadloom.types import Command, Send

if TYPE_CHECKING:
    from threadloom._engine._context import Task
    from threadloom._engine._run import Run

__all__ = [
    "NodeReturn",
    "fresh_state",
    "object_updates",
    "process_output",
    "resolve_branch",
]


class NodeReturn:
    """A node output whose state writes differ from what it reports (an entrypoint's return)."""

    __slots__ = ("result", "updates")

    def __init__(self, updates: list[tuple[str, Any]], result: Any) -> None:
        self.updates = updates
        self.result = result


def process_output(run: Run, task: Task, value: Any) -> list[BranchSpec]:
    """Turn a node's return value into writes; return the branches still to evaluate."""
    node = task.node
    writes: list[tuple[str, Any]] = []
    result: Any = None
    root = run.spec.root_key
    if value is None:
        pass
    elif isinstance(value, Command):
        result = _command_writes(run, node, value, writes)
    elif isinstance(value, (list, tuple)) and value and any(isinstance(v, Command) for v in value):
        # A mix of commands and plain updates, applied in order.
        result = []
        for item in value:
            if isinstance(item, Command):
                result.append(_command_writes(run, node, item, writes))
            else:
                result.append(_plain_writes(run, node, item, writes))
    elif root is not None:
        result = value
        writes.append((root, value))
    elif isinstance(value, dict):
        if task.path[:1] == ("update",):
            _check_update_keys(run, value)
        update = _update_writes(run, node, value.items())
        writable = run.spec.writable_keys
        if node.subgraph is not None:
            # A subgraph's output is reported as what the parent takes of it (no private keys).
            result = dict(update)
        elif all(key in writable for key in value):
            result = value
        else:  # keys the state lacks show nowhere, as in LangGraph (the node's edges see them)
            result = {key: item for key, item in value.items() if key in writable}
        writes.extend(update)
    elif isinstance(value, NodeReturn):
        result = value.result
        writes.extend(value.updates)
    else:
        as_dict = object_updates(value)
        if as_dict is None:
            raise InvalidUpdateError(
                f"node '{node.name}' returned {type(value).__name__}; a node returns a dict "
                "of state updates, a Command, or None"
            )
        result = as_dict
        writes.extend(_update_writes(run, node, as_dict.items()))
    if root is None and not isinstance(value, NodeReturn):
        result = _shown_update(run, writes, result)
    writes.extend(node.edge_writes)
    # Writes the node made while running (push_message) come first.
    task.writes = [*task.writes, *writes] if task.writes else writes
    task.result = result
    return list(node.branches)


def _plain_writes(run: Run, node: NodeSpec, value: Any, writes: list[tuple[str, Any]]) -> Any:
    """Writes of one plain (non-command) update: the root value, a dict or an object."""
    root = run.spec.root_key
    if root is not None:
        writes.append((root, value))
        return value
    as_dict = value if isinstance(value, dict) else object_updates(value)
    if as_dict is None:
        raise InvalidUpdateError(
            f"node '{node.name}' returned {type(value).__name__} in a list; each item must be "
            "a Command or a dict of state updates"
        )
    writes.extend(_update_writes(run, node, as_dict.items()))
    return as_dict


def _update_writes(
    run: Run, node: NodeSpec, update: Iterable[tuple[str, Any]]
) -> list[tuple[str, Any]]:
    # Keys the state does not have are dropped, as LangGraph does (a node may return
    # keys of its own input schema, or a subgraph its private keys).
    writable = run.spec.writable_keys
    return [(k, v) for k, v in update if k in writable]


def _shown_update(run: Run, writes: list[tuple[str, Any]], result: Any) -> Any:
    """What ``updates`` shows of a task, as LangGraph does: one dict per write when the
    task wrote a key more than once; the writes of several commands as one dict."""
    writable = run.spec.writable_keys
    state = [(k, v) for k, v in writes if k in writable]
    if len({k for k, _ in state}) < len(state):
        return [{k: v} for k, v in state]
    if isinstance(result, list):
        return dict(state) or None
    return result


def _check_update_keys(run: Run, update: dict[str, Any]) -> None:
    """``update_state`` refuses a key the state lacks: from the caller it is a typo."""
    writable = run.spec.writable_keys
    for key in update:
        if key not in writable:
            raise InvalidUpdateError(
                f"update_state: unknown state key '{key}'; the state has {sorted(writable)}"
            )


def _command_writes(
    run: Run, node: NodeSpec, command: Command[Any], writes: list[tuple[str, Any]]
) -> Any:
    if command.graph == Command.PARENT:
        if run.parent is None:
            # No parent to take it: the command leaves the run, as in LangGraph.
            raise ParentCommand(command)
        run.parent_command = dataclasses.replace(command, graph=None)
        return None
    update = command.update
    result: Any = None
    if update is not None and run.spec.root_key is not None:
        result = update
        writes.append((run.spec.root_key, update))
    elif update is not None:
        pairs: list[tuple[str, Any]]
        if isinstance(update, dict):
            pairs = list(update.items())
        elif isinstance(update, (list, tuple)):
            pairs = [(key, item) for key, item in update]  # each write applies, in order
        else:
            found = object_updates(update)
            if found is None:
                raise InvalidUpdateError(
                    f"node '{node.name}' returned a Command whose update is "
                    f"{type(update).__name__}, not a dict"
                )
            pairs = list(found.items())
        result = update if isinstance(update, dict) else dict(pairs)
        writes.extend(_update_writes(run, node, pairs))
    for target in command.goto_targets():
        writes.append(_route(run, node.name, target))
    return result


def _route(run: Run, source: str, target: Any) -> tuple[str, Any]:
    nodes = run.spec.nodes
    if isinstance(target, Send):
        if target.node not in nodes:
            raise InvalidUpdateError(
                f"'{source}' sent a Send to unknown node '{target.node}'; "
                f"known nodes: {sorted(nodes)}"
            )
        return (TASKS, target)
    if target == END:
        return ("", None)
    if target not in nodes:
        raise InvalidUpdateError(
            f"'{source}' routed to unknown node '{target}'; known nodes: {sorted(nodes)}"
        )
    return (branch_channel(target), source)


def fresh_state(
    run: Run, task: Task, writes: list[tuple[str, Any]], branch: BranchSpec | None = None
) -> Any:
    """The state as ``task`` sees it after its own writes: what a branch decides on.

    A branch whose path function declares its own input schema sees only that
    schema's keys, built into that schema's type.
    """
    keys = branch.input_keys if branch is not None else None
    state_keys = run.spec.state_keys
    own: dict[str, list[Any]] = {}
    for key, value in writes:
        if (key in state_keys or key in run.spec.writable_keys) and (keys is None or key in keys):
            own.setdefault(key, []).append(value)
    state = run.read_state(keys)
    for key, values in own.items():
        channel = run.channels[key].copy()
        channel.update(values)
        if channel.is_available():
            state[key] = channel.get()
    coerce = run.spec.state_coerce if branch is None or keys is None else branch.input_coerce
    return coerce(state) if coerce is not None else state


def resolve_branch(run: Run, source: str, branch: BranchSpec, result: Any) -> list[tuple[str, Any]]:
    """Writes that schedule what a branch's path function returned."""
    items = result if isinstance(result, (list, tuple)) else [result]
    writes = []
    for item in items:
        if isinstance(item, Send):
            writes.append(_route(run, source, item))
            continue
        target = item
        if branch.path_map is not None:
            try:
                target = branch.path_map[item]
            except (KeyError, TypeError):
                raise InvalidUpdateError(
                    f"the conditional edge from '{source}' returned {item!r}, which is not "
                    f"in its path_map {sorted(map(str, branch.path_map))}"
                ) from None
        if target is None:
            continue
        writes.append(_route(run, source, target))
    return writes


def object_updates(value: Any) -> dict[str, Any] | None:
    """The fields of a dataclass or pydantic model returned as an update."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    fields = getattr(type(value), "model_fields", None)
    if isinstance(fields, dict):
        # As LangGraph: a None left at a field's non-None default is no update.
        kept = value.model_fields_set
        return {
            k: v
            for k, info in fields.items()
            if (v := getattr(value, k)) is not None or info.default is not None or k in kept
        }
    return None
