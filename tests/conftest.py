"""Shared test configuration. Backend-specific fixtures live next to their tests."""

from __future__ import annotations

import os

import pytest

from threadloom.testing.graph import FLAVOURS, GraphClient

# Tests never reach a model hub: everything they use ships in installed packages.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(params=FLAVOURS)
def client(request: pytest.FixtureRequest) -> GraphClient:
    """The graph API in one flavour: sync (``invoke``/``stream``/...) or async (``ainvoke``/...)."""
    return GraphClient(request.param)
