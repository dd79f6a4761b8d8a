"""Several worker processes, each a host with its own compiled graph, share one database."""

from __future__ import annotations

import itertools
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from _hosts import DIMS, run_turns
from langchain_core.messages import AIMessage, HumanMessage

from threadloom.checkpoint.postgres import PostgresSaver
from threadloom.store.postgres import PostgresStore

pytestmark = pytest.mark.slow


@pytest.fixture
def hosts() -> Iterator[list[ProcessPoolExecutor]]:
    """Three separate host processes (spawned, so nothing is shared but the database)."""
    context = multiprocessing.get_context("spawn")
    pools = [ProcessPoolExecutor(max_workers=1, mp_context=context) for _ in range(3)]
    yield pools
    for pool in pools:
        pool.shutdown()


@pytest.fixture
def shared_dsn(pg_dsn: str) -> str:
    """The database, set up once as a deployment would."""
    from threadloom.testing.embeddings import HashingEmbed

    with PostgresSaver.from_conn_string(pg_dsn) as saver:
        saver.setup()
    with PostgresStore.from_conn_string(
        pg_dsn, index={"dims": DIMS, "embed": HashingEmbed(DIMS)}
    ) as store:
        store.setup()
    return pg_dsn


def test_a_memory_written_on_one_host_is_recalled_on_another(
    hosts: list[ProcessPoolExecutor], shared_dsn: str
) -> None:
    """Host A stores a memory on thread 1; host B, on thread 2, recalls it for the same user."""
    a = (
        hosts[0]
        .submit(run_turns, shared_dsn, [("thread-1", "u1", "please remember my name is Bob")])
        .result()
    )
    b = hosts[1].submit(run_turns, shared_dsn, [("thread-2", "u1", "what is my name?")]).result()
    c = hosts[2].submit(run_turns, shared_dsn, [("thread-3", "u2", "what is my name?")]).result()
    assert len({a["pid"], b["pid"], c["pid"]}) == 3
    assert "my name is Bob" in b["replies"][0]
    assert "Bob" not in c["replies"][0]  # another user's memories stay theirs


def test_hosts_taking_turns_on_one_thread_keep_every_turn(
    hosts: list[ProcessPoolExecutor], shared_dsn: str
) -> None:
    """Three hosts run turns on one thread at once: every turn lands once, question then answer."""
    per_host = 6
    jobs = [
        pool.submit(
            run_turns, shared_dsn, [("shared", "u9", f"h{h} turn {n}") for n in range(per_host)]
        )
        for h, pool in enumerate(hosts)
    ]
    results: list[dict[str, Any]] = [job.result() for job in jobs]
    with PostgresSaver.from_conn_string(shared_dsn) as saver:
        state = saver.get_tuple({"configurable": {"thread_id": "shared"}})
        history = list(saver.list({"configurable": {"thread_id": "shared", "checkpoint_ns": ""}}))
    assert state is not None
    from threadloom.graph.message import MessagesState  # noqa: F401  (the state the hosts ran)

    msgs = _messages(state.checkpoint["channel_values"]["messages"])
    questions = [m.content for m in msgs if isinstance(m, HumanMessage)]
    assert sorted(questions) == sorted(f"h{h} turn {n}" for h in range(3) for n in range(per_host))
    for question, answer in zip(msgs[::2], msgs[1::2], strict=True):
        assert isinstance(question, HumanMessage) and isinstance(answer, AIMessage)
        assert str(answer.content).startswith(f"re: {question.content} |")
    for newer, older in itertools.pairwise(history):
        assert newer.parent_config is not None
        assert newer.parent_config["configurable"]["checkpoint_id"] == older.checkpoint["id"]
    print("conflicts retried:", sum(r["conflicts"] for r in results))


def _messages(value: Any) -> list[Any]:
    """The message list (a saver joins a channel stored as a delta chain)."""
    return list(value)
