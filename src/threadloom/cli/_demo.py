"""``threadloom demo``: the cross-thread memory guide's scenario, run for real.

User 1 tells the assistant their name in thread 1 and asks for it in
thread 2; user 1's memories are printed; user 2 asks in thread 3 and is not
told. Every run gets a fresh run id, and the users and threads of a run are
named after it (``demo-<run>-user-1``, ``demo-<run>-thread-1``, ...): the
memories of earlier runs stay in the database but never leak into a new run,
so each run shows the guide's outcome. It ends with the ``chat`` command
that picks up user 1's memories, spelled the way this command was started.
"""

from __future__ import annotations

import argparse
import os
import uuid
from typing import Any

from threadloom.cli._launcher import shell_command
from threadloom.cli._models import describe_model, load_chat_model
from threadloom.cli._paths import MEMORY_DB, resolve_db_path

__all__ = ["run_demo"]


def _rule(title: str) -> None:
    print(f"\n--- {title} " + "-" * max(0, 70 - len(title)))


def _turn(graph: Any, *, thread_id: str, user_id: str, content: str) -> None:
    """One turn, printed as the guide prints it: the last message of each `values` chunk."""
    config = {"configurable": {"thread_id": thread_id, "user_id": user_id}}
    input_message = {"role": "user", "content": content}
    for chunk in graph.stream({"messages": [input_message]}, config, stream_mode="values"):
        chunk["messages"][-1].pretty_print()


def run_demo(args: argparse.Namespace) -> int:
    """Run the guide's scenario on the embedded defaults and print the conversation."""
    model = load_chat_model(args.model, os.environ)
    db_path = resolve_db_path(args.db, os.environ)
    run = uuid.uuid4().hex[:8]
    user_1, user_2 = f"demo-{run}-user-1", f"demo-{run}-user-2"
    # Imported after the cheap checks so a bad flag is reported before the graph loads.
    from threadloom.cli._app import build_graph, open_backends, user_namespace

    with open_backends(db_path, allow_foreign_tables=args.allow_foreign_tables) as backends:
        graph = build_graph(model, checkpointer=backends.checkpointer, store=backends.store)
        print(f"threadloom demo, run {run}")
        print(f"  database: {backends.location}")
        print("  embedder: local all-MiniLM-L6-v2 (384 dims)")
        print(f"  model:    {describe_model(args.model)}")

        _rule(f"thread 1, {user_1}: tell the assistant a name to remember")
        _turn(graph, thread_id=f"demo-{run}-thread-1", user_id=user_1,
              content="Hi! Remember: my name is Bob")

        _rule(f"thread 2, {user_1}: a new thread recalls the memory")
        _turn(graph, thread_id=f"demo-{run}-thread-2", user_id=user_1, content="what is my name?")

        _rule(f"memories stored for {user_1}")
        for memory in backends.store.search(user_namespace(user_1)):
            print(memory.value)

        _rule(f"thread 3, {user_2}: another user's memories stay separate")
        _turn(graph, thread_id=f"demo-{run}-thread-3", user_id=user_2, content="what is my name?")

    if db_path == MEMORY_DB:
        print("\nNothing was kept (--db :memory:).")
    else:
        print(f"\nThe memories are kept in {db_path}; continue as user 1 with:")
        words = ["chat", "--user", user_1]
        if args.db is not None:
            words += ["--db", args.db]
        print(f"  {shell_command(words)}")
    return 0
