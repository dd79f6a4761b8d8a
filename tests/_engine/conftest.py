"""Every engine test that takes ``client`` runs twice: through the sync API and the async one."""

from __future__ import annotations

import pytest

from threadloom.testing.graph import FLAVOURS, GraphClient


@pytest.fixture(params=FLAVOURS)
def client(request: pytest.FixtureRequest) -> GraphClient:
    """The graph API in one flavour: ``invoke``/``stream``/... or ``ainvoke``/``astream``/...."""
    return GraphClient(request.param)
