"""Thread pages: the list, one thread's timeline, a checkpoint's state, resume and fork."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from threadloom.inspector._access import Backends
from threadloom.inspector._render import PageError, redirect, render
from threadloom.inspector._request import form, json_object, viewer
from threadloom.inspector._threads import ThreadRow, find_thread, list_threads
from threadloom.inspector._timeline import history_page, state_values
from threadloom.inspector._values import is_messages, message_view, to_json

__all__ = ["ROUTES", "parse_metadata", "positive_int"]

THREADS_PER_PAGE = 25
CHECKPOINTS_PER_PAGE = 20
MESSAGES_PER_PAGE = 50


def positive_int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise PageError(422, f"{name} must be a non-negative whole number, got {raw!r}")
    return int(raw)


def parse_metadata(text: str) -> dict[str, Any]:
    """``key=value`` pairs (comma or newline separated; JSON values allowed) or a JSON object."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        return json_object(
            text,
            invalid="metadata filter is not valid JSON",
            not_object="metadata filter must be a JSON object",
        )
    found: dict[str, Any] = {}
    for part in text.replace("\n", ",").split(","):
        if not part.strip():
            continue
        key, sep, raw = part.partition("=")
        if not sep or not key.strip():
            raise PageError(422, f"metadata filter {part.strip()!r} is not key=value")
        try:
            found[key.strip()] = json.loads(raw.strip())
        except json.JSONDecodeError:
            found[key.strip()] = raw.strip()
    return found


async def threads(request: Request) -> Response:
    seen, backends = await viewer(request)
    query = request.query_params.get("id", "").strip()
    meta_text = request.query_params.get("metadata", "")
    metadata = parse_metadata(meta_text)
    page = positive_int(request, "page", 0)
    if query:
        row = await run_in_threadpool(find_thread, backends, seen, query)
        rows, more = ([row] if row is not None else []), False
    else:
        rows, more = await run_in_threadpool(
            list_threads,
            backends,
            seen,
            metadata=metadata,
            limit=THREADS_PER_PAGE,
            offset=page * THREADS_PER_PAGE,
        )
    return render(
        request,
        "threads.html",
        rows=rows,
        more=more,
        page=page,
        query=query,
        metadata=meta_text,
        metadata_json={r.thread_id: to_json(r.metadata, limit=400) for r in rows},
    )


async def _thread(request: Request) -> tuple[ThreadRow, Backends]:
    seen, backends = await viewer(request)
    thread_id = request.path_params["thread_id"]
    row = await run_in_threadpool(find_thread, backends, seen, thread_id)
    if row is None:  # another user's thread is as absent as a missing one
        raise PageError(404, f"thread {thread_id!r} not found")
    return row, backends


def graph_for(backends: Backends, row: ThreadRow, chosen: Any = None) -> tuple[str | None, Any]:
    """The graph that runs this thread: the one its metadata names, the one the form
    chose, or the only one served."""
    if row.graph_id and row.graph_id in backends.graphs:
        return row.graph_id, backends.graphs[row.graph_id]
    if isinstance(chosen, str) and chosen in backends.graphs:
        return chosen, backends.graphs[chosen]
    if chosen:
        raise PageError(422, f"no graph {chosen!r}")
    if row.graph_id and row.graph_id in backends.graphs:
        return row.graph_id, backends.graphs[row.graph_id]
    if len(backends.graphs) == 1:
        return next(iter(backends.graphs.items()))
    return None, None


def _interrupts(head: Any) -> list[tuple[str | None, str]]:
    """The interrupts waiting at a thread's latest checkpoint (its ``__interrupt__`` writes):
    each one's id (to resume it alone) and value."""
    found: list[tuple[str | None, str]] = []
    for _, channel, value in (head.pending_writes or []) if head is not None else []:
        if channel == "__interrupt__":
            for one in value if isinstance(value, (list, tuple)) else [value]:
                iid = getattr(one, "id", None)
                found.append((iid if isinstance(iid, str) else None, to_json(one)))
    return found


async def thread(request: Request) -> Response:
    row, backends = await _thread(request)
    before = request.query_params.get("before") or None
    graph_id, graph = graph_for(backends, row)
    rows, more, newest = await run_in_threadpool(
        history_page,
        backends.checkpointer,
        row.thread_id,
        before=before,
        limit=CHECKPOINTS_PER_PAGE,
    )
    # Interrupts wait at the latest checkpoint: the first page's newest one.
    interrupts = _interrupts(newest) if before is None else []
    if interrupts and graph is not None:
        # The graph knows which of several interrupts were answered already.
        snapshot = await run_in_threadpool(
            graph.get_state, {"configurable": {"thread_id": row.thread_id}}
        )
        interrupts = [(getattr(i, "id", None), to_json(i)) for i in snapshot.interrupts]
    return render(
        request,
        "thread.html",
        thread=row,
        metadata=to_json(row.metadata),
        rows=rows,
        more=more,
        before=before,
        graph_id=graph_id,
        can_run=bool(backends.graphs),
        graph_ids=[] if graph is not None else sorted(backends.graphs),
        interrupts=interrupts,
    )


def _checkpoint(backends: Backends, thread_id: str, checkpoint_id: str) -> Any:
    config = {
        "configurable": {
            "thread_id": thread_id,
            "checkpoint_ns": "",
            "checkpoint_id": checkpoint_id,
        }
    }
    tup = backends.checkpointer.get_tuple(config)
    if tup is None:
        raise PageError(404, f"checkpoint {checkpoint_id!r} not found in thread {thread_id!r}")
    return tup


async def checkpoint(request: Request) -> Response:
    row, backends = await _thread(request)
    checkpoint_id = request.path_params["checkpoint_id"]
    tup = await run_in_threadpool(_checkpoint, backends, row.thread_id, checkpoint_id)
    values = state_values(tup)
    message_keys = [k for k, v in values.items() if is_messages(v)]
    key = message_keys[0] if message_keys else None
    messages: list[Any] = values[key] if key else []
    pages = max(1, -(-len(messages) // MESSAGES_PER_PAGE))
    page = min(positive_int(request, "mpage", pages - 1), pages - 1)
    start = page * MESSAGES_PER_PAGE
    shown = [message_view(m) for m in messages[start : start + MESSAGES_PER_PAGE]]
    graph_id, graph = graph_for(backends, row)
    return render(
        request,
        "checkpoint.html",
        thread=row,
        checkpoint_id=checkpoint_id,
        ts=tup.checkpoint.get("ts"),
        metadata=to_json(tup.metadata or {}),
        message_key=key,
        messages=shown,
        message_count=len(messages),
        first_index=start,
        mpage=page,
        mpages=pages,
        others=[(k, to_json(v)) for k, v in values.items() if k not in message_keys],
        pending=[(str(t), str(c), to_json(v, limit=4000)) for t, c, v in tup.pending_writes or []],
        can_run=bool(backends.graphs),
        graph_ids=[] if graph is not None else sorted(backends.graphs),
        graph_id=graph_id,
    )


def _input_keys(graph: Any) -> set[str]:
    """The keys of a graph's input schema (none when it has no object schema)."""
    try:
        schema = graph.get_input_jsonschema()
    except Exception:  # a graph that cannot describe its input: fall back to the state
        return set()
    properties = schema.get("properties") if isinstance(schema, dict) else None
    return set(properties) if isinstance(properties, dict) else set()


def _input(text: str, *, messages: bool) -> Any:
    """A form's input: JSON when it parses, else text (a user message when the state has messages)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        if messages:
            return {"messages": [{"role": "user", "content": text}]}
        return text


async def resume(request: Request) -> Response:
    from threadloom.types import Command

    row, backends = await _thread(request)
    data = await form(request)
    _, graph = graph_for(backends, row, data.get("graph"))
    if graph is None:
        raise PageError(409, "no graph is known for this thread: it cannot be resumed here")
    value = _input(str(data.get("value") or ""), messages=False)
    interrupt_id = data.get("interrupt_id")
    if interrupt_id:  # one of several interrupts: the others keep waiting
        value = {str(interrupt_id): value}
    config = {"configurable": {"thread_id": row.thread_id}}
    await _run(backends, row.thread_id, graph, Command(resume=value), config)
    return redirect(request, f"/threads/{quote(row.thread_id, safe='')}")


async def _run(backends: Backends, thread_id: str, graph: Any, value: Any, config: Any) -> None:
    """Run ``graph`` on the thread here, unless something else runs it now."""
    if backends.is_busy is not None and backends.is_busy(thread_id):
        raise PageError(409, f"thread {thread_id!r} is running: wait for its run to finish")
    await run_in_threadpool(graph.invoke, value, config)
    if backends.changed is not None:
        await run_in_threadpool(backends.changed, thread_id, graph)


async def fork(request: Request) -> Response:
    row, backends = await _thread(request)
    data = await form(request)
    _, graph = graph_for(backends, row, data.get("graph"))
    if graph is None:
        raise PageError(409, "no graph is known for this thread: it cannot be forked here")
    tup = await run_in_threadpool(
        _checkpoint, backends, row.thread_id, request.path_params["checkpoint_id"]
    )
    text = str(data.get("input") or "").strip()
    if not text:
        raise PageError(422, "give an input for the fork")
    # An input checkpoint holds no values yet: the graph's input schema says it too.
    has_messages = any(
        is_messages(v) or k == "messages" for k, v in state_values(tup).items()
    ) or "messages" in _input_keys(graph)
    config = {"configurable": {**tup.config["configurable"]}}
    await _run(backends, row.thread_id, graph, _input(text, messages=has_messages), config)
    return redirect(request, f"/threads/{quote(row.thread_id, safe='')}")


ROUTES = [
    Route("/threads", threads, methods=["GET"]),
    Route("/threads/{thread_id}", thread, methods=["GET"]),
    Route("/threads/{thread_id}/resume", resume, methods=["POST"]),
    Route("/threads/{thread_id}/checkpoints/{checkpoint_id}", checkpoint, methods=["GET"]),
    Route("/threads/{thread_id}/checkpoints/{checkpoint_id}/fork", fork, methods=["POST"]),
]
