"""Every engine test that takes ``client`` runs twice: through the sync API and the async one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from threadloom.checkpoint.memory import InMemorySaver
from threadloom.checkpoint.sqlite import SqliteSaver
from threadloom.testing.graph import FLAVOURS, GraphClient


@pytest.fixture(params=FLAVOURS)
def client(request: pytest.FixtureRequest) -> GraphClient:
    """The graph API in one flavour: ``invoke``/``stream``/... or ``ainvoke``/``astream``/...."""
    return GraphClient(request.param)


@pytest.fixture(params=["memory", "sqlite"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A checkpointer for tests that take ``saver``: in memory, and on a real SQLite file."""
    if request.param == "memory":
        yield InMemorySaver()
        return
    with SqliteSaver.from_conn_string(str(tmp_path / "threads.db")) as found:
        yield found
