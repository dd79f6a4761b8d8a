"""The ``threadloom`` command line: its parser and ``main()``.

What each command does is described in the package docstring of :mod:`threadloom.cli`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from threadloom import __version__
from threadloom.cli._errors import EXIT_ERROR, CliError

__all__ = ["build_parser", "main"]

DEBUG_ENV = "THREADLOOM_DEBUG"


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="PATH",
        help="SQLite file for memories and threads (default: $THREADLOOM_DB, else "
        "threadloom.db in $XDG_DATA_HOME/threadloom or ~/.local/share/threadloom; "
        "':memory:' keeps nothing)",
    )
    parser.add_argument(
        "--allow-foreign-tables",
        action="store_true",
        help="use a SQLite file that also holds another application's tables (refused "
        "otherwise, so that threadloom never takes over a database by mistake)",
    )
    parser.add_argument(
        "--model",
        default="offline",
        metavar="SPEC",
        help="chat model: 'offline' (default; a stand-in that needs no key), "
        "'anthropic:<name>' or 'openai:<name>'",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``threadloom`` command."""
    parser = argparse.ArgumentParser(
        prog="threadloom",
        description="Stateful LLM conversations that remember users across threads.",
    )
    parser.add_argument("--version", action="version", version=f"threadloom {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    demo = commands.add_parser(
        "demo",
        help="run the cross-thread memory demo",
        description="Run the cross-thread memory scenario: user 1 gives a name in one thread "
        "and is recalled in another; user 2 is not. Each run uses fresh users and threads.",
    )
    _add_common(demo)

    chat = commands.add_parser(
        "chat",
        help="chat interactively; memories persist across threads and restarts",
        description="Chat in a REPL. Each line is a turn; /memories, /threads, /help, /quit.",
    )
    chat.add_argument(
        "--user", metavar="U", help="whose memories to use (default: your login name)"
    )
    chat.add_argument(
        "--thread", metavar="T", help="conversation thread to resume or start (default: a new one)"
    )
    _add_common(chat)

    from threadloom.cli._memories import add_memories_parser

    add_memories_parser(commands)

    from threadloom.cli._migrate import add_migrate_parser

    add_migrate_parser(commands)

    from threadloom.cli._serve import add_serve_parser

    add_serve_parser(commands)

    from threadloom.cli._inspect import add_inspect_parser

    add_inspect_parser(commands)
    for sub in commands.choices.values():
        sub.set_defaults(subparser=sub)  # main() reports a command's bad flags with its usage
    return parser


def _fail(message: str, code: int = EXIT_ERROR) -> int:
    print(f"threadloom: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    try:
        parser = build_parser()
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            # argparse reports these with the top-level usage; after the command word,
            # the sub-command's usage is the one that helps.
            _owner(parser, args, sys.argv[1:] if argv is None else argv, unknown).error(
                f"unrecognized arguments: {' '.join(unknown)}"
            )
    except SystemExit as exc:  # argparse already printed usage and the problem
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    try:
        # Imported here so `threadloom --help` stays fast and works even if a backend is broken.
        if args.command == "demo":
            from threadloom.cli._demo import run_demo

            return run_demo(args)
        if args.command == "memories":
            from threadloom.cli._memories import run_memories

            return run_memories(args)
        if args.command == "migrate":
            from threadloom.cli._migrate import run_migrate

            return run_migrate(args)
        if args.command == "serve":
            from threadloom.cli._serve import run_serve

            return run_serve(args)
        if args.command == "inspect":
            from threadloom.cli._inspect import run_inspect

            return run_inspect(args)
        from threadloom.cli._chat import run_chat

        return run_chat(args)
    except CliError as exc:
        return _fail(str(exc), exc.code)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `threadloom demo | head`); stop quietly.
        sys.stderr.close()
        return EXIT_ERROR
    except Exception as exc:
        if os.environ.get(DEBUG_ENV):
            raise
        return _fail(f"{_describe(exc)} (set {DEBUG_ENV}=1 for the traceback)")


def _owner(
    parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    words: Sequence[str],
    unknown: list[str],
) -> argparse.ArgumentParser:
    """The parser whose usage fits the first unknown argument: the command's, once it is named."""
    words = list(words)
    named = args.command in words and unknown[0] in words
    if named and words.index(args.command) < words.index(unknown[0]):
        sub: argparse.ArgumentParser = getattr(args, "subparser", parser)
        return sub
    return parser


def _describe(exc: BaseException) -> str:
    """One line for an unexpected error: threadloom's own errors speak for themselves."""
    from threadloom.errors import ThreadloomError

    if isinstance(exc, ImportError) and not isinstance(exc, ModuleNotFoundError):
        return str(exc).replace("\n", " ")
    if isinstance(exc, ThreadloomError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
