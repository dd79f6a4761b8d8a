"""Thread routes: create, get, patch, delete, search, count, copy, state and history."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from threadloom.server._auth import matches
from threadloom.server._http import (
    HTTPError,
    body_dict,
    body_int,
    body_str,
    read_json,
    read_object,
    reply,
)
from threadloom.server._json import to_plain
from threadloom.server._records import new_id, now
from threadloom.server._server import Server

__all__ = ["ROUTES", "new_thread", "snapshot_json", "split_filter"]

_STATUSES = ("idle", "busy", "interrupted", "error")


def _server(request: Request) -> Server:
    server: Server = request.app.state.server
    return server


def _thread_id(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise HTTPError(422, f"thread_id must be a UUID, got {value!r}") from None


def new_thread(thread_id: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """A fresh thread record."""
    stamp = now()
    return {
        "thread_id": thread_id,
        "created_at": stamp,
        "updated_at": stamp,
        "metadata": metadata,
        "status": "idle",
        "values": None,
        "interrupts": {},
        "config": {},
    }


def split_filter(auth_filter: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """An auth filter as (what the store can filter, what is checked in Python)."""
    store: dict[str, Any] = {}
    python: dict[str, Any] = {}
    for key, cond in (auth_filter or {}).items():
        if isinstance(cond, dict) and any(op not in ("$eq", "$in", "$ne") for op in cond):
            python[key] = cond
        else:
            store[key] = cond
    return store, python


async def create_thread(request: Request) -> Response:
    server = _server(request)
    body = await read_object(request)
    thread_id = _thread_id(body_str(body, "thread_id") or new_id())
    if_exists = body.get("if_exists") or "raise"
    if if_exists not in ("raise", "do_nothing"):
        raise HTTPError(422, "if_exists must be 'raise' or 'do_nothing'")
    value = {
        "thread_id": thread_id,
        "metadata": dict(body_dict(body, "metadata") or {}),
        "if_exists": if_exists,
    }
    filters = await server.allow(request, "threads", "create", value)
    existing = server.records.thread(thread_id)
    if existing is not None:
        # Another user's thread is never shown, whatever if_exists says.
        if if_exists == "do_nothing" and matches(existing.get("metadata") or {}, filters):
            return reply(existing)
        raise HTTPError(409, f"thread {thread_id!r} already exists")
    record = new_thread(thread_id, to_plain(value["metadata"]))
    server.records.write(("thread", record))
    return reply(record)


async def get_thread(request: Request) -> Response:
    server = _server(request)
    return reply(await server.thread(request, request.path_params["thread_id"]))


async def patch_thread(request: Request) -> Response:
    server = _server(request)
    thread_id = request.path_params["thread_id"]
    body = await read_object(request)
    value = {"thread_id": thread_id, "metadata": dict(body_dict(body, "metadata") or {})}
    record = await server.thread(request, thread_id, "update")
    # The handler may have stamped the owner into the new metadata: apply it after.
    filters = await server.allow(request, "threads", "update", value)
    if not matches(record.get("metadata") or {}, filters):
        raise HTTPError(404, f"thread {thread_id!r} not found")
    record["metadata"] = {**(record.get("metadata") or {}), **to_plain(value["metadata"])}
    record["updated_at"] = now()
    server.records.write(("thread", record))
    return reply(record)


async def delete_thread(request: Request) -> Response:
    server = _server(request)
    thread_id = request.path_params["thread_id"]
    await server.thread(request, thread_id, "delete")
    for run in server.runs.busy(thread_id):
        await server.runs.cancel(run, wait=True)
    for record in server.records.search_runs(thread_id=thread_id, limit=10_000):
        server.records.delete_run(record["run_id"])
    server.checkpointer.delete_thread(thread_id)
    server.records.delete_thread(thread_id)
    return Response(status_code=204)


async def _search(request: Request) -> list[dict[str, Any]]:
    server = _server(request)
    body = await read_object(request)
    metadata = dict(body_dict(body, "metadata") or {})
    filters = await server.allow(request, "threads", "search", {"metadata": metadata})
    store_filter, python_filter = split_filter(filters)
    status = body.get("status")
    if status is not None and status not in _STATUSES:
        raise HTTPError(422, f"status must be one of {', '.join(_STATUSES)}")
    limit = body_int(body, "limit", 10, high=1000)
    offset = body_int(body, "offset", 0, high=1_000_000)
    if body.get("sort_order") not in (None, "asc", "desc"):
        raise HTTPError(422, "'sort_order' must be 'asc' or 'desc'")
    ids = body.get("ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise HTTPError(422, "'ids' must be a list of thread ids")
    found = server.records.search_threads(
        metadata={**metadata, **store_filter},
        values=body_dict(body, "values"),
        status=status,
        limit=10_000 if python_filter or ids else limit,
        offset=0 if python_filter or ids else offset,
    )
    if python_filter or ids:
        found = [
            t
            for t in found
            if matches(t.get("metadata") or {}, python_filter)
            and (ids is None or t["thread_id"] in ids)
        ][offset : offset + limit]
    if body.get("sort_order") == "asc":
        found.reverse()
    return found


async def search_threads(request: Request) -> Response:
    return reply(await _search(request))


async def count_threads(request: Request) -> Response:
    body = await read_object(request)
    server = _server(request)
    metadata = dict(body_dict(body, "metadata") or {})
    values = body_dict(body, "values")
    status = body.get("status")
    if status is not None and status not in _STATUSES:
        raise HTTPError(422, f"status must be one of {', '.join(_STATUSES)}")
    filters = await server.allow(request, "threads", "search", {"metadata": metadata})
    store_filter, python_filter = split_filter(filters)
    found = server.records.search_threads(
        metadata={**metadata, **store_filter},
        values=values,
        status=status,
        limit=100_000,
    )
    return reply(sum(matches(t.get("metadata") or {}, python_filter) for t in found))


async def copy_thread(request: Request) -> Response:
    server = _server(request)
    source_id = request.path_params["thread_id"]
    source = await server.thread(request, source_id, "read")
    value = {"thread_id": None, "metadata": dict(source.get("metadata") or {})}
    await server.allow(request, "threads", "create", value)
    target_id = new_id()
    saver = server.checkpointer
    parent: Any = None
    for tup in reversed(list(saver.list({"configurable": {"thread_id": source_id}}))):
        if tup.config["configurable"].get("checkpoint_ns"):
            continue
        config = {"configurable": {"thread_id": target_id, "checkpoint_ns": ""}}
        if parent is not None:
            config["configurable"]["checkpoint_id"] = parent
        saver.put(config, tup.checkpoint, tup.metadata, tup.checkpoint["channel_versions"])
        parent = tup.checkpoint["id"]
    record = {**source, **new_thread(target_id, to_plain(value["metadata"]))}
    record["values"] = source.get("values")
    server.records.write(("thread", record))
    return reply(record)


def _checkpoint(config: dict[str, Any] | None) -> dict[str, Any] | None:
    if not config:
        return None
    c = config.get("configurable", {})
    return {
        "thread_id": c.get("thread_id"),
        "checkpoint_ns": c.get("checkpoint_ns", ""),
        "checkpoint_id": c.get("checkpoint_id"),
        "checkpoint_map": c.get("checkpoint_map"),
    }


def snapshot_json(snapshot: Any) -> dict[str, Any]:
    """A ``StateSnapshot`` as the API's ThreadState."""
    tasks = []
    for task in snapshot.tasks:
        state = getattr(task, "state", None)
        tasks.append(
            {
                "id": task.id,
                "name": task.name,
                "error": task.error
                if task.error is None or isinstance(task.error, str)
                else repr(task.error),
                "interrupts": list(task.interrupts),
                "checkpoint": _checkpoint(state) if isinstance(state, dict) else None,
                "state": snapshot_json(state) if hasattr(state, "tasks") else None,
                "result": getattr(task, "result", None),
            }
        )
    return {
        "values": snapshot.values,
        "next": list(snapshot.next),
        "tasks": tasks,
        "metadata": snapshot.metadata,
        "created_at": snapshot.created_at,
        "checkpoint": _checkpoint(snapshot.config),
        "parent_checkpoint": _checkpoint(snapshot.parent_config),
        "interrupts": list(getattr(snapshot, "interrupts", ())),
        "checkpoint_id": (snapshot.config or {}).get("configurable", {}).get("checkpoint_id"),
    }


_EMPTY_STATE: dict[str, Any] = {
    "values": {},
    "next": [],
    "tasks": [],
    "metadata": {},
    "created_at": None,
    "checkpoint": None,
    "parent_checkpoint": None,
    "interrupts": [],
    "checkpoint_id": None,
}


def _graph_of(server: Server, record: dict[str, Any]) -> Any:
    graph_id = (record.get("metadata") or {}).get("graph_id")
    return server.graphs.get(graph_id) if graph_id else None


async def _state(request: Request, checkpoint: dict[str, Any] | None, subgraphs: bool) -> Response:
    server = _server(request)
    thread_id = request.path_params["thread_id"]
    record = await server.thread(request, thread_id)
    graph = _graph_of(server, record)
    if graph is None:
        return reply(_EMPTY_STATE)
    configurable = {"thread_id": thread_id, **(checkpoint or {})}
    configurable["thread_id"] = thread_id  # a checkpoint never reaches another thread
    server.require_checkpoint(configurable)
    try:
        snapshot = graph.get_state({"configurable": configurable}, subgraphs=subgraphs)
    except (ValueError, KeyError) as exc:
        raise HTTPError(422, str(exc)) from None
    return reply(snapshot_json(snapshot))


async def get_state(request: Request) -> Response:
    subgraphs = request.query_params.get("subgraphs", "false").lower() == "true"
    checkpoint_id = request.path_params.get("checkpoint_id")
    return await _state(
        request, {"checkpoint_id": checkpoint_id} if checkpoint_id else None, subgraphs
    )


async def get_state_at(request: Request) -> Response:
    body = await read_object(request)
    return await _state(request, body_dict(body, "checkpoint"), bool(body.get("subgraphs")))


async def update_state(request: Request) -> Response:
    server = _server(request)
    thread_id = request.path_params["thread_id"]
    body = await read_object(request)
    record = await server.thread(request, thread_id, "update")
    graph = _graph_of(server, record)
    if graph is None:
        if len(server.graphs) != 1:
            raise HTTPError(409, "the thread has not run a graph yet: its state has no schema")
        graph_id, graph = next(iter(server.graphs.items()))
        record.setdefault("metadata", {})["graph_id"] = graph_id
    configurable: dict[str, Any] = dict(body_dict(body, "checkpoint") or {})
    if body.get("checkpoint_id"):
        configurable["checkpoint_id"] = body_str(body, "checkpoint_id")
    configurable["thread_id"] = thread_id
    server.require_checkpoint(configurable)
    as_node = body_str(body, "as_node")
    try:
        config = graph.update_state(
            {"configurable": configurable}, body.get("values"), as_node=as_node
        )
        snapshot = graph.get_state({"configurable": {"thread_id": thread_id}})
    except (ValueError, KeyError, TypeError) as exc:
        raise HTTPError(422, f"{type(exc).__name__}: {exc}") from None
    record.update(values=snapshot.values, updated_at=now())
    record["status"] = "interrupted" if snapshot.next else "idle"
    server.records.write(("thread", record))
    return reply({"checkpoint": _checkpoint(config)})


async def history(request: Request) -> Response:
    server = _server(request)
    thread_id = request.path_params["thread_id"]
    body = await read_json(request, default={}) if request.method == "POST" else {}
    if not isinstance(body, dict):
        raise HTTPError(422, "the body must be a JSON object")
    record = await server.thread(request, thread_id)
    graph = _graph_of(server, record)
    if graph is None:
        return reply([])
    limit = body_int(body, "limit", 10, low=1, high=1000)
    configurable = {**(body_dict(body, "checkpoint") or {}), "thread_id": thread_id}
    before = body.get("before")
    if isinstance(before, str):
        before = {"configurable": {"thread_id": thread_id, "checkpoint_id": before}}
    elif isinstance(before, dict):
        before = {"configurable": {**before, "thread_id": thread_id}}
    elif before is not None:
        raise HTTPError(422, "'before' must be a checkpoint id or a checkpoint object")
    try:
        snapshots = graph.get_state_history(
            {"configurable": configurable},
            limit=limit,
            before=before,
            filter=body_dict(body, "metadata"),
        )
        return reply([snapshot_json(s) for s in snapshots])
    except (ValueError, KeyError) as exc:
        raise HTTPError(422, str(exc)) from None


ROUTES = [
    Route("/threads", create_thread, methods=["POST"]),
    Route("/threads/search", search_threads, methods=["POST"]),
    Route("/threads/count", count_threads, methods=["POST"]),
    Route("/threads/{thread_id}", get_thread, methods=["GET"]),
    Route("/threads/{thread_id}", patch_thread, methods=["PATCH"]),
    Route("/threads/{thread_id}", delete_thread, methods=["DELETE"]),
    Route("/threads/{thread_id}/copy", copy_thread, methods=["POST"]),
    Route("/threads/{thread_id}/state", get_state, methods=["GET"]),
    Route("/threads/{thread_id}/state", update_state, methods=["POST"]),
    Route("/threads/{thread_id}/state/checkpoint", get_state_at, methods=["POST"]),
    Route("/threads/{thread_id}/state/{checkpoint_id}", get_state, methods=["GET"]),
    Route("/threads/{thread_id}/history", history, methods=["GET", "POST"]),
]
