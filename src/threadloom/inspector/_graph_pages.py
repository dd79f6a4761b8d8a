"""The graphs page: each served graph drawn with mermaid (rendered in the page, from local assets)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from threadloom.inspector._render import render
from threadloom.inspector._request import viewer

__all__ = ["ROUTES"]


def _drawings(graphs: dict[str, object]) -> list[tuple[str, str]]:
    drawn = []
    for graph_id, graph in sorted(graphs.items()):
        try:
            text = graph.get_graph().draw_mermaid()  # type: ignore[attr-defined]
        except Exception as exc:  # a graph that cannot be drawn still gets its row
            text = f"%% cannot draw {graph_id}: {type(exc).__name__}: {exc}"
        drawn.append((graph_id, text))
    return drawn


async def graphs(request: Request) -> Response:
    _, backends = await viewer(request)
    drawn = await run_in_threadpool(_drawings, dict(backends.graphs))
    return render(request, "graphs.html", graphs=drawn)


ROUTES = [Route("/graphs", graphs, methods=["GET"])]
