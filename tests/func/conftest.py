"""Functional-API tests run through the sync API and the async one (``client``)."""

from __future__ import annotations

import pytest

from threadloom.testing.graph import FLAVOURS, GraphClient


@pytest.fixture(params=FLAVOURS)
def client(request: pytest.FixtureRequest) -> GraphClient:
    """The graph API in one flavour."""
    return GraphClient(request.param)
