"""Where the command keeps its data: one SQLite file for memories and threads.

The file is, in order of precedence: ``--db PATH``, the ``THREADLOOM_DB``
environment variable, or ``threadloom.db`` in the per-user data directory
(``$XDG_DATA_HOME/threadloom``, else ``~/.local/share/threadloom``).
``:memory:`` keeps everything in memory and nothing on disk.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from threadloom.cli._errors import CliError

__all__ = ["DB_ENV", "DB_FILENAME", "MEMORY_DB", "default_data_dir", "resolve_db_path"]

DB_ENV = "THREADLOOM_DB"
DB_FILENAME = "threadloom.db"
MEMORY_DB = ":memory:"


def default_data_dir(env: Mapping[str, str]) -> Path:
    """The per-user data directory, following the XDG base directory rules."""
    xdg = env.get("XDG_DATA_HOME", "")
    # The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "threadloom"
    return Path.home() / ".local" / "share" / "threadloom"


def resolve_db_path(arg: str | None, env: Mapping[str, str]) -> str:
    """The database to use, checked to be usable; a :class:`CliError` says why not.

    An explicit path (flag or environment) must sit in an existing, writable
    directory; the default data directory is created when missing.
    """
    if arg is not None:
        return _checked(arg, "--db")
    if env.get(DB_ENV):
        return _checked(env[DB_ENV], DB_ENV)
    folder = default_data_dir(env)
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise CliError(
            f"cannot create the data directory {folder}: {exc.strerror}; "
            f"choose another place with --db PATH or {DB_ENV}"
        ) from exc
    return _checked(str(folder / DB_FILENAME), "the default database")


def _checked(raw: str, source: str) -> str:
    """Check that ``raw`` can hold a SQLite database and return it as a path string."""
    if raw == MEMORY_DB:
        return raw
    if not raw.strip():
        raise CliError(f"{source} is empty; give a file path", code=2)
    path = Path(raw).expanduser()
    if path.is_dir():
        raise CliError(f"{source} {path} is a directory; give a file path inside it")
    folder = path.parent
    if not folder.exists():
        raise CliError(f"cannot use {source} {path}: the directory {folder} does not exist")
    if not folder.is_dir():
        raise CliError(f"cannot use {source} {path}: {folder} is not a directory")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise CliError(f"cannot use {source} {path}: the file is not readable and writable")
    _probe_writable(folder, f"cannot use {source} {path}")
    return str(path)


def _probe_writable(folder: Path, context: str) -> None:
    """Create and remove a file in ``folder``: SQLite's WAL needs to write next to the database.

    A real write is the only reliable test: ``os.access`` says yes to root on
    read-only mounts and pseudo file systems.
    """
    probe = folder / f".threadloom-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as exc:
        raise CliError(f"{context}: the directory {folder} is not writable ({exc.strerror})") from exc
    os.close(fd)
    probe.unlink(missing_ok=True)
