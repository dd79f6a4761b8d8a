"""The ``threadloom`` command.

``threadloom demo`` runs the cross-thread memory scenario; ``threadloom chat``
is an interactive conversation that remembers users across threads and
restarts. ``threadloom memories export|import|reindex`` moves memories in
and out as JSON lines and re-embeds them; ``threadloom migrate SOURCE`` copies
a LangGraph database's threads and memories in; ``threadloom serve`` serves the
graphs of a ``langgraph.json`` over LangGraph's Agent Server HTTP API (with the web
inspector at ``/inspector``); ``threadloom inspect PATH_OR_DSN`` opens the inspector on
a database directly, read-only unless ``--write``. All keep their data in one SQLite file (``--db PATH``, else
``$THREADLOOM_DB``, else ``threadloom.db`` in the per-user data directory),
use the local embedding model, and talk to the offline stand-in model unless
``--model anthropic:<name>`` or ``--model openai:<name>`` names a real one.

Errors the user can fix print one line on stderr and exit non-zero (2 for a
bad command line, 1 otherwise); set ``THREADLOOM_DEBUG=1`` to see tracebacks.
"""

from threadloom.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
