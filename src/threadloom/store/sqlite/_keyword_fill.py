"""A ``"vector"`` SqliteStore's keyword rows, kept caught up off the request path.

A store that searches by vector by default writes no keyword rows on put (the
FTS5 upkeep would make its puts slower for searches it may never run). So that
its first keyword or hybrid search does not pay for indexing the whole file,
``setup()`` starts a :class:`KeywordFiller`: a daemon thread that indexes every
item written since the last catch-up (:func:`~threadloom.store.sqlite._text_search.catch_up_keyword_rows`),
:data:`CHUNK` per write transaction with a pause between them, so that requests
interleave with it. After that it sleeps until the store's own puts wake it,
and catches up again once they pause for :data:`QUIET_S` (a bulk load is not
slowed by indexing between its batches). A keyword search indexes whatever the
filler has not reached yet itself: only the items written since. The process's
in-memory copy of the rows is read as the vectors are, one namespace on its
first keyword search there (``_keyword_sync``).
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from threadloom.store.sqlite._store import SqliteStore

__all__ = ["CHUNK", "PAUSE_S", "QUIET_S", "KeywordFiller"]

#: Items indexed per write transaction: the longest a request waits for the filler.
CHUNK = 500
#: Seconds between two transactions of a catch-up: requests waiting for the lock go first.
PAUSE_S = 0.005
#: Seconds without a put before the filler catches up with the puts.
QUIET_S = 0.2


class KeywordFiller:
    """The thread that keeps one store's keyword rows (and in-memory index) caught up."""

    def __init__(self, store: SqliteStore) -> None:
        self._store = weakref.ref(store)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._state = threading.Lock()  # wake and idle change together
        self._thread = threading.Thread(
            target=self._loop, name="threadloom-sqlite-keyword-filler", daemon=True
        )

    def start(self) -> None:
        self._wake.set()  # the first round: whatever the file holds from before
        self._thread.start()

    def notify(self) -> None:
        """The store wrote items without keyword rows: catch up once writes pause."""
        with self._state:
            self._idle.clear()
            self._wake.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until everything written so far is indexed; whether it is within ``timeout``."""
        return self._idle.wait(timeout)

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the thread; whether it has stopped within ``timeout`` seconds."""
        self._stop.set()
        self._wake.set()
        if self._thread is threading.current_thread() or not self._thread.is_alive():
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        first = True
        while True:
            self._wake.wait()
            if not first:
                # Let a burst of puts finish: index once, between bursts.
                while not self._stop.is_set() and self._wake.is_set():
                    self._wake.clear()
                    self._stop.wait(QUIET_S)
            self._wake.clear()
            if self._stop.is_set():
                return
            store = self._store()
            if store is None:
                return
            try:
                while not store._catch_up_keywords(CHUNK) and not self._stop.wait(PAUSE_S):
                    pass
            except Exception:
                # A closed store ends the thread; anything else is left to the next
                # keyword search, which catches up itself (and reports the error).
                if store._db.closed:
                    return
            finally:
                del store  # do not keep the store alive while sleeping
            first = False
            with self._state:
                if not self._wake.is_set():
                    self._idle.set()
