"""Who is looking, and what they may see: the hook an embedding server fills in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request

__all__ = ["OPEN", "Access", "Backends", "NotAuthenticated", "OpenAccess", "Viewer"]


@dataclass(frozen=True)
class Backends:
    """What the inspector reads and writes: a checkpointer, a store and the graphs by id.

    ``threads`` optionally names the store namespace of thread records (as
    ``threadloom serve`` keeps them); without it threads are found in the checkpointer.
    ``is_busy(thread_id)`` refuses a resume or fork while something else runs the
    thread; ``changed(thread_id, graph)`` is told after one (a server updates its record).
    """

    checkpointer: Any
    store: Any
    graphs: Mapping[str, Any] = field(default_factory=dict)
    threads: tuple[str, ...] | None = None
    is_busy: Callable[[str], bool] | None = None
    changed: Callable[[str, Any], None] | None = None


@dataclass(frozen=True)
class Viewer:
    """The person looking: their identity and the scope of what they see.

    ``thread_filter`` is a metadata filter every visible thread matches
    (``{"owner": "alice"}``); every visible namespace lies under
    ``namespace_root``, which pages do not show; namespaces whose first label is
    in ``hidden_roots`` are never listed.
    """

    identity: str | None = None
    thread_filter: Mapping[str, Any] | None = None
    namespace_root: tuple[str, ...] = ()
    hidden_roots: frozenset[str] = frozenset()
    memories: bool = True


class NotAuthenticated(Exception):
    """The request carries no valid credentials: the inspector shows its login form."""


class Access(Protocol):
    """Turns a request into a :class:`Viewer` (raise :class:`NotAuthenticated` to ask for a key)."""

    async def viewer(self, request: Request) -> Viewer: ...


class OpenAccess:
    """No auth: everyone sees everything (a local database opened by ``threadloom inspect``)."""

    def __init__(self, hidden_roots: frozenset[str] = frozenset()) -> None:
        self._viewer = Viewer(hidden_roots=hidden_roots)

    async def viewer(self, request: Request) -> Viewer:
        return self._viewer


OPEN = OpenAccess()
