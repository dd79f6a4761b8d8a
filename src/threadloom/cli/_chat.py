"""``threadloom chat``: an interactive conversation that remembers across restarts.

Each input line is one turn on the thread. Memories are kept per user, so a
new thread (the default on every start) still knows what the user asked the
assistant to remember before. Commands: ``/memories``, ``/threads``,
``/help``, ``/quit``.

Threads belong to the user who started them (``user_id`` in each
checkpoint's metadata): ``/threads`` lists only the user's own, and
``--thread`` refuses another user's thread. This keeps users apart in the
command; it is not access control, since anyone who can read the file can
read every thread in it.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import sys
import uuid
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, AIMessageChunk

from threadloom.cli._errors import EXIT_USAGE, CliError
from threadloom.cli._launcher import shell_command
from threadloom.cli._models import describe_model, load_chat_model
from threadloom.cli._paths import MEMORY_DB, resolve_db_path

if TYPE_CHECKING:
    from threadloom.cli._app import Backends

__all__ = ["run_chat"]

HELP = """commands:
  /memories   list what is remembered about this user
  /threads    list your conversation threads in this database
  /help       show this help
  /quit       leave (Ctrl-D works too)
anything else is a message to the assistant; say "remember: ..." to store a memory"""

_MEMORY_LIST_LIMIT = 100

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C, as shells report a SIGINT."""


def _check_label(value: str, flag: str) -> str:
    """Reject ids the store cannot use as a namespace label."""
    value = value.strip()
    if not value:
        raise CliError(f"{flag} must not be empty", code=EXIT_USAGE)
    if "." in value:
        raise CliError(f"{flag} {value!r} must not contain '.'", code=EXIT_USAGE)
    return value


def _default_user() -> str:
    try:
        return getpass.getuser() or "user"
    except Exception:  # no login name (e.g. a container without a passwd entry)
        return "user"


class _Session:
    """One chat session: a user, a thread and the compiled graph."""

    def __init__(self, graph: Any, backends: Backends, *, user: str, thread: str) -> None:
        self.graph = graph
        self.backends = backends
        self.user = user
        self.thread = thread
        self.config = {"configurable": {"thread_id": thread, "user_id": user}}

    def message_count(self) -> int:
        snapshot = self.graph.get_state(self.config)
        return len((snapshot.values or {}).get("messages", []))

    def memories(self) -> list[str]:
        from threadloom.cli._app import user_namespace

        items = self.backends.store.search(user_namespace(self.user), limit=_MEMORY_LIST_LIMIT)
        return [str(item.value.get("data", item.value)) for item in items]

    def thread_ids(self) -> list[str]:
        """This user's threads: those whose checkpoints carry their ``user_id``."""
        seen: dict[str, None] = {}
        for checkpoint in self.backends.checkpointer.list(None, filter={"user_id": self.user}):
            seen.setdefault(str(checkpoint.config["configurable"]["thread_id"]), None)
        return sorted(seen)

    def check_owner(self) -> None:
        """Refuse to resume a thread that another user (or another program) started."""
        latest = self.backends.checkpointer.get_tuple({"configurable": {"thread_id": self.thread}})
        if latest is None:
            return
        owner = (latest.metadata or {}).get("user_id")
        if owner == self.user:
            return
        whose = "another user" if owner is not None else "no user (it was not written by threadloom chat)"
        raise CliError(
            f"thread {self.thread!r} belongs to {whose}; threads are per user: "
            "omit --thread to start a new one, or list yours with /threads",
            code=EXIT_USAGE,
        )

    def turn(self, text: str) -> None:
        """Send ``text`` and print the reply as its tokens arrive."""
        print("assistant> ", end="", flush=True)
        printed = False
        inputs = {"messages": [{"role": "user", "content": text}]}
        for message, _meta in self.graph.stream(inputs, self.config, stream_mode="messages"):
            is_ai = isinstance(message, (AIMessageChunk, AIMessage))
            if is_ai and isinstance(message.content, str) and message.content:
                print(message.content, end="", flush=True)
                printed = True
        if not printed:
            # A model that does not stream: show the reply from the thread's state.
            messages = self.graph.get_state(self.config).values.get("messages", [])
            if messages:
                print(messages[-1].content, end="")
        print(flush=True)


def _command(session: _Session, line: str) -> bool:
    """Run a slash command; return False when the session should end."""
    name = line.split()[0].lower()
    if name in ("/quit", "/exit"):
        return False
    if name == "/help":
        print(HELP)
    elif name == "/memories":
        memories = session.memories()
        if not memories:
            print(f"(no memories for user {session.user} yet)")
        for memory in memories:
            print(f"- {memory}")
    elif name == "/threads":
        print(f"threads of user {session.user} (* this one):")
        ids = session.thread_ids()
        if session.thread not in ids:
            ids.append(session.thread)
        for thread in ids:
            print(f"{'*' if thread == session.thread else ' '} {thread}")
    else:
        print(f"unknown command {name}; try /help")
    return True


def run_chat(args: argparse.Namespace) -> int:
    """Run the interactive chat loop until /quit or end of input."""
    model = load_chat_model(args.model, os.environ)
    user = _check_label(args.user if args.user is not None else _default_user(), "--user")
    thread = args.thread if args.thread is not None else f"chat-{uuid.uuid4().hex[:8]}"
    thread = _check_label(thread, "--thread")
    db_path = resolve_db_path(args.db, os.environ)
    interactive = sys.stdin.isatty()
    if interactive:
        with contextlib.suppress(ImportError):  # line editing and history where available
            import readline  # noqa: F401
    # Imported after the cheap checks so a bad flag is reported before the graph loads.
    from threadloom.cli._app import build_graph, open_backends

    with open_backends(db_path, allow_foreign_tables=args.allow_foreign_tables) as backends:
        graph = build_graph(model, checkpointer=backends.checkpointer, store=backends.store)
        session = _Session(graph, backends, user=user, thread=thread)
        session.check_owner()
        count = session.message_count()
        state = f"resumed, {count} messages" if count else "new"
        print(f"threadloom chat: user {user}, thread {thread} ({state})")
        print(f"  database: {backends.location}")
        print(f"  model:    {describe_model(args.model)}")
        known = len(session.memories())
        noun = "memory" if known == 1 else "memories"
        print(f"  {known} {noun} about {user}. Type /help for commands, /quit to leave.")
        try:
            _loop(session, interactive=interactive)
        except KeyboardInterrupt:
            # Ctrl-C leaves like Ctrl-D does, with the way back, but reports the interrupt.
            print()
            _goodbye(args, db_path, user=user, thread=thread)
            return EXIT_INTERRUPTED
    _goodbye(args, db_path, user=user, thread=thread)
    return 0


def _loop(session: _Session, *, interactive: bool) -> None:
    """Read lines until /quit or end of input; each line is a command or a turn."""
    while True:
        try:
            line = input("you> ")
        except EOFError:
            print()
            return
        if not interactive:
            print(line)  # echo piped input so the transcript reads like a conversation
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            if not _command(session, line):
                return
            continue
        try:
            session.turn(line)
        except Exception as exc:  # a failed model call must not end the session
            print(f"\nerror: the turn failed: {type(exc).__name__}: {exc}", file=sys.stderr)


def _goodbye(args: argparse.Namespace, db_path: str, *, user: str, thread: str) -> None:
    """Say how to come back: a command that works pasted where the user stands."""
    if db_path == MEMORY_DB:
        print("bye. Nothing was kept (--db :memory:).")
        return
    words = ["chat", "--user", user, "--thread", thread]
    if args.db is not None:
        words += ["--db", args.db]
    print(f"bye. Resume this thread with: {shell_command(words)}", flush=True)
