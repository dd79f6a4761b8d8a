"""Fixtures of the inspector tests: a seeded SQLite world and in-process clients."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("jinja2")
pytest.importorskip("starlette")

# Appended, not put first: tests/server imports its own conftest by name.
sys.path.append(str(Path(__file__).parent))

from _world import World, world
from starlette.testclient import TestClient

from threadloom.inspector import create_inspector


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[World]:
    with world(tmp_path / "inspect.db") as w:
        yield w


@pytest.fixture
def client(seeded: World) -> Iterator[TestClient]:
    """A writable inspector on the seeded world, at the root path."""
    with TestClient(create_inspector(seeded.backends, writable=True)) as c:
        yield c


@pytest.fixture
def readonly(seeded: World) -> Iterator[TestClient]:
    with TestClient(create_inspector(seeded.backends)) as c:
        yield c
