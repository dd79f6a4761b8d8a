"""The official langgraph-sdk clients, sync and async, against a live server on SQLite."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from _scenarios import SYNC_SCENARIOS, async_client  # type: ignore[import-not-found]


@pytest.mark.parametrize("scenario", SYNC_SCENARIOS, ids=lambda f: f.__name__)
def test_sync_client(url: str, scenario: Callable[[str], None]) -> None:
    """Each area of the API behaves as the sync client expects."""
    scenario(url)


async def test_async_client(url: str) -> None:
    """The async client works over the same routes."""
    await async_client(url)
