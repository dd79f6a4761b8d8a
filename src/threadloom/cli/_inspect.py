"""``threadloom inspect PATH_OR_DSN``: the web inspector on a database, read-only unless ``--write``."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from typing import Any

from threadloom.cli._errors import EXIT_USAGE, CliError

__all__ = ["add_inspect_parser", "open_inspector", "run_inspect"]


def add_inspect_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``inspect`` command."""
    parser = commands.add_parser(
        "inspect",
        help="browse a database's threads and memories in the web inspector (needs threadloom[server])",
        description="Serve the web inspector on a SQLite file or a PostgreSQL DSN. Read-only "
        "unless --write; give --config to resume and fork threads with your graphs.",
    )
    parser.add_argument("database", metavar="PATH_OR_DSN", help="SQLite file or postgresql:// DSN")
    parser.add_argument(
        "--write", action="store_true", help="allow edits, deletes, resumes and forks"
    )
    parser.add_argument("--config", metavar="PATH", help="a langgraph.json whose graphs to load")
    parser.add_argument(
        "--embed",
        metavar="SPEC",
        help="embedder for search, e.g. 'local' (default: the config's store.index, else none)",
    )
    parser.add_argument(
        "--dims", type=int, default=384, help="the embedder's dimensions (default: 384)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=2025, help="port (default: 2025)")


def _index(args: argparse.Namespace, config: Any) -> Any:
    from threadloom.embeddings import init_embeddings

    if args.embed:
        return {"dims": args.dims, "embed": init_embeddings(args.embed)}
    index = dict(config.store_index) if config is not None and config.store_index else None
    if index and isinstance(index.get("embed"), str):
        index["embed"] = init_embeddings(index["embed"])
    return index


@contextlib.contextmanager
def open_inspector(args: argparse.Namespace) -> Iterator[Any]:
    """The inspector app over ``args.database`` (closed on exit)."""
    try:
        from threadloom.inspector import SERVER_THREADS, Backends, create_inspector
        from threadloom.server import load_config
        from threadloom.server._config import load_graph
    except ImportError as exc:
        raise CliError(str(exc)) from exc
    from pathlib import Path

    config = None
    if args.config:
        if not os.path.exists(args.config):
            raise CliError(f"no config at {args.config}", code=EXIT_USAGE)
        config = load_config(Path(args.config))
    index = _index(args, config)
    dsn = args.database
    store: Any
    saver: Any
    with contextlib.ExitStack() as stack:
        if dsn.startswith(("postgres://", "postgresql://")):
            from threadloom.checkpoint.postgres import PostgresSaver
            from threadloom.store.postgres import PostgresStore

            store = stack.enter_context(PostgresStore.from_conn_string(dsn, index=index))
            saver = stack.enter_context(PostgresSaver.from_conn_string(dsn))
        else:
            if not os.path.exists(dsn):
                raise CliError(f"no database at {dsn}", code=EXIT_USAGE)
            if os.path.getsize(dsn) == 0 and not args.write:
                raise CliError(f"{dsn} is empty: nothing to inspect", code=EXIT_USAGE)
            from threadloom.checkpoint.sqlite import SqliteSaver
            from threadloom.store.sqlite import SqliteStore

            store = stack.enter_context(SqliteStore.from_conn_string(dsn, index=index))
            saver = stack.enter_context(SqliteSaver.from_conn_string(dsn))
        if args.write:  # setup() may migrate or index the file: only when changes are allowed
            store.setup()
            saver.setup()
        graphs = {}
        if config is not None:
            graphs = {
                graph_id: load_graph(spec, config.base_dir, checkpointer=saver, store=store)
                for graph_id, spec in config.graphs.items()
            }
        records = SERVER_THREADS if store.search(SERVER_THREADS, limit=1) else None
        yield create_inspector(
            Backends(checkpointer=saver, store=store, graphs=graphs, threads=records),
            writable=args.write,
        )


def run_inspect(args: argparse.Namespace) -> int:
    """Serve the inspector until interrupted."""
    try:
        import uvicorn
    except ImportError as exc:
        raise CliError(
            "threadloom inspect needs the server extra: pip install 'threadloom[server]'"
        ) from exc
    with open_inspector(args) as app:
        mode = "read-write" if args.write else "read-only"
        print(f"threadloom inspector ({mode}) on http://{args.host}:{args.port}/", flush=True)
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
