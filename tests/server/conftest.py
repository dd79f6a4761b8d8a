"""A live server on loopback, started per test with the backend and auth the test asks for."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("langgraph_sdk")

sys.path.insert(0, str(Path(__file__).parent))  # _live and _scenarios, also for tests/postgres

from _live import HERE, Serve, graph_specs, running

from threadloom.server import ServerConfig, create_app

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Where the server keeps everything: a SQLite file, or the session's PostgreSQL."""
    return str(request.param)


def _starter(tmp_path: Path, stack: ExitStack, postgres: str | None) -> Serve:
    def start(*, database: str | None = None, **config: Any) -> str:
        config.setdefault("graphs", graph_specs())
        app = create_app(
            ServerConfig(base_dir=HERE, **config),
            database=None if postgres else database or str(tmp_path / "server.db"),
            postgres=postgres,
            workers=4,
        )
        return stack.enter_context(running(app))

    return start


@pytest.fixture
def serve(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Serve]:
    """``serve(**config)`` starts a server on ``backend`` (a fresh schema on PostgreSQL)."""
    postgres = request.getfixturevalue("pg_dsn") if backend == "postgres" else None
    with ExitStack() as stack:
        yield _starter(tmp_path, stack, postgres)


@pytest.fixture
def url(serve: Serve) -> str:
    """A server with the test graphs on a fresh database, auth off."""
    return serve()
