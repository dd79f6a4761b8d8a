"""A live server on loopback, started per test with the backend and auth the test asks for."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette")
pytest.importorskip("langgraph_sdk")

sys.path.insert(0, str(Path(__file__).parent))  # _live and _scenarios, also for tests/postgres

from _live import HERE, graph_specs, running

from threadloom.server import ServerConfig, create_app

Serve = Callable[..., str]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """``serve(**config)`` starts a server on a SQLite file in tmp_path; returns its URL."""
    with ExitStack() as stack:

        def start(*, database: str | None = None, **config: Any) -> str:
            config.setdefault("graphs", graph_specs())
            app = create_app(
                ServerConfig(base_dir=HERE, **config),
                database=database or str(tmp_path / "server.db"),
                workers=4,
            )
            return stack.enter_context(running(app))

        yield start


@pytest.fixture
def url(serve: Serve) -> str:
    """A server with the test graphs on a fresh SQLite file, auth off."""
    return serve()
