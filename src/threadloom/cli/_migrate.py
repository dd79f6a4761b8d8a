"""``threadloom migrate SOURCE``: copy a LangGraph database into threadloom's."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from typing import IO, Any

from threadloom.cli._errors import CliError
from threadloom.cli._paths import resolve_db_path
from threadloom.cli._progress import progress

__all__ = ["add_migrate_parser", "run_migrate"]

_LOCAL_DIMS = 384


def add_migrate_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``migrate`` command."""
    parser = commands.add_parser(
        "migrate",
        help="copy a LangGraph database (threads and memories) into threadloom",
        description="Copy LangGraph's checkpoints, pending writes and store items into "
        "threadloom, in batches. The source is only read. An interrupted run continues "
        "where it stopped when run again.",
    )
    parser.add_argument(
        "source", metavar="SOURCE", help="LangGraph SQLite file or postgresql:// URL"
    )
    parser.add_argument(
        "--db",
        metavar="TARGET",
        help="threadloom SQLite file or postgresql:// URL (default: as for `threadloom chat`)",
    )
    parser.add_argument(
        "--embed",
        default="local",
        metavar="SPEC",
        help="embedder of the target store, for texts whose vectors cannot be reused "
        "(default: local)",
    )
    parser.add_argument(
        "--dims", type=int, metavar="N", help="its dimensions (default: 384 for local)"
    )
    parser.add_argument("--batch-size", type=int, default=200, metavar="N")
    parser.add_argument(
        "--skip-pickle",
        action="store_true",
        help="leave out checkpoints holding pickled values instead of stopping (never unpickled)",
    )


def _progress(stream: IO[str] | None = None, enabled: bool | None = None) -> Any:
    """One bar per part (checkpoints, then items): the only place that knows how bars look."""
    bars: dict[str, Any] = {}
    done: dict[str, int] = {}
    stack = ExitStack()

    def show(part: str, count: int, total: int) -> None:
        if part not in bars:
            stack.close()  # the previous part's bar is complete
            bars[part] = stack.enter_context(progress(f"migrating {part}", total=total, stream=stream, enabled=enabled))
            done[part] = 0
        bars[part].advance(count - done[part])
        done[part] = count

    def finish() -> None:
        stack.close()

    return show, finish


def run_migrate(args: argparse.Namespace) -> int:
    """Run one migration and print what it did."""
    from threadloom.migrate import migrate

    if args.dims is None and args.embed != "local":
        raise CliError("--dims is needed with an --embed other than 'local'")
    target = args.db
    if not (target or "").startswith(("postgres://", "postgresql://")):
        target = resolve_db_path(args.db, os.environ)
    index: Any = {"embed": args.embed, "dims": args.dims or _LOCAL_DIMS}
    show, finish = _progress()
    try:
        report = migrate(
            args.source,
            target,
            index=index,
            batch_size=args.batch_size,
            skip_pickle=args.skip_pickle,
            progress=show,
        )
    finally:
        finish()
    print(
        f"migrated {report.checkpoints} checkpoints ({report.writes} pending writes) and "
        f"{report.items} store items into {target}"
        + (" (continued an earlier run)" if report.resumed else "")
    )
    if report.vectors_reused or report.vectors_embedded:
        print(f"vectors: {report.vectors_reused} reused, {report.vectors_embedded} embedded again")
    if report.skipped_pickle:
        print(
            f"left out {report.skipped_pickle} checkpoints holding pickled values", file=sys.stderr
        )
    return 0
