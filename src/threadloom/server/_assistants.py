"""Assistant routes: one per graph made by the server, and those clients create."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from threadloom.server._auth import matches
from threadloom.server._http import HTTPError, body_dict, body_int, body_str, read_object, reply
from threadloom.server._json import to_plain
from threadloom.server._records import new_id, now
from threadloom.server._server import Server
from threadloom.server._threads import split_filter

__all__ = ["ROUTES"]


def _server(request: Request) -> Server:
    server: Server = request.app.state.server
    return server


async def create_assistant(request: Request) -> Response:
    server = _server(request)
    body = await read_object(request)
    graph_id = body_str(body, "graph_id", required=True) or ""
    server.graph(graph_id)
    assistant_id = body_str(body, "assistant_id") or new_id()
    try:
        assistant_id = str(uuid.UUID(assistant_id))
    except ValueError:
        raise HTTPError(422, "assistant_id must be a UUID") from None
    value = {
        "assistant_id": assistant_id,
        "graph_id": graph_id,
        "config": body_dict(body, "config") or {},
        "context": body_dict(body, "context") or {},
        "metadata": dict(body_dict(body, "metadata") or {}),
        "name": body_str(body, "name") or graph_id,
        "description": body.get("description"),
    }
    filters = await server.allow(request, "assistants", "create", value)
    existing = server.records.assistant(assistant_id)
    if existing is not None:
        if body.get("if_exists") == "do_nothing" and matches(
            existing.get("metadata") or {}, filters
        ):
            return reply(existing)
        raise HTTPError(409, f"assistant {assistant_id!r} already exists")
    stamp = now()
    record = {**to_plain(value), "version": 1, "created_at": stamp, "updated_at": stamp}
    server.records.write(("assistant", record))
    return reply(record)


async def get_assistant(request: Request) -> Response:
    return reply(await _server(request).assistant(request, request.path_params["assistant_id"]))


async def patch_assistant(request: Request) -> Response:
    server = _server(request)
    record = await server.assistant(request, request.path_params["assistant_id"], "update")
    body = await read_object(request)
    value = {
        "assistant_id": record["assistant_id"],
        "metadata": dict(body_dict(body, "metadata") or {}),
    }
    await server.allow(request, "assistants", "update", value)
    graph_id = body_str(body, "graph_id")
    if graph_id is not None:
        server.graph(graph_id)
        record["graph_id"] = graph_id
    for key in ("config", "context"):
        if body.get(key) is not None:
            record[key] = to_plain(body_dict(body, key))
    if body.get("name") is not None:
        record["name"] = body_str(body, "name")
    if "description" in body:
        record["description"] = body.get("description")
    record["metadata"] = {**record.get("metadata", {}), **to_plain(value["metadata"])}
    record["version"] = int(record.get("version", 1)) + 1
    record["updated_at"] = now()
    server.records.write(("assistant", record))
    return reply(record)


async def delete_assistant(request: Request) -> Response:
    server = _server(request)
    record = await server.assistant(request, request.path_params["assistant_id"], "delete")
    server.records.delete_assistant(record["assistant_id"])
    return Response(status_code=204)


async def _found(request: Request) -> list[dict[str, Any]]:
    server = _server(request)
    body = await read_object(request)
    metadata = dict(body_dict(body, "metadata") or {})
    filters = await server.allow(request, "assistants", "search", {"metadata": metadata})
    store_filter, python_filter = split_filter(filters)
    graph_id = body_str(body, "graph_id")
    limit = body_int(body, "limit", 10, high=1000)
    offset = body_int(body, "offset", 0, high=1_000_000)
    found = server.records.search_assistants(
        graph_id=graph_id, metadata={**metadata, **store_filter}, limit=10_000
    )
    name = body.get("name")
    found = [
        a
        for a in found
        if matches(a.get("metadata") or {}, python_filter)
        and (name is None or a.get("name") == name)
    ]
    found.sort(key=lambda a: a.get("created_at") or "")
    return found[offset : offset + limit] if request.url.path.endswith("search") else found


async def search_assistants(request: Request) -> Response:
    return reply(await _found(request))


async def count_assistants(request: Request) -> Response:
    return reply(len(await _found(request)))


async def _graph_of(request: Request) -> Any:
    server = _server(request)
    record = await server.assistant(request, request.path_params["assistant_id"])
    return record, server.graph(record["graph_id"])


async def assistant_schemas(request: Request) -> Response:
    record, graph = await _graph_of(request)
    return reply(
        {
            "graph_id": record["graph_id"],
            "input_schema": graph.get_input_jsonschema(),
            "output_schema": graph.get_output_jsonschema(),
            "state_schema": graph.get_output_jsonschema(),
            "config_schema": None,
            "context_schema": graph.get_context_jsonschema(),
        }
    )


async def assistant_graph(request: Request) -> Response:
    _, graph = await _graph_of(request)
    drawn = graph.get_graph()
    nodes = [
        {"id": node_id, "type": "runnable", "data": {"name": node_id}} for node_id in drawn.nodes
    ]
    edges = [
        {
            "source": e.source,
            "target": e.target,
            "conditional": bool(getattr(e, "conditional", False)),
        }
        for e in drawn.edges
    ]
    return reply({"nodes": nodes, "edges": edges})


ROUTES = [
    Route("/assistants", create_assistant, methods=["POST"]),
    Route("/assistants/search", search_assistants, methods=["POST"]),
    Route("/assistants/count", count_assistants, methods=["POST"]),
    Route("/assistants/{assistant_id}", get_assistant, methods=["GET"]),
    Route("/assistants/{assistant_id}", patch_assistant, methods=["PATCH"]),
    Route("/assistants/{assistant_id}", delete_assistant, methods=["DELETE"]),
    Route("/assistants/{assistant_id}/schemas", assistant_schemas, methods=["GET"]),
    Route("/assistants/{assistant_id}/graph", assistant_graph, methods=["GET"]),
]
