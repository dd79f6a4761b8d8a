"""Threads, runs and assistants as records in the store, so every server process shares them.

They live under the namespace root ``threadloom_server``, which the store routes
never let a client name; they are written with ``index=False`` (never embedded).
"""

from __future__ import annotations

import datetime
import os
import threading
import uuid
from typing import Any

from threadloom.server._json import to_plain
from threadloom.store.base import BaseStore, GetOp, Item, PutOp

__all__ = ["ROOT", "Records", "new_id", "now"]

ROOT = "threadloom_server"
_THREADS = (ROOT, "threads")
_RUNS = (ROOT, "runs")
_ASSISTANTS = (ROOT, "assistants")
_CANCELS = (ROOT, "cancels")

# The store caps a search page; listing everything pages through with this size.
_PAGE = 1000


class _RandomIds:
    """Random (version 4) UUIDs from the system's random source, read 4 KiB at a time.

    ``uuid.uuid4()`` reads 16 bytes per id, and each read lets go of the interpreter
    lock: the event loop then waits for a worker thread to hand it back, for every
    request that makes an id. The ids are as random as ``uuid4()``'s.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._random = b""
        self._at = 0

    def __call__(self) -> str:
        with self._lock:
            if self._at >= len(self._random):
                self._random, self._at = os.urandom(4096), 0
            at = self._at
            self._at += 16
            chunk = self._random[at : at + 16]
        return str(uuid.UUID(bytes=chunk, version=4))


new_id = _RandomIds()
"""A new random id (a version 4 UUID string), as ``str(uuid.uuid4())``."""


def now() -> str:
    """The current UTC time in ISO format, as the API reports times."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _store_filter(filters: dict[str, Any] | None, prefix: str) -> dict[str, Any]:
    """A metadata/values filter addressed at ``prefix.key`` paths of the record."""
    return {f"{prefix}.{k}": v for k, v in (filters or {}).items()}


class Records:
    """The server's records in ``store``: one method per read or write the routes need.

    Reads go through ``reader`` when given: the same file on a connection of its own,
    so that a route reading a record never waits while runs write checkpoints and
    records on the connection ``store`` shares with the checkpointer.
    """

    def __init__(self, store: BaseStore, reader: BaseStore | None = None) -> None:
        self.store = store
        self.reader = store if reader is None else reader

    def _get(self, namespace: tuple[str, ...], key: str) -> dict[str, Any] | None:
        item = self.reader.get(namespace, key)
        return None if item is None else item.value

    def _search(
        self, namespace: tuple[str, ...], filters: dict[str, Any], limit: int, offset: int
    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while len(found) < limit:
            page = min(_PAGE, limit - len(found))
            items = self.reader.search(namespace, filter=filters or None, limit=page, offset=offset)
            found.extend(item.value for item in items)
            if len(items) < page:
                break
            offset += page
        return found

    def write(self, *records: tuple[str, dict[str, Any]]) -> None:
        """Write records in one batch: ``("thread"|"run"|"assistant"|"cancel", record)`` pairs."""
        ops = []
        for kind, record in records:
            namespace, key = {
                "thread": (_THREADS, "thread_id"),
                "run": (_RUNS, "run_id"),
                "assistant": (_ASSISTANTS, "assistant_id"),
                "cancel": (_CANCELS, "run_id"),
            }[kind]
            # Values may hold messages or interrupts: the store keeps their plain JSON form.
            ops.append(PutOp(namespace, record[key], to_plain(record), False))
        self.store.batch(ops)

    # threads
    def thread(self, thread_id: str) -> dict[str, Any] | None:
        return self._get(_THREADS, thread_id)

    def threads(self, thread_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The records of ``thread_ids`` that exist, by id, read in one batch.

        Read on the writing connection: the writer of run starts and ends reads here,
        and leaves the reading connection to the requests.
        """
        items = self.store.batch([GetOp(_THREADS, thread_id) for thread_id in thread_ids])
        return {i.key: i.value for i in items if isinstance(i, Item)}

    def delete_thread(self, thread_id: str) -> None:
        self.store.delete(_THREADS, thread_id)

    def search_threads(
        self,
        *,
        metadata: dict[str, Any] | None = None,
        values: dict[str, Any] | None = None,
        status: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        filters = {**_store_filter(metadata, "metadata"), **_store_filter(values, "values")}
        if status is not None:
            filters["status"] = status
        return self._search(_THREADS, filters, limit, offset)

    # runs
    def run(self, run_id: str) -> dict[str, Any] | None:
        return self._get(_RUNS, run_id)

    def delete_run(self, run_id: str) -> None:
        self.store.delete(_RUNS, run_id)

    def search_runs(
        self,
        *,
        thread_id: str | None = None,
        status: str | list[str] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        filters: dict[str, Any] = {}
        if thread_id is not None:
            filters["thread_id"] = thread_id
        if isinstance(status, list):
            filters["status"] = {"$in": status}
        elif status is not None:
            filters["status"] = status
        return self._search(_RUNS, filters, limit, offset)

    # cancel requests for runs another server process executes
    def cancel_request(self, run_id: str) -> str | None:
        """The action (``interrupt``/``rollback``) another process asked for ``run_id``."""
        record = self._get(_CANCELS, run_id)
        return None if record is None else str(record.get("action") or "interrupt")

    def delete_cancel_request(self, run_id: str) -> None:
        self.store.delete(_CANCELS, run_id)

    # assistants
    def assistant(self, assistant_id: str) -> dict[str, Any] | None:
        return self._get(_ASSISTANTS, assistant_id)

    def delete_assistant(self, assistant_id: str) -> None:
        self.store.delete(_ASSISTANTS, assistant_id)

    def search_assistants(
        self,
        *,
        graph_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        filters = _store_filter(metadata, "metadata")
        if graph_id is not None:
            filters["graph_id"] = graph_id
        return self._search(_ASSISTANTS, filters, limit, offset)
