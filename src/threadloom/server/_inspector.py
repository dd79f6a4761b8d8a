"""The web inspector mounted at ``/inspector``, seeing through the server's auth."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from threadloom.inspector import (
    LOGIN_COOKIE,
    Backends,
    NotAuthenticated,
    Viewer,
    create_inspector,
)
from threadloom.server._auth import authenticate, authorize
from threadloom.server._http import HTTPError
from threadloom.server._records import ROOT, now
from threadloom.server._server import Server

__all__ = ["PATH", "inspector_app"]

PATH = "/inspector"


class _ServerAccess:
    """A viewer per request: the server's ``Auth`` decides who they are and what they see.

    Browsers cannot send an ``Authorization`` header on a link, so the inspector's
    login form keeps the API key in a cookie, sent on as ``Authorization: Bearer``.
    """

    def __init__(self, server: Server) -> None:
        self.server = server

    async def viewer(self, request: Request) -> Viewer:
        auth = self.server.auth
        if auth is None:
            return Viewer(hidden_roots=frozenset({ROOT}))
        key = request.cookies.get(LOGIN_COOKIE)
        scope = dict(request.scope)
        if key and not request.headers.get("authorization"):
            scope["headers"] = [
                *request.scope["headers"],
                (b"authorization", f"Bearer {key}".encode()),
            ]
        try:
            user = await authenticate(auth, Request(scope))
        except HTTPError:
            raise NotAuthenticated() from None
        try:
            threads = await authorize(auth, user, "threads", "search", {"metadata": {}})
        except HTTPError:
            threads = {"__refused__": {"$in": []}}  # matches nothing
        value: dict[str, Any] = {"namespace": ()}
        try:
            # A policy that scopes memories by a filter rather than a namespace root cannot
            # be applied to the tree and the tables: such a user sees no memories here.
            memories = await authorize(auth, user, "store", "list_namespaces", value) is None
        except HTTPError:
            memories = False
        root = tuple(value.get("namespace") or ())
        return Viewer(
            identity=user.identity,
            thread_filter=threads,
            namespace_root=root,
            hidden_roots=frozenset({ROOT}),
            memories=memories and (not root or root[0] != ROOT),
        )


def _sync_record(server: Server, thread_id: str, graph: Any) -> None:
    """After the inspector resumed or forked a thread: its record says what a run would."""
    record = server.records.thread(thread_id)
    if record is None:
        return
    snapshot = graph.get_state({"configurable": {"thread_id": thread_id}})
    record["interrupts"] = {
        t.id: list(t.interrupts) for t in snapshot.tasks if getattr(t, "interrupts", ())
    }
    record.update(
        status="interrupted" if snapshot.next else "idle",
        values=snapshot.values,
        updated_at=now(),
    )
    server.records.write(("thread", record))


def inspector_app(server: Server) -> Any:
    """The inspector over the server's backends (opened later, in the server's lifespan)."""

    def backends() -> Backends:
        return Backends(
            checkpointer=server.checkpointer,
            store=server.store,
            graphs=server.graphs,
            threads=(ROOT, "threads"),
            is_busy=lambda thread_id: bool(server.runs.busy(thread_id)),
            changed=lambda thread_id, graph: _sync_record(server, thread_id, graph),
        )

    return create_inspector(
        backends, access=_ServerAccess(server), writable=True, login=server.auth is not None
    )
