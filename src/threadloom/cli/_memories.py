"""``threadloom memories export | import | reindex``: move memories in and out of the database.

``export`` writes a header line and one JSON line per item to stdout (or
``--output``), with each item's vectors under ``--vectors``; ``import`` reads
such lines from a file or stdin, all or nothing; ``reindex`` re-embeds every
item with the local model after a model change (timestamps kept). The format
is described in :mod:`threadloom.memory.export`. Each shows a progress bar on
stderr when it is a terminal, and a line with the count when done.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from threadloom.cli._errors import EXIT_USAGE, CliError
from threadloom.cli._paths import resolve_db_path
from threadloom.cli._progress import progress

__all__ = ["add_memories_parser", "run_memories"]


def add_memories_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``memories`` command and its ``export``/``import``/``reindex`` subcommands."""
    memories = commands.add_parser(
        "memories",
        help="export, import or re-embed the stored memories",
        description="Move memories in and out of the database as JSON lines, or re-embed them.",
    )
    actions = memories.add_subparsers(dest="memories_command", metavar="ACTION")
    actions.required = True
    export = actions.add_parser("export", help="write the memories as JSON lines")
    export.add_argument("--namespace", metavar="A/B", help="only this namespace prefix")
    export.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    export.add_argument(
        "--vectors",
        action="store_true",
        help="include each item's vectors (an import then needs no re-embedding)",
    )
    load = actions.add_parser("import", help="read memories from JSON lines")
    load.add_argument("file", metavar="FILE", help="the export to read ('-' for stdin)")
    reindex = actions.add_parser("reindex", help="re-embed the memories with the local model")
    reindex.add_argument("--namespace", metavar="A/B", help="only this namespace prefix")
    for parser in (export, load, reindex):
        parser.add_argument("--db", metavar="PATH", help="SQLite file (as for `threadloom chat`)")


def _prefix(raw: str | None) -> tuple[str, ...]:
    if not raw:
        return ()
    labels = tuple(raw.strip("/").split("/"))
    if not all(labels):
        raise CliError(f"--namespace {raw!r} has an empty label; write it as a/b", code=EXIT_USAGE)
    return labels


@contextmanager
def _opened(path: str, mode: str, default: IO[Any]) -> Iterator[IO[Any]]:
    if path == "-":
        yield default
        return
    try:
        with open(path, mode, encoding="utf-8") as handle:
            yield handle
    except OSError as exc:
        raise CliError(f"cannot open {path}: {exc.strerror}") from exc


def run_memories(args: argparse.Namespace) -> int:
    """Run one ``memories`` action on the database the arguments name."""
    # Imported here so `threadloom --help` does not load the store and the embedder.
    from threadloom.cli._app import open_backends
    from threadloom.memory.export import export_lines, import_memories, reindex_memories

    db_path = resolve_db_path(args.db, os.environ)
    with open_backends(db_path) as backends:
        store = backends.store
        if args.memories_command == "export":
            with (
                _opened(args.output or "-", "w", sys.stdout) as out,
                counting("exporting", "exported") as report,
            ):
                prefix = _prefix(args.namespace)
                for line in export_lines(store, prefix, vectors=args.vectors, progress=report):
                    out.write(line + "\n")
        elif args.memories_command == "import":
            with (
                _opened(args.file, "r", sys.stdin) as source,
                counting("importing", "imported") as report,
            ):
                import_memories(store, source, progress=report)
        else:
            with counting("re-embedding", "re-embedded") as report:
                reindex_memories(store, _prefix(args.namespace), progress=report)
    return 0


@contextmanager
def counting(
    description: str,
    done_verb: str,
    *,
    stream: IO[str] | None = None,
    enabled: bool | None = None,
) -> Iterator[Callable[[int], None]]:
    """A progress bar fed with running totals (what the memory functions report).

    When the work ends, one line says how many items it handled (on a terminal
    or not), e.g. ``exported 2 memories``.
    """
    out = sys.stderr if stream is None else stream
    done = 0
    with progress(description, unit="memory", stream=out, enabled=enabled) as bar:

        def report(count: int) -> None:
            nonlocal done
            bar.advance(count - done)
            done = count

        yield report
    print(f"{done_verb} {done} memories", file=out)
