"""Memory pages: the namespace tree and items, search with scores, an item, edits and deletes."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from threadloom.inspector._access import Viewer
from threadloom.inspector._memories import (
    EXPIRY_SCAN_CAP,
    PAGE_COUNT_CAP,
    children,
    count,
    expiry,
    items_page,
)
from threadloom.inspector._render import PageError, join_ns, redirect, render
from threadloom.inspector._request import form, json_object, viewer
from threadloom.inspector._thread_pages import positive_int
from threadloom.inspector._values import to_json

__all__ = ["ROUTES"]

NAMESPACES_PER_PAGE = 50
ITEMS_PER_PAGE = 50
MODES = ("vector", "keyword", "hybrid")


def _namespace(seen: Viewer, raw: str | None) -> tuple[str, ...]:
    """The namespace a URL or form names (relative to the viewer's root)."""
    if not raw:
        return ()
    labels = tuple(raw.split("."))
    if any(not label for label in labels):
        raise PageError(422, f"namespace {raw!r} has an empty label")
    if not seen.namespace_root and labels[0] in seen.hidden_roots:
        raise PageError(404, f"namespace {raw!r} not found")
    return labels


def _memories_allowed(seen: Viewer) -> None:
    if not seen.memories:
        raise PageError(403, "your account may not read memories")


async def memories(request: Request) -> Response:
    seen, backends = await viewer(request)
    _memories_allowed(seen)
    path = _namespace(seen, request.query_params.get("ns"))
    page = positive_int(request, "page", 0)
    ipage = positive_int(request, "ipage", 0)
    order = request.query_params.get("order", "newest")
    if order not in ("newest", "oldest"):
        raise PageError(422, "order must be 'newest' or 'oldest'")
    kids, more = await run_in_threadpool(
        children,
        backends.store,
        seen,
        path,
        limit=NAMESPACES_PER_PAGE,
        offset=page * NAMESPACES_PER_PAGE,
    )
    listing = None
    if path:
        listing = await run_in_threadpool(
            items_page,
            backends.store,
            seen.namespace_root + path,
            limit=ITEMS_PER_PAGE,
            offset=ipage * ITEMS_PER_PAGE,
            oldest_first=order == "oldest",
        )
    return render(
        request,
        "memories.html",
        path=path,
        children=kids,
        more=more,
        page=page,
        listing=listing,
        items=[_row(seen, item) for item in listing.items] if listing else [],
        ipage=ipage,
        ipages=max(1, -(-listing.total // ITEMS_PER_PAGE)) if listing and listing.exact else None,
        order=order,
        count_cap=PAGE_COUNT_CAP,
    )


def _row(seen: Viewer, item: Any) -> dict[str, Any]:
    return {
        "ns": join_ns(item.namespace[len(seen.namespace_root) :]),
        "key": item.key,
        "preview": to_json(item.value, limit=300),
        "created_at": item.created_at.isoformat(timespec="seconds"),
        "updated_at": item.updated_at.isoformat(timespec="seconds"),
        "score": getattr(item, "score", None),
    }


def _filter(text: str) -> dict[str, Any] | None:
    if not text.strip():
        return None
    return json_object(
        text,
        invalid="the filter is not valid JSON",
        not_object="the filter must be a JSON object",
    )


async def search(request: Request) -> Response:
    seen, backends = await viewer(request)
    _memories_allowed(seen)
    params = request.query_params
    path = _namespace(seen, params.get("ns"))
    query = params.get("query", "").strip()
    mode = params.get("mode") or "vector"
    if mode not in MODES:
        raise PageError(422, f"mode must be one of {', '.join(MODES)}")
    filter_text = params.get("filter", "")
    page = positive_int(request, "page", 0)
    found = await run_in_threadpool(
        lambda: backends.store.search(
            seen.namespace_root + path,
            query=query or None,
            filter=_filter(filter_text),
            mode=mode if query else None,
            limit=ITEMS_PER_PAGE + 1,
            offset=page * ITEMS_PER_PAGE,
            refresh_ttl=False,
        )
    )
    return render(
        request,
        "search.html",
        path=path,
        query=query,
        mode=mode,
        modes=MODES,
        filter=filter_text,
        items=[_row(seen, item) for item in found[:ITEMS_PER_PAGE]],
        more=len(found) > ITEMS_PER_PAGE,
        page=page,
    )


def _address(seen: Viewer, data: Any) -> tuple[tuple[str, ...], str]:
    path = _namespace(seen, data.get("ns"))
    key = data.get("key")
    if not path or not isinstance(key, str) or not key:
        raise PageError(422, "an item needs a namespace and a key")
    return path, key


async def item(request: Request) -> Response:
    seen, backends = await viewer(request)
    _memories_allowed(seen)
    path, key = _address(seen, request.query_params)
    full = seen.namespace_root + path
    found = await run_in_threadpool(lambda: backends.store.get(full, key, refresh_ttl=False))
    if found is None:
        raise PageError(404, f"no memory {key!r} in {join_ns(path)!r}")
    known, ttl, expires_at = await run_in_threadpool(expiry, backends.store, full, key)
    return render(
        request,
        "item.html",
        path=path,
        key=key,
        value=to_json(found.value, limit=10**7),
        created_at=found.created_at.isoformat(),
        updated_at=found.updated_at.isoformat(),
        expiry_known=known,
        ttl=ttl,
        expires_at=expires_at.isoformat() if expires_at is not None else None,
        ttl_policy=to_json(getattr(backends.store, "ttl_config", None) or {}),
        expiry_cap=EXPIRY_SCAN_CAP,
    )


def _confirm(
    request: Request, data: FormData, *, action: str, question: str, preview: str | None
) -> Response | None:
    """The confirmation page, unless this POST is the confirmed one."""
    if data.get("confirmed") == "yes":
        return None
    fields = [(k, str(v)) for k, v in data.items() if k not in ("csrf", "confirmed")]
    return render(
        request, "confirm.html", action=action, question=question, preview=preview, fields=fields
    )


async def edit_item(request: Request) -> Response:
    seen, backends = await viewer(request)
    _memories_allowed(seen)
    data = await form(request)
    path, key = _address(seen, data)
    text = str(data.get("value") or "")
    value = json_object(
        text,
        invalid="the value is not valid JSON",
        not_object="a memory's value must be a JSON object",
    )
    asked = _confirm(
        request,
        data,
        action="/memories/item/edit",
        question=f"Replace the value of {key!r} in {join_ns(path)!r}?",
        preview=to_json(value),
    )
    if asked is not None:
        return asked
    await run_in_threadpool(backends.store.put, seen.namespace_root + path, key, value)
    return redirect(request, f"/memories/item?ns={_q(join_ns(path))}&key={_q(key)}")


async def delete_item(request: Request) -> Response:
    seen, backends = await viewer(request)
    _memories_allowed(seen)
    data = await form(request)
    path, key = _address(seen, data)
    asked = _confirm(
        request,
        data,
        action="/memories/item/delete",
        question=f"Delete the memory {key!r} in {join_ns(path)!r}?",
        preview=None,
    )
    if asked is not None:
        return asked
    await run_in_threadpool(backends.store.delete, seen.namespace_root + path, key)
    return redirect(request, f"/memories?ns={_q(join_ns(path))}")


async def delete_namespace(request: Request) -> Response:
    seen, backends = await viewer(request)
    _memories_allowed(seen)
    data = await form(request)
    path = _namespace(seen, str(data.get("ns") or ""))
    if not path:
        raise PageError(422, "name the namespace to delete")
    full = seen.namespace_root + path
    if data.get("confirmed") != "yes":
        n = await run_in_threadpool(count, backends.store, full)
        many = f"more than {PAGE_COUNT_CAP}" if n > PAGE_COUNT_CAP else str(n)
        asked = _confirm(
            request,
            data,
            action="/memories/namespace/delete",
            question=f"Delete the namespace {join_ns(path)!r} and all {many} memories under it?",
            preview=None,
        )
        assert asked is not None
        return asked
    await run_in_threadpool(backends.store.delete_namespace, full)
    return redirect(request, f"/memories?ns={_q(join_ns(path[:-1]))}")


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


ROUTES = [
    Route("/memories", memories, methods=["GET"]),
    Route("/memories/search", search, methods=["GET"]),
    Route("/memories/item", item, methods=["GET"]),
    Route("/memories/item/edit", edit_item, methods=["POST"]),
    Route("/memories/item/delete", delete_item, methods=["POST"]),
    Route("/memories/namespace/delete", delete_namespace, methods=["POST"]),
]
