"""Background reflection: run the memory manager once a thread has gone quiet.

:class:`ReflectionExecutor` keeps each submitted conversation as a pending
job **in the store** (namespace ``("memory_reflection", queue)``, one item
per thread), so work survives a stop, a crash or a restart: a new executor on
the same database picks it up. Submitting again for the same thread before
its delay has passed replaces the pending job and restarts the delay
(debounce), so a burst of turns costs one model call. At most
``max_workers`` jobs run at once.

Delivery is at least once: a job whose run was interrupted runs again, and
two executors polling one database may both run a job that is due. The
memory manager's dedup makes a repeated run harmless.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import convert_to_messages, messages_from_dict, messages_to_dict
from langchain_core.runnables import RunnableConfig

from threadloom.errors import InvalidStoreInputError
from threadloom.memory.manager import MemoryStoreManager
from threadloom.store.base import BaseStore, Item, SearchItem

__all__ = ["QUEUE_LABEL", "PendingReflection", "ReflectionExecutor"]

logger = logging.getLogger(__name__)

QUEUE_LABEL = "memory_reflection"
"""First label of the namespaces that hold pending reflection jobs."""

Reflector = MemoryStoreManager | Callable[[dict[str, Any], RunnableConfig], Any]

_BATCH = 100


@dataclass(frozen=True)
class PendingReflection:
    """A job waiting in the store."""

    thread_id: str
    due_at: float
    attempts: int
    messages: int


class ReflectionExecutor:
    """Runs a reflector (usually a memory store manager) after each thread has been quiet.

    ``delay`` is the quiet time in seconds; ``poll_interval`` how often the
    store is checked for due jobs (jobs submitted in this process wake the
    executor at once). A job that fails is retried ``max_attempts`` times,
    then moved to ``("memory_reflection", queue, "failed")``.
    """

    def __init__(
        self,
        reflector: Reflector,
        *,
        store: BaseStore,
        delay: float = 30.0,
        max_workers: int = 2,
        poll_interval: float = 1.0,
        max_attempts: int = 3,
        queue: str = "default",
        start: bool = True,
    ) -> None:
        if delay < 0 or poll_interval <= 0 or max_workers < 1 or max_attempts < 1:
            raise InvalidStoreInputError(
                "delay must be >= 0, poll_interval > 0, max_workers and max_attempts >= 1"
            )
        if isinstance(reflector, MemoryStoreManager) and reflector.store is None:
            reflector = reflector.with_store(store)
        self._run = reflector.invoke if isinstance(reflector, MemoryStoreManager) else reflector
        self.store = store
        self.delay = delay
        self.max_workers = max_workers
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.namespace = (QUEUE_LABEL, queue)
        self._pool: ThreadPoolExecutor | None = None
        self._scheduler: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[str, Future[None]] = {}
        if start:
            self.start()

    # --- public -----------------------------------------------------------

    def submit(
        self,
        payload: Mapping[str, Any],
        config: RunnableConfig | None = None,
        *,
        after_seconds: float | None = None,
        thread_id: str | None = None,
    ) -> str:
        """Schedule reflection on ``payload["messages"]``; returns the job's thread id.

        The job for a thread replaces any pending one of the same thread
        (debounce). ``thread_id`` defaults to ``config["configurable"]["thread_id"]``.
        """
        configurable = dict((config or {}).get("configurable") or {})
        thread = thread_id or configurable.get("thread_id")
        if not thread:
            raise InvalidStoreInputError("submit() needs thread_id=... or a thread_id in config")
        delay = self.delay if after_seconds is None else after_seconds
        record = {
            "messages": messages_to_dict(convert_to_messages(payload["messages"])),
            "configurable": _plain(configurable),
            "due_at": time.time() + delay,
            "token": uuid.uuid4().hex,
            "attempts": 0,
        }
        self.store.put(self.namespace, str(thread), record, index=False)
        self._wake.set()
        return str(thread)

    def pending(self) -> list[PendingReflection]:
        """The jobs waiting in the store (running ones included), soonest first."""
        jobs = [
            PendingReflection(
                item.key,
                item.value["due_at"],
                item.value["attempts"],
                len(item.value["messages"]),
            )
            for item in self._queued()
        ]
        return sorted(jobs, key=lambda job: job.due_at)

    def failed(self) -> list[SearchItem]:
        """The jobs that failed ``max_attempts`` times (value holds the last error)."""
        return self.store.search((*self.namespace, "failed"), limit=10_000, refresh_ttl=False)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is pending or running; ``False`` if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                busy = bool(self._running)
            if not busy and not self._queued():
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            self._wake.set()
            time.sleep(0.02)

    def start(self) -> None:
        """Start the scheduler thread (done by the constructor unless ``start=False``)."""
        if self._scheduler is not None:
            return
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="reflection")
        self._scheduler = threading.Thread(
            target=self._loop, name="reflection-scheduler", daemon=True
        )
        self._scheduler.start()

    def stop(self, *, wait: bool = True) -> None:
        """Stop taking jobs; with ``wait`` let running ones finish. Pending jobs stay stored."""
        self._stopping.set()
        self._wake.set()
        if self._scheduler is not None:
            self._scheduler.join()
            self._scheduler = None
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> ReflectionExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- internals --------------------------------------------------------

    def _queued(self, filter: dict[str, Any] | None = None) -> list[Item]:
        items: list[Item] = []
        while True:
            page = self.store.search(
                self.namespace, filter=filter, limit=_BATCH, offset=len(items), refresh_ttl=False
            )
            items.extend(page)
            if len(page) < _BATCH:
                return [item for item in items if item.namespace == self.namespace]

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._dispatch()
            except Exception:  # keep the scheduler alive; the store may be back next time
                logger.exception("reflection scheduler: could not read the pending jobs")
            self._wake.wait(self.poll_interval)
            self._wake.clear()

    def _dispatch(self) -> None:
        now = time.time()
        due = self._queued({"due_at": {"$lte": now}})
        for item in sorted(due, key=lambda item: item.value["due_at"]):
            with self._lock:
                if item.key in self._running or len(self._running) >= self.max_workers:
                    continue
                if self._pool is None or self._stopping.is_set():
                    return
                future = self._pool.submit(self._execute, item)
                self._running[item.key] = future
            future.add_done_callback(functools.partial(self._finished, item.key))

    def _finished(self, key: str, _future: Future[None]) -> None:
        with self._lock:
            self._running.pop(key, None)
        self._wake.set()  # a slot is free: look for more work

    def _execute(self, item: Item) -> None:
        record = item.value
        config: RunnableConfig = {"configurable": dict(record["configurable"])}
        try:
            self._run({"messages": messages_from_dict(record["messages"])}, config)
        except Exception as exc:
            self._retry_or_fail(item, exc)
            return
        current = self.store.get(self.namespace, item.key, refresh_ttl=False)
        if current is not None and current.value["token"] == record["token"]:
            self.store.delete(self.namespace, item.key)
        # Otherwise a newer submission arrived while this one ran: it stays pending.

    def _retry_or_fail(self, item: Item, exc: Exception) -> None:
        current = self.store.get(self.namespace, item.key, refresh_ttl=False)
        if current is None or current.value["token"] != item.value["token"]:
            return  # superseded by a newer submission, which will run instead
        attempts = item.value["attempts"] + 1
        error = f"{type(exc).__name__}: {exc}"
        if attempts >= self.max_attempts:
            logger.error("reflection for thread %r failed %d times: %s", item.key, attempts, error)
            failed = {**item.value, "attempts": attempts, "error": error}
            self.store.put((*self.namespace, "failed"), item.key, failed, index=False)
            self.store.delete(self.namespace, item.key)
            return
        logger.warning("reflection for thread %r failed, will retry: %s", item.key, error)
        backoff = min(self.poll_interval * 2**attempts, 300.0)
        retry = {
            **item.value,
            "attempts": attempts,
            "error": error,
            "due_at": time.time() + backoff,
        }
        self.store.put(self.namespace, item.key, retry, index=False)


def _plain(configurable: dict[str, Any]) -> dict[str, Any]:
    """The JSON-storable part of ``configurable`` (ids and settings, not live objects)."""
    return {
        key: value
        for key, value in configurable.items()
        if isinstance(value, (str, int, float, bool)) or value is None
    }
