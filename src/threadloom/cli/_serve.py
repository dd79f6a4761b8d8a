"""``threadloom serve``: the agent server that the ``langgraph-sdk`` client talks to."""

from __future__ import annotations

import argparse
import os

from threadloom.cli._errors import EXIT_USAGE, CliError

__all__ = ["add_serve_parser", "run_serve"]


def add_serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` command."""
    parser = commands.add_parser(
        "serve",
        help="serve graphs over LangGraph's Agent Server HTTP API (needs threadloom[server])",
        description="Serve the graphs of a langgraph.json config with threadloom's persistence. "
        "Auth is off on loopback and required on any other address. The web inspector "
        "is at /inspector.",
    )
    parser.add_argument(
        "--config",
        default="langgraph.json",
        metavar="PATH",
        help="the config (default: langgraph.json)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=2024, help="port (default: 2024)")
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite file for threads, runs and the store (default: $THREADLOOM_DB, else threadloom.db)",
    )
    parser.add_argument(
        "--postgres",
        metavar="DSN",
        help="keep everything in PostgreSQL instead (several servers may share it)",
    )
    parser.add_argument(
        "--workers", type=int, default=8, help="threads that execute runs (default: 8)"
    )


def run_serve(args: argparse.Namespace) -> int:
    """Run the server until interrupted."""
    try:
        from threadloom.server import serve
    except ImportError as exc:
        raise CliError(str(exc)) from exc
    if args.db and args.postgres:
        raise CliError("give --db or --postgres, not both", code=EXIT_USAGE)
    if not os.path.exists(args.config):
        raise CliError(f"no config at {args.config} (give --config PATH)", code=EXIT_USAGE)
    serve(
        args.config,
        host=args.host,
        port=args.port,
        database=args.db or os.environ.get("THREADLOOM_DB") or "threadloom.db",
        postgres=args.postgres,
        workers=args.workers,
    )
    return 0
