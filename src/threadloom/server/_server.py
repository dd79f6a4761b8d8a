"""The server's state: backends, graphs, records, runs and the auth policy, opened once."""

from __future__ import annotations

import contextlib
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.requests import Request

from threadloom._sqlite import Database
from threadloom.checkpoint.base import ERROR
from threadloom.errors import ServerConfigError
from threadloom.server._auth import (
    SYSTEM_OWNER,
    User,
    api_key_auth,
    authenticate,
    authorize,
    matches,
)
from threadloom.server._config import ServerConfig, load_graph, load_object
from threadloom.server._http import HTTPError
from threadloom.server._json import dumps, loads
from threadloom.server._records import Records, now
from threadloom.server._runs import STOPPED, TERMINAL, WORKER, RunManager, worker_alive

__all__ = ["Server", "system_assistant_id"]

_ASSISTANT_NS = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


def system_assistant_id(graph_id: str) -> str:
    """The id of the assistant the server makes for ``graph_id`` (stable across restarts)."""
    return str(uuid.uuid5(_ASSISTANT_NS, graph_id))


class Server:
    """Everything the routes share. ``open()`` before serving, ``close()`` after."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        database: str | None = None,
        postgres: str | None = None,
        workers: int = 8,
        require_auth: bool = False,
    ) -> None:
        self.config = config
        self.database = database
        self.postgres = postgres
        self.max_body_bytes = config.max_body_bytes
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="threadloom-run")
        self._stack = contextlib.ExitStack()
        self.graphs: dict[str, Any] = {}
        self.auth = self._auth(config)
        if require_auth and self.auth is None:
            raise ServerConfigError(
                "refusing to serve beyond loopback without auth: set auth.api_keys or "
                "auth.path in the config (or bind to 127.0.0.1)"
            )
        self.runs = RunManager(self)
        self.store: Any = None
        self.checkpointer: Any = None
        self.records: Records
        self._reader: Any = None
        self._system_assistants: dict[str, dict[str, Any]] = {}
        self._system_ids: set[str] = set()
        self._graph_assistants: dict[str, str] = {}  # graph id -> its assistant's id

    @staticmethod
    def _auth(config: ServerConfig) -> Any:
        if config.auth is not None:
            auth = (
                load_object(config.auth, config.base_dir)
                if isinstance(config.auth, str)
                else config.auth
            )
            if not hasattr(auth, "_authenticate_handler"):
                raise ServerConfigError(f"{config.auth!r} is not an Auth object")
            return auth
        if config.api_keys:
            if SYSTEM_OWNER in config.api_keys.values():
                raise ServerConfigError(f"the identity {SYSTEM_OWNER!r} is reserved")
            return api_key_auth(config.api_keys)
        return None

    def open(self) -> None:
        """Open the store and checkpointer, load the graphs, record their assistants."""
        os.environ.update(self.config.env)
        try:
            self._open_backends()
            self.records = Records(self.store, self._reader)
            for graph_id, spec in self.config.graphs.items():
                self.graphs[graph_id] = load_graph(
                    spec, self.config.base_dir, checkpointer=self.checkpointer, store=self.store
                )
            self._record_assistants()
            self._sweep_dead_runs()
        except BaseException:
            self.close()
            raise

    def _index(self) -> Any:
        index = self.config.store_index
        if not index:
            return None
        if not isinstance(index, dict) or "dims" not in index:
            raise ServerConfigError("store.index needs 'dims' and 'embed'")
        from threadloom.embeddings import init_embeddings

        embed = index.get("embed", "local")
        return {**index, "embed": init_embeddings(embed) if isinstance(embed, str) else embed}

    def _open_backends(self) -> None:
        index: Any = self._index()
        ttl: Any = self.config.store_ttl
        if self.postgres:
            try:
                from threadloom.checkpoint.postgres import PostgresSaver
                from threadloom.store.postgres import PostgresStore
            except ImportError as exc:
                raise ImportError(
                    "serving on PostgreSQL needs the postgres extra: pip install 'threadloom[postgres]'"
                ) from exc
            self.store = self._stack.enter_context(
                PostgresStore.from_conn_string(self.postgres, index=index, ttl=ttl, pool_size=8)
            )
            self.checkpointer = self._stack.enter_context(
                PostgresSaver.from_conn_string(self.postgres, pool_size=8)
            )
        else:
            from threadloom.checkpoint.sqlite import SqliteSaver
            from threadloom.store.sqlite import SqliteStore

            # One connection for both: their writes then take turns on its lock, where two
            # connections to one file wait on SQLite's busy handler, which sleeps a
            # millisecond or more each time the other holds the write lock.
            db = Database.open(self.database or "threadloom.db")
            self._stack.callback(db.close)
            # (The store takes a Database as the saver does, though its signature omits it.)
            shared: Any = db
            self.store = self._stack.enter_context(SqliteStore(shared, index=index, ttl=ttl))
            self.checkpointer = SqliteSaver(db)
            if db.path != ":memory:":  # records read on a connection of their own (see Records)
                self._reader = self._stack.enter_context(SqliteStore(db.path))
        self.store.setup()
        self.checkpointer.setup()

    def _record_assistants(self) -> None:
        for graph_id in self.graphs:
            assistant_id = self._graph_assistants[graph_id] = system_assistant_id(graph_id)
            self._system_ids.add(assistant_id)
            record = self.records.assistant(assistant_id)
            if record is None:
                stamp = now()
                record = {
                    "assistant_id": assistant_id,
                    "graph_id": graph_id,
                    "name": graph_id,
                    "description": None,
                    "config": {},
                    "context": {},
                    "metadata": {"created_by": "system", "owner": SYSTEM_OWNER},
                    "version": 1,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                self.records.write(("assistant", record))
            # Not kept in memory yet: another process starting at the same time may
            # write its own record over this one, and every process must serve the
            # stored one (see ``assistant``).

    def _sweep_dead_runs(self) -> None:
        """Runs a dead process on this host left pending or running are marked, not lost.

        Their threads, left busy, become idle again.
        """
        for record in self.records.search_runs(status=["pending", "running"], limit=10_000):
            worker = str(record.get("worker", ""))
            if worker == WORKER or worker_alive(worker):
                continue
            record.update(status="interrupted", error=STOPPED, updated_at=now())
            writes: list[tuple[str, dict[str, Any]]] = [("run", record)]
            thread = self.records.thread(str(record.get("thread_id")))
            if thread is not None and thread.get("status") == "busy":
                thread.update(status="idle", updated_at=now())
                writes.append(("thread", thread))
                self._stop_dead_turn(thread)
            self.records.write(*writes)

    def _stop_dead_turn(self, thread: dict[str, Any]) -> None:
        """Record the dead run's step as failed, as the engine does when a node raises.

        The checkpointer keeps other writers out of a turn in progress (for its
        ``turn_timeout``); an error write says the turn stopped, so the thread takes
        new runs at once, and resuming it re-runs the step that was cut short.
        """
        config = {"configurable": {"thread_id": thread["thread_id"], "checkpoint_ns": ""}}
        head = self.checkpointer.get_tuple(config)
        if head is None:
            return
        graph = self.graphs.get((thread.get("metadata") or {}).get("graph_id", ""))
        tasks = graph.get_state(config).tasks if graph is not None else ()
        task_id = tasks[0].id if tasks else str(uuid.uuid5(_ASSISTANT_NS, head.checkpoint["id"]))
        self.checkpointer.put_writes(head.config, [(ERROR, repr(RuntimeError(STOPPED)))], task_id)

    def close(self) -> None:
        """Stop the worker pool and close the backends."""
        self.pool.shutdown(wait=True, cancel_futures=True)
        self._stack.close()

    # --- access ---------------------------------------------------------------------------

    async def user(self, request: Request) -> User | None:
        """The authenticated user, once per request; ``None`` when auth is off."""
        if self.auth is None:
            return None
        user = request.scope.get("threadloom.user")
        if user is None:
            user = await authenticate(self.auth, request)
            request.scope["threadloom.user"] = user
        return user

    async def allow(
        self, request: Request, resource: str, action: str, value: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The filter the auth policy puts on this action (403 if refused)."""
        user = await self.user(request)
        if user is None:
            return None
        return await authorize(self.auth, user, resource, action, value)

    async def thread(
        self, request: Request, thread_id: str, action: str = "read"
    ) -> dict[str, Any]:
        """The thread record, if the user may ``action`` it; 404 otherwise (existence is not leaked)."""
        filters = await self.allow(request, "threads", action, {"thread_id": thread_id})
        record = self.records.thread(thread_id)
        if record is None or not matches(record.get("metadata") or {}, filters):
            raise HTTPError(404, f"thread {thread_id!r} not found")
        return record

    async def assistant(
        self, request: Request, assistant_id: str, action: str = "read"
    ) -> dict[str, Any]:
        """The assistant record by id or graph id, if the user may ``action`` it; else 404."""
        filters = await self.allow(request, "assistants", action, {"assistant_id": assistant_id})
        assistant_id = self._graph_assistants.get(assistant_id, assistant_id)
        cached = self._system_assistants.get(assistant_id)
        # Each caller gets its own copy; a stored record is plain JSON, which copies fastest so.
        record = None if cached is None else loads(dumps(cached))
        if record is None:
            try:
                record = self.records.assistant(assistant_id)
            except ValueError:
                record = None
            if record is not None and assistant_id in self._system_ids:
                # Never changed (updates are refused): later runs read it from memory.
                self._system_assistants[assistant_id] = loads(dumps(record))
        if record is None or not matches(record.get("metadata") or {}, filters):
            raise HTTPError(404, f"assistant {assistant_id!r} not found")
        if action in ("update", "delete") and record["metadata"].get("created_by") == "system":
            raise HTTPError(409, "the assistant the server made for a graph cannot be changed")
        return record

    def graph(self, graph_id: str) -> Any:
        try:
            return self.graphs[graph_id]
        except KeyError:
            raise HTTPError(404, f"graph {graph_id!r} not found") from None

    def require_checkpoint(self, configurable: dict[str, Any]) -> None:
        """404 unless the checkpoint ``configurable`` names (if it names one) exists."""
        if not configurable.get("checkpoint_id"):
            return
        config = {"configurable": {"checkpoint_ns": "", **configurable}}
        try:
            found = self.checkpointer.get_tuple(config)
        except (ValueError, KeyError, TypeError):
            found = None
        if found is None:
            raise HTTPError(404, f"checkpoint {configurable['checkpoint_id']!r} not found")

    def run_is_live(self, record: dict[str, Any]) -> bool:
        return record.get("status") not in TERMINAL
