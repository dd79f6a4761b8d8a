"""Run routes: create (background, wait, stream), stateless runs, list, get, join, cancel, delete."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from threadloom.server._auth import matches
from threadloom.server._http import (
    HTTPError,
    body_dict,
    body_int,
    body_list,
    body_str,
    read_object,
    reply,
)
from threadloom.server._json import dumps, to_plain
from threadloom.server._records import new_id, now
from threadloom.server._runs import (
    POLL_SECONDS,
    STOPPED,
    STREAM_MODES,
    WORKER,
    ActiveRun,
    command_from,
    worker_alive,
)
from threadloom.server._server import Server
from threadloom.server._sse import EventStream, sse
from threadloom.server._threads import new_thread

__all__ = ["ROUTES"]

_STRATEGIES = ("reject", "interrupt", "rollback", "enqueue")
_RUN_STATUSES = ("pending", "running", "error", "success", "timeout", "interrupted")


def _server(request: Request) -> Server:
    server: Server = request.app.state.server
    return server


def _choice(body: dict[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
    value = body.get(key) or default
    if value not in allowed:
        raise HTTPError(422, f"'{key}' must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _nodes(body: dict[str, Any], key: str, graph: Any) -> Any:
    value = body.get(key)
    if value is None or value == "*":
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise HTTPError(422, f"'{key}' must be '*' or a list of node names")
    known = set(getattr(graph, "nodes", None) or ())
    unknown = [v for v in value if known and v not in known]
    if unknown:
        raise HTTPError(422, f"'{key}' names no node of the graph: {', '.join(unknown)}")
    return value


async def _create(request: Request, thread_id: str | None) -> ActiveRun:
    """Validate a run request, check access, record the run and start it."""
    server = _server(request)
    body = await read_object(request)
    assistant = await server.assistant(request, body_str(body, "assistant_id", required=True) or "")
    graph = server.graph(assistant["graph_id"])
    modes = body_list(body, "stream_mode") or ["values"]
    for mode in modes:
        if mode not in STREAM_MODES:
            raise HTTPError(422, f"unknown stream mode {mode!r}; known: {', '.join(STREAM_MODES)}")
    if body.get("input") is not None and body.get("command") is not None:
        raise HTTPError(422, "give 'input' or 'command', not both")
    command = body_dict(body, "command")
    strategy = _choice(body, "multitask_strategy", _STRATEGIES, "enqueue")
    if_not_exists = _choice(body, "if_not_exists", ("reject", "create"), "reject")
    on_completion = _choice(body, "on_completion", ("delete", "keep"), "delete")
    on_disconnect = _choice(body, "on_disconnect", ("cancel", "continue"), "continue")
    durability = body.get("durability")
    if durability is not None and durability not in ("sync", "async", "exit"):
        raise HTTPError(422, "'durability' must be 'sync', 'async' or 'exit'")
    config = body_dict(body, "config") or {}
    if body_dict(config, "configurable") is None:  # 422 unless an object; null means none
        config.pop("configurable", None)
    context = body_dict(body, "context")
    metadata = dict(body_dict(body, "metadata") or {})
    temporary = thread_id is None
    if thread_id is None:
        thread_id = new_id()
    else:
        try:
            thread_id = str(uuid.UUID(thread_id))
        except ValueError:
            raise HTTPError(404, f"thread {thread_id!r} not found") from None
    value = {
        "thread_id": thread_id,
        "assistant_id": assistant["assistant_id"],
        "metadata": metadata,
    }
    filters = await server.allow(request, "threads", "create_run", value)
    thread = server.records.thread(thread_id)
    if thread is not None and not matches(thread.get("metadata") or {}, filters):
        raise HTTPError(404, f"thread {thread_id!r} not found")
    if thread is None:
        if not temporary and if_not_exists == "reject":
            raise HTTPError(404, f"thread {thread_id!r} not found")
        create = {"thread_id": thread_id, "metadata": {}}
        await server.allow(request, "threads", "create", create)
        thread = new_thread(thread_id, to_plain(create["metadata"]))
    configurable = {
        **(assistant.get("config") or {}).get("configurable", {}),
        **config.get("configurable", {}),
    }
    checkpoint = body_dict(body, "checkpoint") or {}
    if body.get("checkpoint_id"):
        checkpoint["checkpoint_id"] = body_str(body, "checkpoint_id")
    configurable.update({k: v for k, v in checkpoint.items() if k != "thread_id"})
    configurable["thread_id"] = thread_id
    server.require_checkpoint(configurable)
    run_config = {**(assistant.get("config") or {}), **config, "configurable": configurable}
    options: dict[str, Any] = {}
    for key in ("interrupt_before", "interrupt_after"):
        if (nodes := _nodes(body, key, graph)) is not None:
            options[key] = nodes
    if durability is not None:
        options["durability"] = durability
    merged_context = {**(assistant.get("context") or {}), **(context or {})}
    if merged_context:
        options["context"] = merged_context
    # Only a request found valid may stop the runs before it.
    busy = server.runs.busy(thread_id)
    # A free thread's run starts at once: recorded running (and the thread busy) right here,
    # which saves the worker a read and a write. No await lies between here and start().
    free = not busy and thread.get("status") != "busy"
    if not free:
        if strategy == "reject":
            raise HTTPError(409, f"thread {thread_id!r} is busy with another run")
        if strategy in ("interrupt", "rollback"):
            for run in busy:
                await server.runs.cancel(run, strategy)
    stamp = now()
    run_id = new_id()
    # The run's checkpoints carry its id (so a rollback finds where the run began).
    meta = run_config.get("metadata")
    run_config["metadata"] = {**(meta if isinstance(meta, dict) else {}), "run_id": run_id}
    record = {
        "run_id": run_id,
        "thread_id": thread_id,
        "assistant_id": assistant["assistant_id"],
        "created_at": stamp,
        "updated_at": stamp,
        "status": "running" if free else "pending",
        "metadata": to_plain(value["metadata"]),
        "multitask_strategy": strategy,
        "kwargs": to_plain(
            {
                "input": body.get("input"),
                "command": command,
                "config": run_config,
                "context": merged_context,
                "stream_mode": modes,
                "interrupt_before": options.get("interrupt_before"),
                "interrupt_after": options.get("interrupt_after"),
                "temporary": temporary and on_completion == "delete",
            }
        ),
        "worker": WORKER,
    }
    # What the run sets on its thread, applied to the record as it stands when written.
    change: dict[str, Any] = {
        "metadata": {"graph_id": assistant["graph_id"], "assistant_id": assistant["assistant_id"]},
        "updated_at": stamp,
    }
    if free:
        change["status"] = "busy"
    run = ActiveRun(
        record=record,
        graph=graph,
        input=command_from(command) if command is not None else body.get("input"),
        config=run_config,
        options=options,
        stream_modes=modes,
        subgraphs=bool(body.get("stream_subgraphs")),
        temporary=temporary and on_completion == "delete",
    )
    run.on_disconnect = on_disconnect
    # Recorded with the other runs starting and ending meanwhile, then executed.
    await asyncio.shield(server.runs.start(run, thread, change))
    return run


def _location(run: ActiveRun, temporary: bool) -> dict[str, str]:
    if temporary:
        return {"Content-Location": f"/runs/{run.run_id}"}
    return {"Content-Location": f"/threads/{run.thread_id}/runs/{run.run_id}"}


async def create_run(request: Request) -> Response:
    thread_id = request.path_params.get("thread_id")
    run = await _create(request, thread_id)
    return reply(run.record, headers=_location(run, thread_id is None))


async def _wait_output(request: Request, run: ActiveRun) -> Any:
    """``run``'s output once done; a client that leaves cancels it if it asked for that."""
    if run.on_disconnect == "cancel":
        while not run.done.is_set():
            try:
                await asyncio.wait_for(asyncio.shield(run.done.wait()), timeout=0.5)
            except asyncio.TimeoutError:
                if await request.is_disconnected():
                    await _server(request).runs.cancel(run)
                    break
    await run.done.wait()
    return run.output()


async def wait_run(request: Request) -> Response:
    thread_id = request.path_params.get("thread_id")
    run = await _create(request, thread_id)
    output = await _wait_output(request, run)
    return reply(output, headers=_location(run, thread_id is None))


def _event_stream(server: Server, run: ActiveRun, cancel_on_disconnect: bool) -> EventStream:
    async def events() -> AsyncIterator[bytes]:
        finished = False
        try:
            yield sse("metadata", dumps({"run_id": run.run_id, "attempt": 1}))
            # One chunk per wake-up, whatever the run produced meanwhile: fewer writes.
            async for batch in run.listen():
                yield b"".join(sse(event, data) for event, data in batch)
            finished = True
        finally:
            if not finished and cancel_on_disconnect:
                await server.runs.cancel(run)

    return EventStream(events(), stop_on_leave=cancel_on_disconnect)


async def stream_run(request: Request) -> EventStream:
    thread_id = request.path_params.get("thread_id")
    run = await _create(request, thread_id)
    response = _event_stream(_server(request), run, run.on_disconnect == "cancel")
    response.headers.update(_location(run, thread_id is None))
    return response


async def _run_record(request: Request, action: str = "read") -> dict[str, Any]:
    server = _server(request)
    thread_id = request.path_params["thread_id"]
    await server.thread(request, thread_id, action)
    run_id = request.path_params["run_id"]
    try:
        record = server.records.run(run_id)
    except ValueError:
        record = None
    # A run is reached only through its own thread: a leaked run id opens nothing else.
    if record is None or record.get("thread_id") != thread_id:
        raise HTTPError(404, f"run {run_id!r} not found")
    return record


async def list_runs(request: Request) -> Response:
    server = _server(request)
    thread_id = request.path_params["thread_id"]
    await server.thread(request, thread_id)
    params = request.query_params
    try:
        limit = int(params.get("limit", "10"))
        offset = int(params.get("offset", "0"))
    except ValueError:
        raise HTTPError(422, "limit and offset must be integers") from None
    status = params.get("status")
    if status is not None and status not in _RUN_STATUSES:
        raise HTTPError(422, f"status must be one of {', '.join(_RUN_STATUSES)}")
    body = {"limit": limit, "offset": offset}
    runs = server.records.search_runs(
        thread_id=thread_id,
        status=status,
        limit=body_int(body, "limit", 10, low=1, high=1000),
        offset=body_int(body, "offset", 0, high=1_000_000),
    )
    return reply(runs)


async def get_run(request: Request) -> Response:
    return reply(await _run_record(request))


async def join_run(request: Request) -> Response:
    server = _server(request)
    record = await _run_record(request)
    run = server.runs.active.get(record["run_id"])
    if run is not None:
        await run.done.wait()
        return reply(run.output())
    while server.run_is_live(record):  # executed by another server process
        await asyncio.sleep(POLL_SECONDS)
        record = server.records.run(record["run_id"]) or {"status": "success"}
    thread = server.records.thread(record.get("thread_id", "")) or {}
    return reply(thread.get("values") or {})


async def join_stream(request: Request) -> EventStream:
    server = _server(request)
    record = await _run_record(request)
    run = server.runs.active.get(record["run_id"])
    if run is None:

        async def nothing() -> AsyncIterator[bytes]:
            yield sse("metadata", dumps({"run_id": record["run_id"], "attempt": 1}))

        return EventStream(nothing())
    cancel = request.query_params.get("cancel_on_disconnect", "false").lower() == "true"
    return _event_stream(server, run, cancel)


async def cancel_run(request: Request) -> Response:
    server = _server(request)
    record = await _run_record(request, "update")
    action = request.query_params.get("action", "interrupt")
    if action not in ("interrupt", "rollback"):
        raise HTTPError(422, "action must be 'interrupt' or 'rollback'")
    wait = request.query_params.get("wait", "false").lower() in ("true", "1")
    run = server.runs.active.get(record["run_id"])
    if run is not None:
        await server.runs.cancel(run, action, wait=wait)
    elif server.run_is_live(record):
        if not worker_alive(str(record.get("worker", ""))):  # its process died: mark it now
            record.update(status="interrupted", error=STOPPED, updated_at=now())
            server.records.write(("run", record))
        else:  # another process executes it: leave word, which that process polls for
            server.records.write(("cancel", {"run_id": record["run_id"], "action": action}))
            while wait and server.run_is_live(record):
                await asyncio.sleep(POLL_SECONDS)
                record = server.records.run(record["run_id"]) or {"status": "interrupted"}
    if wait:
        return reply(None)
    return Response(status_code=202)


async def delete_run(request: Request) -> Response:
    server = _server(request)
    record = await _run_record(request, "delete")
    if server.run_is_live(record):
        raise HTTPError(409, "cancel the run before deleting it")
    server.records.delete_run(record["run_id"])
    return Response(status_code=204)


ROUTES = [
    Route("/runs", create_run, methods=["POST"]),
    Route("/runs/wait", wait_run, methods=["POST"]),
    Route("/runs/stream", stream_run, methods=["POST"]),
    Route("/threads/{thread_id}/runs", create_run, methods=["POST"]),
    Route("/threads/{thread_id}/runs", list_runs, methods=["GET"]),
    Route("/threads/{thread_id}/runs/wait", wait_run, methods=["POST"]),
    Route("/threads/{thread_id}/runs/stream", stream_run, methods=["POST"]),
    Route("/threads/{thread_id}/runs/{run_id}", get_run, methods=["GET"]),
    Route("/threads/{thread_id}/runs/{run_id}", delete_run, methods=["DELETE"]),
    Route("/threads/{thread_id}/runs/{run_id}/join", join_run, methods=["GET"]),
    Route("/threads/{thread_id}/runs/{run_id}/stream", join_stream, methods=["GET"]),
    Route("/threads/{thread_id}/runs/{run_id}/cancel", cancel_run, methods=["POST"]),
]
