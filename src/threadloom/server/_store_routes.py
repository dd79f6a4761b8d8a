"""Store routes: put, get, delete and search items, list namespaces."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from threadloom.server._http import HTTPError, body_dict, body_int, body_str, read_object, reply
from threadloom.server._records import ROOT
from threadloom.server._server import Server

__all__ = ["ROUTES"]


def _server(request: Request) -> Server:
    server: Server = request.app.state.server
    return server


def _namespace(value: Any, *, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise HTTPError(422, "a namespace must be a list of strings")
    if not value and not allow_empty:
        raise HTTPError(422, "a namespace cannot be empty")
    if any(not label or "." in label for label in value):
        raise HTTPError(422, "namespace labels must be non-empty and contain no '.'")
    return tuple(value)


def _scoped(
    value: dict[str, Any], key: str = "namespace", *, allow_empty: bool = False
) -> tuple[str, ...]:
    """The namespace after the auth handler had its say; the server's own root stays closed."""
    namespace = _namespace(value.get(key) or (), allow_empty=allow_empty)
    if namespace and namespace[0] == ROOT:
        raise HTTPError(403, f"the namespace root {ROOT!r} is reserved for the server")
    return namespace


def _ttl(body: dict[str, Any]) -> Any:
    ttl = body.get("ttl")
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl < 10**9:
        raise HTTPError(422, "'ttl' must be a positive number of minutes")
    return float(ttl)


def _item(item: Any) -> dict[str, Any]:
    data = {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }
    if hasattr(item, "score"):
        data["score"] = item.score
    return data


async def put_item(request: Request) -> Response:
    server = _server(request)
    body = await read_object(request)
    value = {
        "namespace": _namespace(body.get("namespace")),
        "key": body_str(body, "key", required=True),
        "value": body_dict(body, "value"),
        "index": body.get("index"),
        "ttl": _ttl(body),
    }
    if value["value"] is None:
        raise HTTPError(422, "'value' must be a JSON object")
    index = value["index"]
    if (
        index is not None
        and index is not False
        and (not isinstance(index, list) or not all(isinstance(p, str) for p in index))
    ):
        raise HTTPError(422, "'index' must be false or a list of field paths")
    await server.allow(request, "store", "put", value)
    namespace = _scoped(value)
    kwargs = {} if value["ttl"] is None else {"ttl": value["ttl"]}
    server.store.put(namespace, value["key"], value["value"], index=index, **kwargs)
    return Response(status_code=204)


def _query_namespace(request: Request) -> tuple[str, ...]:
    raw = request.query_params.get("namespace", "")
    return _namespace(raw.split(".") if raw else [])


async def get_item(request: Request) -> Response:
    server = _server(request)
    key = request.query_params.get("key")
    if not key:
        raise HTTPError(422, "'key' is required")
    refresh = request.query_params.get("refresh_ttl")
    value = {"namespace": _query_namespace(request), "key": key}
    await server.allow(request, "store", "get", value)
    refresh_ttl = None if refresh is None else refresh.lower() == "true"
    item = server.store.get(_scoped(value), key, refresh_ttl=refresh_ttl)
    return reply(None if item is None else _item(item))


async def delete_item(request: Request) -> Response:
    server = _server(request)
    body = await read_object(request)
    value = {
        "namespace": _namespace(body.get("namespace")),
        "key": body_str(body, "key", required=True),
    }
    await server.allow(request, "store", "delete", value)
    server.store.delete(_scoped(value), value["key"])
    return Response(status_code=204)


async def search_items(request: Request) -> Response:
    server = _server(request)
    body = await read_object(request)
    limit = body_int(body, "limit", 10, high=1000)
    offset = body_int(body, "offset", 0, high=1_000_000)
    value: dict[str, Any] = {
        "namespace": _namespace(body.get("namespace_prefix") or [], allow_empty=True),
        "filter": body_dict(body, "filter"),
        "query": body_str(body, "query"),
        "limit": limit,
        "offset": offset,
    }
    await server.allow(request, "store", "search", value)
    refresh = body.get("refresh_ttl")
    prefix = _scoped(value, allow_empty=True)
    kwargs: dict[str, Any] = {
        "query": value["query"],
        "filter": value["filter"],
        "refresh_ttl": refresh if isinstance(refresh, bool) else None,
    }
    if prefix:
        items = server.store.search(prefix, limit=limit, offset=offset, **kwargs)
    else:
        # Without a prefix the server's own records would match: page past them.
        wanted, items, cursor = offset + limit, [], 0
        while len(items) < wanted:
            page = server.store.search((), limit=1000, offset=cursor, **kwargs)
            items.extend(i for i in page if i.namespace[0] != ROOT)
            if len(page) < 1000:
                break
            cursor += 1000
        items = items[offset:wanted]
    return reply({"items": [_item(i) for i in items]})


async def list_namespaces(request: Request) -> Response:
    server = _server(request)
    body = await read_object(request)
    limit = body_int(body, "limit", 100, high=1000)
    offset = body_int(body, "offset", 0, high=1_000_000)
    value: dict[str, Any] = {
        "namespace": _namespace(body.get("prefix") or [], allow_empty=True),
        "suffix": body.get("suffix"),
        "max_depth": body.get("max_depth"),
        "limit": limit,
        "offset": offset,
    }
    suffix = value["suffix"]
    if suffix is not None:
        suffix = _namespace(suffix)
    depth = value["max_depth"]
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise HTTPError(422, "'max_depth' must be a positive integer")
    await server.allow(request, "store", "list_namespaces", value)
    prefix = _scoped(value, allow_empty=True)
    found = server.store.list_namespaces(
        prefix=prefix or None,
        suffix=suffix,
        max_depth=depth,
        limit=limit + offset + 1000,
        offset=0,
    )
    # The server's own records are never listed.
    visible = [list(ns) for ns in found if ns[0] != ROOT]
    return reply({"namespaces": visible[offset : offset + limit]})


ROUTES = [
    Route("/store/items", put_item, methods=["PUT"]),
    Route("/store/items", get_item, methods=["GET"]),
    Route("/store/items", delete_item, methods=["DELETE"]),
    Route("/store/items/search", search_items, methods=["POST"]),
    Route("/store/namespaces", list_namespaces, methods=["POST"]),
]
