"""The server's records: the ids it makes for threads, runs and assistants."""

from __future__ import annotations

import threading
import uuid

from threadloom.server._records import new_id


def test_new_ids_are_distinct_version_4_uuids_across_refills_of_random_bytes() -> None:
    ids = [new_id() for _ in range(2000)]  # 4 KiB of random bytes makes 256 ids
    assert len(set(ids)) == len(ids)
    for made in ids[:300]:
        parsed = uuid.UUID(made)
        assert str(parsed) == made
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_threads_making_ids_at_once_never_get_the_same_one() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def make(into: list[str]) -> None:
        into.extend(new_id() for _ in range(1000))

    workers = [threading.Thread(target=make, args=(into,)) for into in made]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    every = [i for into in made for i in into]
    assert len(set(every)) == 4000
